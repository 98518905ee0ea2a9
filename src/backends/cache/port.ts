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
  readonly capabilities?: { readonly locks?: boolean; readonly shared?: boolean };
  /** With `capabilities.locks`: a short lock shared by every gateway instance (stampede protection). */
  tryLock?: CacheLocks['tryLock'];
  unlock?: CacheLocks['unlock'];
}

/** Locks shared by every instance that uses the same cache (Redis `SET NX PX`). */
export interface CacheLocks {
  /**
   * Takes the lock on `key` for `ttlMs` if nobody holds it. Resolves to a token for `unlock`, or
   * `undefined` when another holder has it; rejects when the cache is unreachable.
   */
  tryLock(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases a lock taken by `tryLock`, only if `token` still holds it. Never throws (the lock expires anyway). */
  unlock(key: string, token: string): Promise<void>;
}
