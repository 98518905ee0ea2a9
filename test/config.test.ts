import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('configuration', () => {
  it('defaults to the embedded gateway on port 4000', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.trinoUrl).toBeUndefined();
    expect(config.kafkaBrokers).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'not a url', DEMO_SCALE: '-1', DEMO_ANCHOR: 'yesterday' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('PORT');
    expect(message).toContain('REDIS_URL');
  });

  it('rejects non-positive sizes', () => {
    expect(() => loadConfig({ DEMO_SCALE: '0', MAX_PAGE_SIZE: '-3' })).toThrow(/DEMO_SCALE[\s\S]*MAX_PAGE_SIZE/);
  });

  it('takes the HTTP timeouts, 0 turning one off, and refuses a headers bound past the request bound', () => {
    expect(loadConfig({}).httpTimeouts).toEqual({ headersMs: 10_000, requestMs: 30_000, keepAliveMs: 65_000, idleMs: 120_000 });
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '0', HTTP_IDLE_TIMEOUT_MS: '0' }).httpTimeouts).toMatchObject({ requestMs: 0, idleMs: 0 });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_IDLE_TIMEOUT_MS: '-1' })).toThrow(
      /HTTP_IDLE_TIMEOUT_MS: must be an integer ≥ 0[\s\S]*HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS \(1000\), got 5000/,
    );
  });

  it('splits the Kafka broker list', () => {
    expect(loadConfig({ KAFKA_BROKERS: 'a:9092, b:9092' }).kafkaBrokers).toEqual(['a:9092', 'b:9092']);
  });

  it('takes Iceberg housekeeping settings as Trino literals and names a bad one', () => {
    expect(loadConfig({}).housekeeping).toEqual({ intervalMs: 3_600_000, fileSizeThreshold: '128MB', snapshotRetention: '7d', orphanFileRetention: '7d' });
    expect(loadConfig({ ICEBERG_SNAPSHOT_RETENTION: '36h', ICEBERG_COMPACT_FILE_SIZE: '1GB' }).housekeeping).toMatchObject({ snapshotRetention: '36h', fileSizeThreshold: '1GB' });
    expect(() => loadConfig({ ICEBERG_SNAPSHOT_RETENTION: "7d') --", ICEBERG_COMPACT_FILE_SIZE: 'big' })).toThrow(/ICEBERG_COMPACT_FILE_SIZE[\s\S]*ICEBERG_SNAPSHOT_RETENTION|ICEBERG_SNAPSHOT_RETENTION[\s\S]*ICEBERG_COMPACT_FILE_SIZE/);
  });
});
