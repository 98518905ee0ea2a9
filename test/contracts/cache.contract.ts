import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CachePort } from '../../src/backends/cache/port.ts';

/** The cache role's behaviour, written once and run against every adapter. */
export function describeCacheContract(name: string, make: () => Promise<CachePort>): void {
  describe(`cache contract: ${name}`, () => {
    let cache: CachePort;
    beforeAll(async () => {
      cache = await make();
    });
    afterAll(async () => {
      await cache?.close();
    });

    it('returns what was stored and misses what was not', async () => {
      await cache.set('contract:a', 'alpha', 10_000);
      expect(await cache.get('contract:a')).toBe('alpha');
      expect(await cache.get('contract:missing')).toBeUndefined();
    });

    it('expires entries after their time to live', async () => {
      await cache.set('contract:short', 'soon gone', 30);
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await cache.get('contract:short')).toBeUndefined();
    });

    it('drops every key under a prefix and nothing else', async () => {
      await cache.set('contract:p:1', 'x', 10_000);
      await cache.set('contract:p:2', 'y', 10_000);
      await cache.set('contract:q:1', 'z', 10_000);
      await cache.deletePrefix('contract:p:');
      expect(await cache.get('contract:p:1')).toBeUndefined();
      expect(await cache.get('contract:p:2')).toBeUndefined();
      expect(await cache.get('contract:q:1')).toBe('z');
    });

    it('stores values byte for byte', async () => {
      const value = JSON.stringify({ text: 'Hội An — 東京 🏝', n: 1.5 });
      await cache.set('contract:unicode', value, 10_000);
      expect(await cache.get('contract:unicode')).toBe(value);
    });

    it('stores nothing for a time to live of zero or less', async () => {
      await cache.set('contract:zero', 'x', 0);
      await cache.set('contract:negative', 'x', -5);
      expect(await cache.get('contract:zero')).toBeUndefined();
      expect(await cache.get('contract:negative')).toBeUndefined();
    });

    it('treats the prefix literally, never as a pattern', async () => {
      await cache.set('contract:glob:a', 'x', 10_000);
      await cache.deletePrefix('contract:glob:*');
      expect(await cache.get('contract:glob:a')).toBe('x');
    });

    it('reports its health', async () => {
      expect(await cache.health()).toMatchObject({ role: 'cache', adapter: cache.adapter, status: 'OK' });
    });
  });
}
