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

  it('splits the Kafka broker list', () => {
    expect(loadConfig({ KAFKA_BROKERS: 'a:9092, b:9092' }).kafkaBrokers).toEqual(['a:9092', 'b:9092']);
  });
});
