import { afterAll, beforeAll, expect, it } from 'vitest';
import { missingEnginePeer, startEngineGateway, type EngineGateway } from '../helpers/engines.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { describeWithPeer } from '../helpers/peers.ts';

/**
 * The gateway with ClickHouse (analytics), Redis (cache) and Kafka (bus) configured at once, over
 * real peers; the lakehouse stays embedded. `npm run bootstrap` prepares ClickHouse first.
 */
const missing = missingEnginePeer();
describeWithPeer('gateway with ClickHouse, Redis and Kafka at once', missing ?? 'clickhouse-server', missing ?? 'clickhouse-server', () => {
  let gw: EngineGateway;
  let embedded: TestGateway;

  beforeAll(async () => {
    gw = await startEngineGateway({ RESPONSE_CACHE: 'false' });
    embedded = await startTestGateway({ env: { RESPONSE_CACHE: 'false' } });
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await embedded?.close();
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

  it('carries an ingested booking through Kafka and the medallion to the ClickHouse analytics and the gold profile', async () => {
    const { body: tours } = await gw.request<{ tours: { edges: { node: { tourId: string; region: string } }[] } }>('{ tours(first: 1) { edges { node { tourId region } } } }');
    const tour = tours.data!.tours.edges[0]!.node;
    const userId = 'USER-ALL-ENGINES';
    const query = `query ($region: String!, $user: ID!) {
      regionalStats(from: "2026-11-15T00:00:00Z", regions: [$region]) { region bookings revenue uniqueUsers }
      user(id: $user) { profile { totalBookings totalSpend } }
      events(filter: { userId: $user }, first: 5) { edges { node { eventType tourId } } }
    }`;
    const before = await gw.request<{ regionalStats: unknown[] }>(query, { region: tour.region, user: userId });
    // The demo year ends on the 1st: nothing in the region since the 15th yet.
    expect(before.body.data!.regionalStats).toEqual([]);

    const ingested = await gw.request<{ ingestEvent: { topic: string } }>(
      `mutation ($tour: ID!, $user: ID!) { ingestEvent(input: { eventType: BOOKING, userId: $user, tourId: $tour, amount: 640, currency: "USD" }) { topic } }`,
      { tour: tour.tourId, user: userId },
    );
    expect(ingested.body.data?.ingestEvent.topic).toBe('topic_booking_events');
    await gw.gateway.services.pipeline!.settle();

    const after = await gw.request(query, { region: tour.region, user: userId });
    expect(after.body.errors).toBeUndefined();
    expect(after.body.data).toEqual({
      regionalStats: [{ region: tour.region, bookings: 1, revenue: 640, uniqueUsers: 1 }],
      user: { profile: { totalBookings: 1, totalSpend: 640 } },
      events: { edges: [{ node: { eventType: 'BOOKING', tourId: tour.tourId } }] },
    });
  }, 60_000);

  it('fails only the analytics fields while ClickHouse is down, and recovers when it returns', async () => {
    await gw.clickhouse.stop();
    const query = '{ tours(first: 3) { edges { node { id name stats { bookings } } } } }';
    const { status, body } = await gw.request<{ tours: { edges: { node: { id: string; stats: null } }[] } }>(query);
    expect(status).toBe(200);
    expect(body.data!.tours.edges.map((e) => e.node.stats)).toEqual([null, null, null]);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BACKEND_UNAVAILABLE', backend: 'analytics' });
    expect((await health()).status).toBe('DEGRADED');

    await gw.clickhouse.restart();
    const deadline = Date.now() + 15_000;
    while ((await health()).status !== 'OK' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await gw.request<{ tours: { edges: { node: { stats: { bookings: number } } }[] } }>(query);
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data!.tours.edges[0]!.node.stats.bookings).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
