import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bootstrap } from '../../scripts/bootstrap.ts';
import { loadConfig } from '../../src/config.ts';
import { startClickHouse, type ClickHouseServer } from './clickhouse-server.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from './gateway.ts';
import { startKafkaMock, type KafkaMock } from './kafka-mock.ts';
import { findBinary } from './peers.ts';
import { startRedis, type RedisPeer } from './redis-server.ts';

/** Binaries the production-engine gateway needs; the first missing one, if any. */
export const ENGINE_PEERS = ['clickhouse-server', 'redis-server', 'kcat'] as const;
export const missingEnginePeer = (): string | undefined => ENGINE_PEERS.find((binary) => !findBinary(binary));

/** A test gateway with ClickHouse, Redis and Kafka (real peers) and its peers, stopped together. */
export interface EngineGateway extends TestGateway {
  clickhouse: ClickHouseServer;
  redis: RedisPeer;
  kafka: KafkaMock;
}

/**
 * Starts ClickHouse, Redis and librdkafka's mock Kafka cluster, bootstraps ClickHouse from the
 * embedded demo lakehouse (as `npm run bootstrap` does), and starts a gateway with all three
 * configured at once.
 */
export async function startEngineGateway(env: Record<string, string> = {}): Promise<EngineGateway> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-engines-'));
  const [clickhouse, redis, kafka] = await Promise.all([startClickHouse(), startRedis(), startKafkaMock()]);
  try {
    await bootstrap(loadConfig({ DATA_DIR: dataDir, DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR, LOG_LEVEL: 'silent', CLICKHOUSE_URL: clickhouse.url }), () => undefined);
    const gw = await startTestGateway({
      dataDir,
      env: { CLICKHOUSE_URL: clickhouse.url, REDIS_URL: redis.url, KAFKA_BROKERS: kafka.brokers.join(','), ...env },
    });
    return {
      ...gw,
      clickhouse,
      redis,
      kafka,
      async close() {
        await gw.close();
        await Promise.allSettled([clickhouse.close(), redis.stop(), kafka.stop()]);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.allSettled([clickhouse.close(), redis.stop(), kafka.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
