import { LRUCache } from 'lru-cache';
import { probeHealth } from '../health.ts';
import type { CachePort } from './port.ts';

/** Options of the in-process cache. */
export interface LruCacheOptions {
  /** Entries kept; the least recently used go first. */
  maxEntries: number;
}

/** The embedded cache: an in-process LRU with per-entry TTLs. Also exposes synchronous access for the response-cache fast path. */
export interface LruCachePort extends CachePort {
  getSync(key: string): string | undefined;
}

export function createLruCache(options: LruCacheOptions): LruCachePort {
  const lru = new LRUCache<string, string>({ max: options.maxEntries, ttlAutopurge: false, allowStale: false });
  return {
    adapter: 'lru',
    getSync: (key) => lru.get(key),
    get: async (key) => lru.get(key),
    set: async (key, value, ttlMs) => {
      // lru-cache reads a TTL of 0 as "forever"; the port means "do not store" (as Redis does).
      if (!(ttlMs > 0)) return;
      lru.set(key, value, { ttl: ttlMs });
    },
    deletePrefix: async (prefix) => {
      for (const key of lru.keys()) if (key.startsWith(prefix)) lru.delete(key);
    },
    health: () => probeHealth('cache', 'lru', async () => undefined),
    close: async () => lru.clear(),
  };
}
