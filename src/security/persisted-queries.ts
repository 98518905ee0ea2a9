import type { HttpReply } from '../http/http-reply.ts';
import { GraphQLError } from 'graphql';
import type { CachePort } from '../backends/cache/port.ts';
import { sha256Hex, type PersistedQueryManifest } from './persisted-manifest.ts';
import { roleAtLeast, type Role } from './principal.ts';

/**
 * Persisted queries: Apollo Server's automatic persisted queries (APQ) stored in the cache role,
 * and an allow-list mode in which only the operations of a manifest run.
 *
 * APQ is Apollo's protocol: a client sends `extensions.persistedQuery.sha256Hash` alone; an
 * unknown hash is answered `PERSISTED_QUERY_NOT_FOUND` (HTTP 200, never cached), the client sends
 * the text with the hash once, and from then on the hash alone runs, also as a GET, which CDNs and
 * the response cache can keep. With Redis as the cache role every instance shares the registrations.
 */

/** Apollo's key-value cache interface (`@apollo/utils.keyvaluecache`), which its APQ store uses. */
export interface PersistedQueryStore {
  get(key: string): Promise<string | undefined>;
  /** `ttl` in seconds; `null` keeps the entry as long as the cache does. */
  set(key: string, value: string, options?: { ttl?: number | null }): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

/** Options of `persistedQueryStore`. */
export interface PersistedQueryStoreOptions {
  /** The cache role (in-process LRU, or Redis: shared by every instance). */
  cache: CachePort;
  /** Time to live of a registration when Apollo names none, in ms. */
  ttlMs: number;
  /** The manifest's operations are answered from it, whatever the cache holds (in any mode). */
  allowList?: AllowList | undefined;
  /** Accept registrations (APQ). Without it only the manifest's hashes resolve. Default true. */
  register?: boolean;
}

/** Prefix of APQ entries in the cache role (Apollo adds its own `apq:` inside it). */
const STORE_PREFIX = 'pq:';
/** A SHA-256 in hex, as APQ hashes and manifest ids are. */
const HASH_LENGTH = 64;

/** Apollo's `persistedQueries.cache` over the cache role, with allow-listed operations served from the manifest. */
export function persistedQueryStore(options: PersistedQueryStoreOptions): PersistedQueryStore {
  const { cache, ttlMs, allowList } = options;
  const register = options.register ?? true;
  // Apollo namespaces its keys (`apq:<hash>`); the hash is the last 64 characters either way.
  const listed = (key: string) => allowList?.body(key.slice(-HASH_LENGTH));
  return {
    async get(key) {
      return listed(key) ?? (register ? cache.get(STORE_PREFIX + key) : undefined);
    },
    async set(key, value, setOptions) {
      if (!register || listed(key) !== undefined) return;
      const ttl = setOptions?.ttl;
      await cache.set(STORE_PREFIX + key, value, typeof ttl === 'number' ? ttl * 1000 : ttlMs);
    },
    async delete(key) {
      await cache.deletePrefix(STORE_PREFIX + key);
    },
  };
}

/** What identifies the operation of a request: its text, or only the hash of a persisted one. */
export interface OperationIdentity {
  query?: unknown;
  hash?: unknown;
}

/** Options of `AllowList`. */
export interface AllowListOptions {
  /**
   * Callers of this role or above run any operation (so GraphiQL keeps working for analysts);
   * `null`: nobody bypasses the list. Default `'analyst'`.
   */
  bypassRole?: Role | null;
}

/**
 * Allow-list mode (`PERSISTED_QUERIES_MODE=allow-list`): only the manifest's operations run, sent
 * either as the hash alone or as a text whose hash is listed. Anything else is refused with
 * `FORBIDDEN` before it is parsed, let alone executed.
 */
export class AllowList {
  private readonly bodies: ReadonlyMap<string, string>;
  private readonly bypassRole: Role | null;

  constructor(manifest: PersistedQueryManifest, options: AllowListOptions = {}) {
    this.bodies = new Map(manifest.operations.map((op) => [op.id, op.body]));
    this.bypassRole = options.bypassRole === undefined ? 'analyst' : options.bypassRole;
  }

  get size(): number {
    return this.bodies.size;
  }

  /** The listed text of `hash`, if listed. */
  body(hash: string): string | undefined {
    return this.bodies.get(hash);
  }

  /** Why the operation may not run, or `undefined` when it may. */
  check(operation: OperationIdentity, role: Role): GraphQLError | undefined {
    if (this.bypassRole !== null && roleAtLeast(role, this.bypassRole)) return undefined;
    // The text is what would run, so it is the text's hash that must be listed, whatever hash
    // came along with it.
    if (typeof operation.query === 'string' && operation.query !== '') {
      const hash = sha256Hex(operation.query);
      return this.bodies.has(hash) ? undefined : refusal(`This operation is not in the persisted-query allow-list (its SHA-256 is ${hash}).`, hash);
    }
    if (typeof operation.hash === 'string') {
      return this.bodies.has(operation.hash) ? undefined : refusal(`Persisted query ${operation.hash.slice(0, 80)} is not in the allow-list.`, operation.hash.slice(0, 80));
    }
    // Neither text nor hash: nothing can run; Apollo answers the malformed request itself.
    return undefined;
  }

  /**
   * The HTTP form of `check`: reads the operations from the GET query string or the POST body (a
   * batch is judged operation by operation) and, when one is refused, answers 403 with its error
   * and returns false.
   */
  admitHttp(res: HttpReply, role: Role, method: string, search: string, body: unknown): boolean {
    for (const operation of httpOperations(method, search, body)) {
      const refused = this.check(operation, role);
      if (!refused) continue;
      const text = JSON.stringify({ errors: [refused.toJSON()] });
      res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return false;
    }
    return true;
  }
}

function refusal(message: string, hash: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN', reason: 'PERSISTED_QUERY_NOT_IN_ALLOW_LIST', hash } });
}

/**
 * The text and persisted hash of each operation of a GraphQL-over-HTTP request, read the way
 * Apollo reads them (GET: the `query` and JSON `extensions` parameters; POST: the JSON body, or
 * each element of a batch).
 */
export function httpOperations(method: string, search: string, body: unknown): OperationIdentity[] {
  if (method === 'GET') {
    const params = new URLSearchParams(search);
    let extensions: unknown;
    try {
      extensions = JSON.parse(params.get('extensions') ?? 'null');
    } catch {
      extensions = undefined;
    }
    return [{ query: params.get('query') ?? undefined, hash: persistedHash(extensions) }];
  }
  return (Array.isArray(body) ? body : [body]).map(bodyOperation);
}

function bodyOperation(body: unknown): OperationIdentity {
  if (typeof body !== 'object' || body === null) return {};
  const { query, extensions } = body as { query?: unknown; extensions?: unknown };
  return { query, hash: persistedHash(extensions) };
}

/** `extensions.persistedQuery.sha256Hash`, if present. */
export function persistedHash(extensions: unknown): unknown {
  if (typeof extensions !== 'object' || extensions === null) return undefined;
  const persisted = (extensions as { persistedQuery?: unknown }).persistedQuery;
  if (typeof persisted !== 'object' || persisted === null) return undefined;
  return (persisted as { sha256Hash?: unknown }).sha256Hash;
}
