import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisTableVersions } from '../../src/backends/cache/redis-table-versions.ts';
import { TableVersions, type SharedTableVersions } from '../../src/cache-tags/table-versions.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startRedis } from '../helpers/redis-server.ts';

/** Resolves when `versions` has `table` at `version` or above; fails after `ms`. */
function reaches(versions: TableVersions, table: string, version: number, ms = 5_000): Promise<void> {
  if (versions.get(table) >= version) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${table} did not reach ${version} within ${ms} ms (at ${versions.get(table)})`));
    }, ms);
    const stop = versions.onChange(() => {
      if (versions.get(table) < version) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

describeWithPeer('table versions shared through Redis', 'redis-server', 'redis-server', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const instances: { shared: SharedTableVersions; versions: TableVersions }[] = [];
  const instance = async () => {
    const shared = createRedisTableVersions({ url: redis.url, namespace: 'versions-test', refreshMs: 200 });
    const versions = new TableVersions();
    await shared.follow((changes) => versions.apply(changes));
    instances.push({ shared, versions });
    return { shared, versions };
  };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.shared.close()));
    await redis?.stop();
  });

  it('announces a raise to every instance, and never lowers a version', async () => {
    const [one, two] = [await instance(), await instance()];
    const moves: string[] = [];
    two.versions.onChange((tables) => moves.push(...tables));
    await one.shared.publish({ 'silver.events': 1_000 });
    await reaches(two.versions, 'silver.events', 1_000);
    // Lower (an old commit heard late) then something else: announcements arrive in order, so the
    // second one arriving proves the first moved nothing.
    await one.shared.publish({ 'silver.events': 900 });
    await one.shared.publish({ 'gold.user_360': 5 });
    await reaches(two.versions, 'gold.user_360', 5);
    expect(two.versions.get('silver.events')).toBe(1_000);
    expect(moves).toEqual(['silver.events', 'gold.user_360']);
  });

  it('a new instance starts from the shared versions', async () => {
    const late = await instance();
    expect(late.versions.get('silver.events')).toBe(1_000);
    expect(late.versions.get('gold.user_360')).toBe(5);
  });

  it('a raise made while Redis is away reaches the others once it is back', async () => {
    const [one, two] = [instances[0]!, instances[1]!];
    await redis.stop();
    await one.shared.publish({ 'silver.quarantine': 7 });
    expect(two.versions.get('silver.quarantine')).toBe(0);
    await redis.restart();
    await reaches(two.versions, 'silver.quarantine', 7, 10_000);
  });
});
