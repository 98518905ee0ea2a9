import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

/**
 * Pipeline-driven invalidation on the embedded engines: a medallion pass drops exactly the cached
 * answers that read a table it changed; answers over other tables keep being served from the cache.
 */
describe('response cache invalidation by table', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  const get = async (query: string) => {
    const response = await fetch(`${gw.endpoint}?${new URLSearchParams({ query })}`, { headers: { accept: 'application/json' } });
    return { cache: response.headers.get('x-cache'), body: (await response.json()) as { data: Record<string, unknown> } };
  };
  const warm = async (query: string) => {
    expect((await get(query)).cache).toBe('MISS');
    const hit = await get(query);
    expect(hit.cache).toBe('HIT');
    return hit.body.data;
  };

  it('a booking invalidates regionalStats and the booked tour stats, not destinations nor tour names', async () => {
    const stats = '{ regionalStats(regions: ["VN"]) { region bookings revenue } }';
    const destinations = '{ destinations(first: 5) { edges { node { id name } } } }';
    const tourStats = '{ tour(id: "TOUR0007") { name stats { bookings } } }';
    const tourName = '{ tour(id: "TOUR0007") { name destination { name } } }';
    const before = (await warm(stats)) as { regionalStats: { bookings: number; revenue: number }[] };
    const places = await warm(destinations);
    const tourBefore = (await warm(tourStats)) as { tour: { stats: { bookings: number } } };
    await warm(tourName);

    const ingested = await gw.request<{ ingestEvent: { offset: string } }>('mutation ($i: EventInput!) { ingestEvent(input: $i) { offset } }', {
      i: { eventType: 'BOOKING', userId: 'USER000002', tourId: 'TOUR0007', region: 'VN', amount: 250, currency: 'USD' },
    });
    expect(ingested.body.errors).toBeUndefined();
    // The pass that promotes the booking (runPipeline runs after any pass already in progress).
    const ran = await gw.request<{ runPipeline: { layer: string; recordsOut: number }[] }>('mutation { runPipeline { layer recordsOut } }');
    expect(ran.body.errors).toBeUndefined();

    const recomputed = await get(stats);
    expect(recomputed.cache).toBe('MISS');
    const after = recomputed.body.data as typeof before;
    expect(after.regionalStats[0]!.bookings).toBe(before.regionalStats[0]!.bookings + 1);
    expect(after.regionalStats[0]!.revenue).toBeCloseTo(before.regionalStats[0]!.revenue + 250, 2);
    const tour = await get(tourStats);
    expect(tour.cache).toBe('MISS');
    expect((tour.body.data as typeof tourBefore).tour.stats.bookings).toBe(tourBefore.tour.stats.bookings + 1);

    const untouched = await get(destinations);
    expect(untouched.cache).toBe('HIT');
    expect(untouched.body.data).toEqual(places);
    expect((await get(tourName)).cache).toBe('HIT');
    // The recomputed answer is cached again, under the new versions.
    expect((await get(stats)).cache).toBe('HIT');
  });

  it('a pass that changes nothing the answers read keeps them', async () => {
    const destinations = '{ destination(id: "DEST003") { name } }';
    await warm(destinations);
    await gw.request('mutation ($i: EventInput!) { ingestEvent(input: $i) { offset } }', {
      i: { eventType: 'VIEW', userId: 'USER000003', tourId: 'TOUR0002', region: 'TH' },
    });
    await gw.request('mutation { runPipeline { layer } }');
    expect((await get(destinations)).cache).toBe('HIT');
  });
});
