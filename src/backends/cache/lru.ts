import { LRUCache } from 'lru-cache';
import { probeHealth } from '../health.ts';
import type { CachePort } from './port.ts';

/** Options of the in-process cache. */
export interface LruCacheOptions {
  /** Entries kept; the least recently used go first. */
  maxEntries: number;
  /**
   * Bytes the entries may take (keys and values as UTF-16 strings, plus a per-entry overhead);
   * the least recently used go first. Default: no byte bound. A count alone does not bound memory:
   * one large answer weighs as much as thousands of small ones.
   */
  maxBytes?: number;
}

/** What one entry costs besides its strings: the LRU's slots, the TTL arrays, the string headers. */
const ENTRY_OVERHEAD_BYTES = 96;

/** An entry's approximate heap weight (V8 keeps strings as one or two bytes a character; count two). */
export function entryBytes(key: string, value: string): number {
  return ENTRY_OVERHEAD_BYTES + 2 * (key.length + value.length);
}

/** The embedded cache: an in-process LRU with per-entry TTLs. Also exposes synchronous access for the response-cache fast path. */
export interface LruCachePort extends CachePort {
  getSync(key: string): string | undefined;
}

export function createLruCache(options: LruCacheOptions): LruCachePort {
  const lru = new LRUCache<string, string>({
    max: options.maxEntries,
    ...(options.maxBytes !== undefined ? { maxSize: Math.max(1, Math.floor(options.maxBytes)), sizeCalculation: (value: string, key: string) => entryBytes(key, value) } : {}),
    ttlAutopurge: false,
    allowStale: false,
  });
  return {
    adapter: 'lru',
    getSync: (key) => lru.get(key),
    get: async (key) => lru.get(key),
    set: async (key, value, ttlMs) => {
      // lru-cache reads a TTL of 0 as "forever"; the port means "do not store" (as Redis does).
      if (!(ttlMs > 0)) return;
      // lru-cache refuses (and drops the key's old value for) an entry larger than the whole
      // budget, which is what a cache should do with it.
      lru.set(key, value, { ttl: ttlMs });
    },
    deletePrefix: async (prefix) => {
      for (const key of lru.keys()) if (key.startsWith(prefix)) lru.delete(key);
    },
    health: () => probeHealth('cache', 'lru', async () => undefined),
    close: async () => lru.clear(),
  };
}
