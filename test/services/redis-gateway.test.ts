import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeer } from '../helpers/peers.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { encodeGlobalId } from '../../src/global-id.ts';

describeWithPeer('gateway with REDIS_URL', 'redis-server', 'redis-server', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let gw: TestGateway;
  beforeAll(async () => {
    redis = await startRedis();
    gw = await startTestGateway({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
  });

  const get = (query: string) => fetch(`${gw.endpoint}?${new URLSearchParams({ query })}`, { headers: { accept: 'application/json' } });
  const health = async () =>
    ((await (await fetch(`${gw.url}/health`)).json()) as { status: string; backends: { role: string; adapter: string; status: string }[] });

  it('serves repeated queries from Redis and reports the redis adapter', async () => {
    expect((await health()).backends.find((b) => b.role === 'cache')).toMatchObject({ adapter: 'redis', status: 'OK' });
    const query = '{ tour(id: "TOUR0004") { id name } }';
    expect((await get(query)).headers.get('x-cache')).toBe('MISS');
    const hit = await get(query);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(((await hit.json()) as { data: { tour: { id: string } } }).data.tour.id).toBe(encodeGlobalId('Tour', 'TOUR0004'));
  });

  it('shares cached answers and their invalidation between gateway instances', async () => {
    const other = await startTestGateway({ env: { REDIS_URL: redis.url } });
    try {
      const query = '{ destination(id: "DEST009") { id name } }';
      const fromOther = (q: string) => fetch(`${other.endpoint}?${new URLSearchParams({ query: q })}`, { headers: { accept: 'application/json' } });
      expect((await get(query)).headers.get('x-cache')).toBe('MISS');
      // The other instance is served what this one stored.
      expect((await fromOther(query)).headers.get('x-cache')).toBe('HIT');
      // Everything invalidated on one instance: every instance stops serving the old answers, as
      // soon as it hears the announcement (bounded wait).
      const versions = other.gateway.services.responseCache.tableVersions;
      let stop = () => {};
      let timer: NodeJS.Timeout | undefined;
      const heard = new Promise<void>((resolve, reject) => {
        stop = versions.onChange(() => resolve());
        timer = setTimeout(() => reject(new Error('the invalidation was not heard within 5 s')), 5_000);
      }).finally(() => {
        stop();
        clearTimeout(timer);
      });
      gw.gateway.services.responseCache.invalidate();
      await heard;
      expect((await fromOther(query)).headers.get('x-cache')).toBe('MISS');
    } finally {
      await other.close();
    }
  });

  it('keeps answering uncached while Redis is down, reports DEGRADED, and recovers by itself', async () => {
    await redis.stop();
    const query = '{ tour(id: "TOUR0005") { id } }';
    const started = performance.now();
    const answer = await get(query);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { data: { tour: { id: string } } }).data.tour.id).toBe(encodeGlobalId('Tour', 'TOUR0005'));
    expect(performance.now() - started).toBeLessThan(2_000);
    const degraded = await health();
    expect(degraded.status).toBe('DEGRADED');
    expect(degraded.backends.find((b) => b.role === 'cache')?.status).toBe('DOWN');

    await redis.restart();
    const deadline = Date.now() + 10_000;
    while ((await health()).status !== 'OK' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await health()).status).toBe('OK');
    await get(query);
    expect((await get(query)).headers.get('x-cache')).toBe('HIT');
  });
});
