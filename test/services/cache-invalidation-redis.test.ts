import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeer } from '../helpers/peers.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/** Resolves when `gw` has applied a change of `table`, from any instance; fails after `ms`. */
function heard(gw: TestGateway, table: string, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no change of ${table} heard within ${ms} ms`));
    }, ms);
    const stop = gw.gateway.services.responseCache.tableVersions.onChange((tables) => {
      if (!tables.includes(table)) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

/** Fails after `ms` instead of waiting for ever. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describeWithPeer('table-tagged invalidation across gateway instances sharing Redis', 'redis-server', 'redis-server', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let one: TestGateway;
  let two: TestGateway;
  beforeAll(async () => {
    redis = await startRedis();
    [one, two] = await Promise.all([startTestGateway({ env: { REDIS_URL: redis.url } }), startTestGateway({ env: { REDIS_URL: redis.url } })]);
    await within(Promise.all([one, two].map((gw) => gw.gateway.services.responseCache.sharing())), 5_000, 'following the shared table versions');
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
    await redis?.stop();
  });

  const get = async (gw: TestGateway, query: string) => {
    const response = await fetch(`${gw.endpoint}?${new URLSearchParams({ query })}`, { headers: { accept: 'application/json' } });
    return { cache: response.headers.get('x-cache'), body: (await response.json()) as { data: Record<string, unknown> } };
  };

  it('a commit on one instance drops the answers that read its tables on both, and only those', async () => {
    const bookings = '{ regionalStats(regions: ["JP"]) { region bookings } }';
    const revenue = '{ regionalStats(regions: ["JP"]) { region revenue } }';
    const destinations = '{ destinations(first: 3) { edges { node { id name } } } }';
    for (const query of [bookings, revenue, destinations]) {
      expect((await get(one, query)).cache).toBe('MISS');
      // Stored by one, served by both.
      expect((await get(one, query)).cache).toBe('HIT');
      expect((await get(two, query)).cache).toBe('HIT');
    }
    const before = (await get(one, bookings)).body.data as { regionalStats: { bookings: number }[] };

    const announced = heard(two, 'silver.events');
    await one.request('mutation ($i: EventInput!) { ingestEvent(input: $i) { offset } }', {
      i: { eventType: 'BOOKING', userId: 'USER000004', tourId: 'TOUR0003', region: 'JP', amount: 99, currency: 'USD' },
    });
    const ran = await one.request('mutation { runPipeline { layer } }');
    expect(ran.body.errors).toBeUndefined();
    await announced;

    // The other instance no longer serves what read silver.events ...
    expect((await get(two, revenue)).cache).toBe('MISS');
    // ... the committing one recomputes with the booking ...
    const recomputed = await get(one, bookings);
    expect(recomputed.cache).toBe('MISS');
    expect((recomputed.body.data as typeof before).regionalStats[0]!.bookings).toBe(before.regionalStats[0]!.bookings + 1);
    // ... and answers over untouched tables are still hits on both.
    expect((await get(one, destinations)).cache).toBe('HIT');
    expect((await get(two, destinations)).cache).toBe('HIT');
  });

  it('an instance started later reads the shared versions, so it never serves an answer older than a commit', async () => {
    const query = '{ regionalStats(regions: ["TH"]) { region events } }';
    const announced = heard(two, 'silver.events');
    one.gateway.services.responseCache.invalidate({ tables: ['silver.events'] });
    await announced;
    expect((await get(two, query)).cache).toBe('MISS');
    const late = await startTestGateway({ env: { REDIS_URL: redis.url } });
    try {
      await within(late.gateway.services.responseCache.sharing(), 5_000, 'following the shared table versions');
      expect(late.gateway.services.responseCache.tableVersions.get('silver.events')).toBe(two.gateway.services.responseCache.tableVersions.get('silver.events'));
      expect((await get(late, query)).cache).toBe('HIT');
    } finally {
      await late.close();
    }
  });
});
