import type { CachePort } from '../backends/cache/port.ts';

/** A stored response: what the HTTP layer writes back on a hit. */
export interface CachedResponse {
  status: number;
  contentType: string;
  body: string;
  /** Body size in bytes (sent as content-length, so a hit is one write). */
  length: number;
}

/** Options of the response cache. */
export interface ResponseCacheOptions {
  /** Where entries live (the cache role: in-process LRU, or Redis). */
  cache: CachePort & { getSync?: (key: string) => string | undefined };
  /**
   * How often an instance reads the shared generation when the cache is shared (Redis), in ms.
   * Default 1000: an invalidation reaches every instance within about a second.
   */
  generationRefreshMs?: number;
}

/** Where a shared cache keeps the current generation. */
const GENERATION_KEY = 'rc:generation';
const GENERATION_TTL_MS = 30 * 86_400_000;

/**
 * Whole-response cache in front of the GraphQL pipeline: a repeated query (same text, variables,
 * accepted media type and principal) is answered without parsing or executing anything. Entries
 * carry the generation they were made in; `invalidate()` starts a new generation, so data changes
 * (new events promoted to silver) are never served stale from here.
 */
export class ResponseCache {
  private readonly cache: ResponseCacheOptions['cache'];
  /** A timestamp, so instances sharing a cache converge on the newest one. */
  private generation = 0;
  private refresher: NodeJS.Timeout | undefined;

  constructor(options: ResponseCacheOptions) {
    this.cache = options.cache;
    if (options.cache.capabilities?.shared) {
      void this.refresh();
      this.refresher = setInterval(() => void this.refresh(), options.generationRefreshMs ?? 1_000);
      this.refresher.unref();
    }
  }

  /** Cache key of a request. `payload` is the raw POST body or the GET query string. */
  keyOf(method: string, accept: string, principal: string, payload: string): string {
    return `rc:${this.generation}:${principal}:${method}:${accept}:${payload}`;
  }

  /** The stored response, synchronously when the cache is in-process. */
  lookup(key: string): CachedResponse | undefined | Promise<CachedResponse | undefined> {
    if (this.cache.getSync) return decode(this.cache.getSync(key));
    return this.cache.get(key).then(decode);
  }

  store(key: string, response: Omit<CachedResponse, 'length'> & { length?: number }, ttlMs: number): void {
    const length = response.length ?? Buffer.byteLength(response.body);
    void this.cache.set(key, `${response.status}\n${response.contentType}\n${length}\n${response.body}`, ttlMs);
  }

  /**
   * Makes every stored response unreachable (they age out): the hook for whatever changes the
   * data (the medallion after a run). With a shared cache, every instance follows within
   * `generationRefreshMs`.
   */
  invalidate(): void {
    this.generation = Math.max(this.generation + 1, Date.now());
    if (this.cache.capabilities?.shared) void this.cache.set(GENERATION_KEY, String(this.generation), GENERATION_TTL_MS);
  }

  /** The current data generation (other caches of derived data key on it too). */
  get currentGeneration(): number {
    return this.generation;
  }

  /** Stops following the shared generation. */
  close(): void {
    clearInterval(this.refresher);
  }

  private async refresh(): Promise<void> {
    const shared = Number(await this.cache.get(GENERATION_KEY));
    if (Number.isFinite(shared) && shared > this.generation) this.generation = shared;
  }
}

function decode(stored: string | undefined): CachedResponse | undefined {
  if (stored === undefined) return undefined;
  const first = stored.indexOf('\n');
  const second = stored.indexOf('\n', first + 1);
  const third = stored.indexOf('\n', second + 1);
  return {
    status: Number(stored.slice(0, first)),
    contentType: stored.slice(first + 1, second),
    length: Number(stored.slice(second + 1, third)),
    body: stored.slice(third + 1),
  };
}
