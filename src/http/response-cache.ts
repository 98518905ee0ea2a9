import type { CachePort } from '../backends/cache/port.ts';
import { ANY_TABLE } from '../cache-tags/field-tables.ts';
import { TableVersions, type SharedTableVersions, type TableChange } from '../cache-tags/table-versions.ts';

export type { TableChange } from '../cache-tags/table-versions.ts';

/** A stored response: what the HTTP layer writes back on a hit. */
export interface CachedResponse {
  status: number;
  contentType: string;
  body: string;
  /** Body size in bytes (sent as content-length, so a hit is one write). */
  length: number;
}

/** What an answer read: its tables, and the version tick noted before it was computed. */
export interface AnswerRead {
  /** Schema-qualified tables (`silver.events`), as `tablesOfOperation` finds them. */
  tables: readonly string[];
  /** `tableVersions.tick` when the answer's execution started (see `readStarts`). */
  since: number;
}

/** Options of the response cache. */
export interface ResponseCacheOptions {
  /** Where entries live (the cache role: in-process LRU, or Redis). */
  cache: CachePort & { getSync?: (key: string) => string | undefined };
  /**
   * Where table versions are shared when several instances share the cache (Redis: a hash and a
   * pub/sub channel). Absent: versions are this instance's only (right for an in-process cache).
   */
  sharedVersions?: SharedTableVersions | undefined;
}

/** Tag every entry carries: `invalidate()` without tables raises it, dropping every answer. */
const EVERYTHING = '**';
/** Distinct table sets whose current versions are memoised between changes; more clears the memo. */
const MEMO_LIMIT = 10_000;

/**
 * Whole-response cache in front of the GraphQL pipeline: a repeated query (same text, variables,
 * accepted media type and principal) is answered without parsing or executing anything. Each entry
 * is tagged with the tables its answer read and their versions when it was stored; a hit whose
 * tables moved since is a miss. A medallion commit raises the versions of exactly the tables it
 * changed (`invalidate(change)`), so answers over other tables stay cached. Versions are held in
 * memory (a hit costs no extra round trip); with a shared cache they are shared through
 * `sharedVersions` and every instance hears each change at once.
 */
export class ResponseCache {
  private readonly cache: ResponseCacheOptions['cache'];
  private readonly shared: SharedTableVersions | undefined;
  /** The table versions this instance knows (its own changes and every instance's). */
  readonly tableVersions = new TableVersions();
  /** Current versions of each table set seen in entries, by its encoded list; cleared on every change. */
  private readonly current = new Map<string, string>();
  private readonly following: Promise<void>;

  constructor(options: ResponseCacheOptions) {
    this.cache = options.cache;
    this.shared = options.sharedVersions;
    this.tableVersions.onChange(() => this.current.clear());
    this.following = this.shared ? this.shared.follow((changes) => this.tableVersions.apply(changes)) : Promise.resolve();
  }

  /**
   * Resolves with true once this instance hears other instances' changes (at once without shared
   * versions), or with false when `budgetMs` runs out first. Default budget: none (waits).
   */
  sharing(budgetMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (!Number.isFinite(budgetMs)) return this.following.then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), budgetMs)));
    return Promise.race([this.following.then(() => true), late]).finally(() => clearTimeout(timer));
  }

  /** Cache key of a request. `payload` is the raw POST body or the GET query string. */
  keyOf(method: string, accept: string, principal: string, payload: string): string {
    return `rt:${principal}:${method}:${accept}:${payload}`;
  }

  /** The stored response, synchronously when the cache is in-process; a miss when a table it read changed since. */
  lookup(key: string): CachedResponse | undefined | Promise<CachedResponse | undefined> {
    if (this.cache.getSync) return this.decode(this.cache.getSync(key));
    return this.cache.get(key).then((stored) => this.decode(stored));
  }

  /** The tick to pass as `AnswerRead.since`: note it before executing the request. */
  readStarts(): number {
    return this.tableVersions.tick;
  }

  /**
   * Stores an answer tagged with what it read. Not stored when one of its tables changed while it
   * was computed (it may predate the change). Without `read`, the answer counts as reading any table.
   */
  store(key: string, response: Omit<CachedResponse, 'length'> & { length?: number }, ttlMs: number, read?: AnswerRead): void {
    const tables = read ? read.tables : [ANY_TABLE];
    if (read && this.tableVersions.changedSince([EVERYTHING, ...tables], read.since)) return;
    const encoded = tables.join(',');
    const length = response.length ?? Buffer.byteLength(response.body);
    void this.cache.set(key, `${response.status}\n${response.contentType}\n${length}\n${encoded}|${this.versionsOf(encoded)}\n${response.body}`, ttlMs);
  }

  /**
   * Makes stored answers unreachable (they age out): with a change, exactly those that read one of
   * its tables (and those that may read any); without, all of them. With shared versions, every
   * instance follows at once.
   */
  invalidate(change?: TableChange): void {
    const tables = change ? [ANY_TABLE, ...change.tables] : [EVERYTHING];
    const version = change?.version ?? Math.max(Date.now(), ...tables.map((table) => this.tableVersions.get(table) + 1));
    const changes = Object.fromEntries(tables.map((table) => [table, version]));
    this.tableVersions.apply(changes);
    void this.shared?.publish(changes);
  }

  /**
   * The current versions of `tables` as one string, for caches of derived data to key on (an
   * invalidation of one of the tables, or of everything, changes it).
   */
  versionOf(tables: readonly string[]): string {
    return this.versionsOf(tables.join(','));
  }

  /** Stops following shared versions. */
  async close(): Promise<void> {
    await this.shared?.close();
  }

  private versionsOf(encoded: string): string {
    let versions = this.current.get(encoded);
    if (versions !== undefined) return versions;
    versions = String(this.tableVersions.get(EVERYTHING));
    if (encoded !== '') for (const table of encoded.split(',')) versions += `.${this.tableVersions.get(table)}`;
    if (this.current.size >= MEMO_LIMIT) this.current.clear();
    this.current.set(encoded, versions);
    return versions;
  }

  private decode(stored: string | undefined): CachedResponse | undefined {
    if (stored === undefined) return undefined;
    const first = stored.indexOf('\n');
    const second = stored.indexOf('\n', first + 1);
    const third = stored.indexOf('\n', second + 1);
    const fourth = stored.indexOf('\n', third + 1);
    if (fourth < 0) return undefined;
    const bar = stored.lastIndexOf('|', fourth);
    if (bar <= third || stored.slice(bar + 1, fourth) !== this.versionsOf(stored.slice(third + 1, bar))) return undefined;
    return {
      status: Number(stored.slice(0, first)),
      contentType: stored.slice(first + 1, second),
      length: Number(stored.slice(second + 1, third)),
      body: stored.slice(fourth + 1),
    };
  }
}
