import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bootstrap } from '../../scripts/bootstrap.ts';
import { loadConfig } from '../../src/config.ts';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from '../helpers/gateway.ts';
import { startKafkaMock } from '../helpers/kafka-mock.ts';
import { describeWithPeer, findBinary } from '../helpers/peers.ts';
import { startRedis } from '../helpers/redis-server.ts';

/**
 * The gateway with ClickHouse (analytics), Redis (cache) and Kafka (bus) configured at once, over
 * real peers; the lakehouse stays embedded. `npm run bootstrap` prepares ClickHouse first.
 */
const peers = ['clickhouse-server', 'redis-server', 'kcat'];
const missing = peers.filter((p) => !findBinary(p));
describeWithPeer('gateway with ClickHouse, Redis and Kafka at once', missing[0] ?? 'clickhouse-server', missing[0] ?? 'clickhouse-server', () => {
  let clickhouse: ClickHouseServer;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let kafka: Awaited<ReturnType<typeof startKafkaMock>>;
  let gw: TestGateway;
  let embedded: TestGateway;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-all-engines-'));

  beforeAll(async () => {
    [clickhouse, redis, kafka] = await Promise.all([startClickHouse(), startRedis(), startKafkaMock()]);
    const env = { DATA_DIR: dataDir, DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR, LOG_LEVEL: 'silent', CLICKHOUSE_URL: clickhouse.url };
    const report = await bootstrap(loadConfig(env), () => undefined);
    expect(report.analytics?.events).toBeGreaterThan(1_000);
    gw = await startTestGateway({ dataDir, env: { CLICKHOUSE_URL: clickhouse.url, REDIS_URL: redis.url, KAFKA_BROKERS: kafka.brokers.join(','), RESPONSE_CACHE: 'false' } });
    embedded = await startTestGateway({ env: { RESPONSE_CACHE: 'false' } });
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await embedded?.close();
    await Promise.allSettled([clickhouse?.close(), redis?.stop(), kafka?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const health = async () =>
    (await (await fetch(`${gw.url}/health`)).json()) as { status: string; backends: { role: string; adapter: string; status: string }[] };

  it('reports each role on its engine', async () => {
    const report = await health();
    expect(report.status).toBe('OK');
    expect(Object.fromEntries(report.backends.map((b) => [b.role, b.adapter]))).toEqual({
      lakehouse: 'duckdb',
      analytics: 'clickhouse',
      search: 'minisearch',
      cache: 'redis',
      bus: 'kafka',
    });
  });

  it('answers the same analytics as the embedded gateway', async () => {
    const query = `{
      regionalStats(from: "2026-02-01T00:00:00Z", to: "2026-10-01T00:00:00Z") { region events bookings revenue avgAmount uniqueUsers }
      revenueSeries(interval: MONTH, from: "2026-03-01T00:00:00Z", to: "2026-06-01T00:00:00Z", region: "VN") { bucket bookings revenue }
      tourPopularity(window: ALL_TIME, first: 5) { rank tour { id } views bookings }
      tours(first: 5) { edges { node { id stats { bookings revenue views } } } }
      user(id: "USER000001") { profile { totalBookings totalSpend favouriteRegion } }
    }`;
    const viaClickHouse = await gw.request(query);
    const viaDuckDb = await embedded.request(query);
    expect(viaClickHouse.body.errors).toBeUndefined();
    expect(viaClickHouse.body.data).toEqual(viaDuckDb.body.data);
  });

  it('fails only the analytics fields while ClickHouse is down, and recovers when it returns', async () => {
    await clickhouse.stop();
    const query = '{ tours(first: 3) { edges { node { id name stats { bookings } } } } }';
    const { status, body } = await gw.request<{ tours: { edges: { node: { id: string; stats: null } }[] } }>(query);
    expect(status).toBe(200);
    expect(body.data!.tours.edges.map((e) => e.node.stats)).toEqual([null, null, null]);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BACKEND_UNAVAILABLE', backend: 'analytics' });
    expect((await health()).status).toBe('DEGRADED');

    await clickhouse.restart();
    const deadline = Date.now() + 15_000;
    while ((await health()).status !== 'OK' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await gw.request<{ tours: { edges: { node: { stats: { bookings: number } } }[] } }>(query);
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data!.tours.edges[0]!.node.stats.bookings).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
