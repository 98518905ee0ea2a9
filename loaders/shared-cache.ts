import type { CachePort } from '../src/backends/cache/port.ts';

/**
 * A second tier under a DataLoader for reference data (tours, destinations): rows found in the
 * cache role (in-process LRU, or Redis shared by every instance) skip the backend; the rest are
 * loaded in one batch and stored. It holds public rows only — nothing a principal may see and
 * another may not — and each key carries the versions of the tables its entity is read from, so
 * an invalidation of those tables empties it.
 */
export interface SharedRowCache {
  cache: CachePort;
  /** Time to live of an entry in ms; 0 turns the tier off. */
  ttlMs: number;
  /** The current versions of `tables` (the response cache's), part of every key. */
  versionOf: (tables: readonly string[]) => string;
}

/** How one entity is written to and read from the cache. */
export interface RowCodec<T> {
  namespace: string;
  /** The tables rows of this entity are read from (schema-qualified). */
  tables: readonly string[];
  encode: (row: T) => string;
  decode: (text: string) => T;
}

/** Wraps a batch loader with the shared row cache: same keys in, same order out. */
export function withSharedCache<T>(
  shared: SharedRowCache | undefined,
  codec: RowCodec<T>,
  load: (ids: readonly string[]) => Promise<(T | null)[]>,
): (ids: readonly string[]) => Promise<(T | null)[]> {
  if (!shared || shared.ttlMs <= 0) return load;
  return async (ids) => {
    const prefix = `rows:${shared.versionOf(codec.tables)}:${codec.namespace}:`;
    const cached = await Promise.all(ids.map((id) => shared.cache.get(prefix + id)));
    const rows: (T | null | undefined)[] = cached.map((text) => (text === undefined ? undefined : codec.decode(text)));
    const missing = ids.filter((_, i) => rows[i] === undefined);
    if (missing.length === 0) return rows as (T | null)[];
    const loaded = await load(missing);
    const byId = new Map(missing.map((id, i) => [id, loaded[i] ?? null]));
    for (const [id, row] of byId) if (row !== null) void shared.cache.set(prefix + id, codec.encode(row), shared.ttlMs);
    return ids.map((id, i) => (rows[i] === undefined ? (byId.get(id) ?? null) : (rows[i] as T | null)));
  };
}
