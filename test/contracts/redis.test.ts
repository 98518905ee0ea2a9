import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCache } from '../../src/backends/cache/redis.ts';
import type { RedisCacheOptions, RedisCachePort } from '../../src/backends/cache/redis.ts';
import { BackendError } from '../../src/errors.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startRedis } from '../helpers/redis-server.ts';
import type { RedisPeer } from '../helpers/redis-server.ts';
import { describeCacheContract } from './cache.contract.ts';

/** The Redis adapter against the cache contract and a real redis-server, plus what only Redis can get wrong. */

let namespaces = 0;
/** A namespace no other test uses, so tests sharing a server never see each other's keys. */
const freshNamespace = () => `t${process.pid}-${++namespaces}`;

/** Resolves once `check` passes, polling every 20 ms, or fails after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describeWithPeer('redis adapter', 'redis-server', 'redis-server', (binary) => {
  let server: RedisPeer;
  const opened: RedisCachePort[] = [];
  const open = (options: Partial<RedisCacheOptions> = {}): RedisCachePort => {
    const cache = createRedisCache({ url: server.url, namespace: freshNamespace(), ...options });
    opened.push(cache);
    return cache;
  };

  beforeAll(async () => {
    server = await startRedis({ binary });
  });
  afterAll(async () => {
    await Promise.all(opened.map((cache) => cache.close()));
    await server?.stop();
  });

  describeCacheContract('redis', async () => createRedisCache({ url: server.url, namespace: freshNamespace() }));

  describe('key layout', () => {
    it('stores keys as <namespace>:v<version>:<key>, so a new key version never reads old entries', async () => {
      const namespace = freshNamespace();
      const v1 = open({ namespace, version: 1 });
      const v2 = open({ namespace, version: 2 });
      await v1.set('tour:1', 'old format', 10_000);
      expect(await v2.get('tour:1')).toBeUndefined();
      await v2.set('tour:1', 'new format', 10_000);
      expect(await v1.get('tour:1')).toBe('old format');
      expect(await v2.get('tour:1')).toBe('new format');

      const raw = new Redis(server.url);
      try {
        expect((await raw.keys(`${namespace}:*`)).sort()).toEqual([`${namespace}:v1:tour:1`, `${namespace}:v2:tour:1`]);
        const ttl = await raw.pttl(`${namespace}:v1:tour:1`);
        expect(ttl).toBeGreaterThan(9_000);
        expect(ttl).toBeLessThanOrEqual(10_000);
      } finally {
        await raw.quit();
      }
    });

    it('deletePrefix stays inside its namespace and version', async () => {
      const namespace = freshNamespace();
      const mine = open({ namespace });
      const otherVersion = open({ namespace, version: 2 });
      const otherNamespace = open();
      for (const cache of [mine, otherVersion, otherNamespace]) await cache.set('tours:VN', 'list', 10_000);
      await mine.deletePrefix('tours:');
      expect(await mine.get('tours:VN')).toBeUndefined();
      expect(await otherVersion.get('tours:VN')).toBe('list');
      expect(await otherNamespace.get('tours:VN')).toBe('list');
    });

    it('deletePrefix matches the prefix literally (glob characters included) and across SCAN batches', async () => {
      const cache = open();
      await cache.set('q:*', 'star', 10_000);
      await cache.set('q:a', 'plain', 10_000);
      await cache.set('q:[x]1', 'bracket', 10_000);
      await cache.deletePrefix('q:*');
      expect(await cache.get('q:*')).toBeUndefined();
      expect(await cache.get('q:a')).toBe('plain');
      await cache.deletePrefix('q:[x]');
      expect(await cache.get('q:[x]1')).toBeUndefined();
      expect(await cache.get('q:a')).toBe('plain');

      const keys = Array.from({ length: 1_200 }, (_, i) => `bulk:${i}`);
      await Promise.all(keys.map((key) => cache.set(key, 'v', 10_000)));
      await cache.deletePrefix('bulk:');
      const left = await Promise.all(keys.map((key) => cache.get(key)));
      expect(left.filter((value) => value !== undefined)).toHaveLength(0);
      expect(await cache.get('q:a')).toBe('plain');
    });
  });

  describe('a frozen server', () => {
    it('answers misses within the command budget instead of waiting', async () => {
      const cache = open({ commandTimeoutMs: 150 });
      await cache.set('k', 'v', 10_000);
      expect(await cache.get('k')).toBe('v');
      server.pause();
      try {
        const read = await timed(() => cache.get('k'));
        expect(read.value).toBeUndefined();
        expect(read.ms).toBeLessThan(600);
        const write = await timed(() => cache.set('k2', 'v', 10_000));
        expect(write.ms).toBeLessThan(600);
      } finally {
        server.resume();
      }
      // The replies that arrive late are matched to the timed-out commands; later ones line up again.
      await eventually(async () => (await cache.get('k')) === 'v', 2_000, 'serving after the freeze');
    });

    it('at start-up, waits for a slow first connection once, then misses at once until it is ready', async () => {
      server.pause();
      try {
        const cache = open({ commandTimeoutMs: 300 });
        const first = await timed(() => cache.get('k'));
        expect(first.value).toBeUndefined();
        expect(first.ms).toBeGreaterThanOrEqual(250);
        const second = await timed(() => cache.get('k'));
        expect(second.value).toBeUndefined();
        expect(second.ms).toBeLessThan(150);
        expect((await cache.health()).status).toBe('DOWN');
        await cache.close();
      } finally {
        server.resume();
      }
    });
  });

  describe('an outage', () => {
    let outage: RedisPeer;
    beforeAll(async () => {
      outage = await startRedis({ binary });
    });
    afterAll(async () => {
      await outage?.stop();
    });

    it('fails fast while Redis is down and serves again by itself once it is back', async () => {
      const cache = createRedisCache({ url: outage.url, namespace: freshNamespace(), reconnectMaxDelayMs: 200 });
      opened.push(cache);
      await cache.set('tour:1', 'Ha Long cruise', 10_000);
      expect(await cache.get('tour:1')).toBe('Ha Long cruise');
      expect(await cache.health()).toMatchObject({ adapter: 'redis', status: 'OK', error: null });

      await outage.stop();
      const read = await timed(() => cache.get('tour:1'));
      expect(read.value).toBeUndefined();
      expect(read.ms).toBeLessThan(1_000);
      const write = await timed(() => cache.set('tour:2', 'x', 10_000));
      expect(write.ms).toBeLessThan(1_000);
      const health = await cache.health();
      expect(health).toMatchObject({ role: 'cache', adapter: 'redis', status: 'DOWN' });
      // Worded by the connection's state at that moment: refused, closed, or not yet writable again.
      expect(health.error).toMatch(/not connected|ECONNREFUSED|closed|isn't writeable/i);
      await expect(cache.deletePrefix('tour:')).rejects.toBeInstanceOf(BackendError);

      // A gateway started while Redis is down misses too, and recovers like the others.
      const late = createRedisCache({ url: outage.url, namespace: freshNamespace(), reconnectMaxDelayMs: 200 });
      opened.push(late);
      const lateRead = await timed(() => late.get('anything'));
      expect(lateRead.value).toBeUndefined();
      expect(lateRead.ms).toBeLessThan(1_000);
      expect((await late.health()).status).toBe('DOWN');

      await outage.restart();
      await eventually(async () => (await cache.health()).status === 'OK', 5_000, 'cache healthy after restart');
      await eventually(async () => (await late.health()).status === 'OK', 5_000, 'late cache healthy after restart');
      await cache.set('tour:1', 'Ha Long cruise, again', 10_000);
      expect(await cache.get('tour:1')).toBe('Ha Long cruise, again');
      await late.set('anything', 'now', 10_000);
      expect(await late.get('anything')).toBe('now');
    });
  });

  describe('lifecycle', () => {
    it('connects on first use, closes idempotently, and misses after close', async () => {
      // A server of its own: counting connections must not see other tests' clients come and go.
      const own = await startRedis({ binary });
      const cache = createRedisCache({ url: own.url });
      const raw = new Redis(own.url);
      try {
        const clientsBefore = String(await raw.client('LIST')).trim().split('\n').length;
        await cache.set('k', 'v', 10_000);
        const clientsAfter = String(await raw.client('LIST')).trim().split('\n').length;
        expect(clientsAfter).toBe(clientsBefore + 1);
        await Promise.all([cache.close(), cache.close()]);
        await cache.close();
        expect(await cache.get('k')).toBeUndefined();
        await cache.set('k', 'w', 10_000);
        expect((await cache.health()).status).toBe('DOWN');
      } finally {
        await raw.quit();
        await cache.close();
        await own.stop();
      }
    });

    it('names every bad option at construction', () => {
      expect(() => createRedisCache({ url: 'http://localhost:6379', namespace: '', commandTimeoutMs: 0 })).toThrow(
        /url: expected the redis: or rediss: scheme.*namespace: .*commandTimeoutMs: expected a positive number/,
      );
    });
  });
});
