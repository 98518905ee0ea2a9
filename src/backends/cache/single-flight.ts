import type { CacheLocks, CachePort } from './port.ts';

/** Tuning of `getOrFill`'s cross-instance coordination (ignored by caches without locks). */
export interface FillOptions {
  /** How long a filler's lock lives if it never unlocks (crash). Default 5000 ms. */
  lockTtlMs?: number;
  /**
   * How long an instance that lost the lock waits for the holder's value before filling itself
   * (a slow or dead holder must not stall everyone). Default 1000 ms.
   */
  waitMs?: number;
  /** First pause between polls for the holder's value; doubles up to 100 ms. Default 10 ms. */
  pollMs?: number;
}

const DEFAULTS = { lockTtlMs: 5_000, waitMs: 1_000, pollMs: 10 } as const;
const MAX_POLL_MS = 100;

// Per cache object, so two adapters (even on one server) coordinate through the cache, not memory.
const inFlight = new WeakMap<CachePort, Map<string, Promise<string>>>();

/**
 * The cached value of `key`, or the result of `fill()` stored for `ttlMs`, with stampede
 * protection: concurrent callers in this process share one fill per key, and when the cache
 * offers locks (`capabilities.locks`), instances sharing it wait briefly for the first filler's
 * value instead of all calling the backend. A failing `fill` rejects every caller sharing it.
 */
export function getOrFill(
  cache: CachePort,
  key: string,
  ttlMs: number,
  fill: () => Promise<string>,
  options: FillOptions = {},
): Promise<string> {
  let pending = inFlight.get(cache);
  if (!pending) inFlight.set(cache, (pending = new Map()));
  const running = pending.get(key);
  if (running) return running;
  const flights = pending;
  const flight = lookupOrFill(cache, key, ttlMs, fill, options).finally(() => {
    if (flights.get(key) === flight) flights.delete(key);
  });
  flights.set(key, flight);
  return flight;
}

async function lookupOrFill(
  cache: CachePort,
  key: string,
  ttlMs: number,
  fill: () => Promise<string>,
  options: FillOptions,
): Promise<string> {
  const cached = await cache.get(key);
  if (cached !== undefined) return cached;
  const locks = locksOf(cache);
  if (!locks) return fillAndStore(cache, key, ttlMs, fill);

  const lockTtlMs = options.lockTtlMs ?? DEFAULTS.lockTtlMs;
  const deadline = performance.now() + (options.waitMs ?? DEFAULTS.waitMs);
  let pause = options.pollMs ?? DEFAULTS.pollMs;
  for (;;) {
    let token: string | undefined;
    try {
      token = await locks.tryLock(key, lockTtlMs);
    } catch {
      // The cache is unreachable: there is nobody to coordinate with, and nowhere to wait.
      return fillAndStore(cache, key, ttlMs, fill);
    }
    if (token !== undefined) {
      try {
        // Another instance may have stored the value and unlocked between our miss and our lock.
        const stored = await cache.get(key);
        return stored ?? (await fillAndStore(cache, key, ttlMs, fill));
      } finally {
        void locks.unlock(key, token);
      }
    }
    if (performance.now() + pause > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, MAX_POLL_MS);
    const stored = await cache.get(key);
    if (stored !== undefined) return stored;
    // Still missing: loop to try the lock again, which also takes over from a holder whose fill failed.
  }
  return fillAndStore(cache, key, ttlMs, fill);
}

async function fillAndStore(cache: CachePort, key: string, ttlMs: number, fill: () => Promise<string>): Promise<string> {
  const value = await fill();
  if (typeof value !== 'string') {
    throw new TypeError(`getOrFill(${JSON.stringify(key)}): fill must resolve to a string (the cache stores strings), got ${typeof value}`);
  }
  // Awaited (set never throws) so waiters of other instances find the value once the lock is released.
  await cache.set(key, value, ttlMs);
  return value;
}

/** The cache's locks, when it declares them. */
export function locksOf(cache: CachePort): CacheLocks | undefined {
  if (cache.capabilities?.locks !== true || !cache.tryLock || !cache.unlock) return undefined;
  return { tryLock: cache.tryLock.bind(cache), unlock: cache.unlock.bind(cache) };
}
