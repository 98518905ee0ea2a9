import type { Lifecycle } from '../health.ts';

/**
 * The cache role: string values under string keys with a time to live. Values are serialised
 * by the caller so every adapter (in-process LRU, Redis) stores the same bytes.
 */
export interface CachePort extends Lifecycle {
  readonly adapter: string;
  /** The value, or undefined when absent or expired. Adapters that fail answer undefined (a miss), never throw. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value` for `ttlMs`. Failures are swallowed: caching is best effort. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Drops every key starting with `prefix` (invalidation after writes). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Optional abilities; absent means none. `shared`: every gateway instance sees the same entries
   * (Redis), so state such as the response cache's entries can be shared through it.
   */
  readonly capabilities?: { readonly shared?: boolean };
}
