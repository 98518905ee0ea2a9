import { setTimeout as delay } from 'node:timers/promises';
import { BackendError, backendTimeout, userInputError } from '../../errors.ts';
import { probeHealth } from '../health.ts';
import type { QueryOptions, SqlEngine, SqlRow, SqlValue } from '../sql/port.ts';
import { trinoLiteral } from './literal.ts';
import { columnDecoder, parseTrinoJson, type CellDecoder, type TrinoColumn } from './types.ts';

/**
 * The Trino adapter of the SQL port, speaking Trino's client REST protocol with `fetch`
 * (https://trino.io/docs/current/develop/client-protocol.html): `POST /v1/statement`, then `GET`
 * each `nextUri` until there is none, `DELETE` on the `nextUri` to cancel.
 *
 * Not `trino-client` (0.2.9): it gives no way to abort an HTTP request in flight (a timeout could
 * only abandon the long poll, not stop it), parses bodies with axios' JSON.parse (a bigint past
 * 2^53, such as an Iceberg snapshot id, arrives altered before any code sees it), shares mutable
 * session headers between concurrent queries (every response's Set-/Added- headers are merged
 * into the client-wide defaults), never retries the 502/503/504 the protocol says to retry, and
 * cancels through `DELETE /v1/query/{id}` rather than the statement's `nextUri`.
 */

/** Options of the Trino adapter. */
export interface TrinoEngineOptions {
  /**
   * Coordinator URL, e.g. `https://trino.internal:8443`; a path prefix is kept (for a proxy).
   * `user:password@` in it is sent as HTTP Basic auth, to that origin only (Trino accepts
   * passwords over HTTPS only). Required.
   */
  url: string;
  /** Catalog of unqualified names (`X-Trino-Catalog`). Default `'iceberg'`. */
  catalog?: string;
  /** Schema of unqualified names (`X-Trino-Schema`). Default `'tourism_db'`. */
  schema?: string;
  /** Session user (`X-Trino-User`). Default: the URL's user, else `'nexus-gateway'`. */
  user?: string;
  /** Default time budget per query in ms; over it the query is cancelled on the server. Required. */
  timeoutMs: number;
  /** The role this engine serves (errors, health). Default `'lakehouse'`. */
  role?: 'lakehouse' | 'analytics';
}

const DEFAULTS = { catalog: 'iceberg', schema: 'tourism_db', user: 'nexus-gateway', role: 'lakehouse' } as const;
const ADAPTER = 'trino';
/** `X-Trino-Source`: names the gateway in Trino's query list. */
const SOURCE = 'nexus-gateway';
/**
 * Name of the prepared statement each parameterised query carries in its own request. Trino
 * keeps header-borne statements for that one request only, so one fixed name serves every query.
 */
const STATEMENT_NAME = 'nexus_statement';
const HEALTH_TIMEOUT_MS = 2_000;
/** Bound on the `DELETE` that cancels a query: a slow coordinator must not hold up the error. */
const CANCEL_TIMEOUT_MS = 1_000;
/** The protocol's "try again in 50–100 ms" statuses (from proxies and load balancers, not Trino). */
const RETRY_STATUSES = new Set([502, 503, 504]);
/** A Trino `USER_ERROR` in a time-travel read that blames the instant asked for. */
const TIME_TRAVEL = /\bFOR\s+(?:TIMESTAMP|VERSION)\s+AS\s+OF\b/i;
const HEADER_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

const TIMED_OUT = Symbol('timed out');
const CLOSING = Symbol('engine closing');
const CALLER_ABORTED = Symbol('aborted by the caller');

/** `io.trino.client.QueryError` as JSON. */
interface TrinoErrorBody {
  message?: string;
  errorCode?: number;
  errorName?: string;
  errorType?: string;
  errorLocation?: { lineNumber: number; columnNumber: number };
  failureInfo?: unknown;
}

/** The parts of `io.trino.client.QueryResults` the adapter reads. */
interface QueryResults {
  id: string;
  infoUri?: string;
  nextUri?: string;
  columns?: TrinoColumn[];
  data?: unknown[][];
  stats?: { state?: string };
  error?: TrinoErrorBody;
}

/** A query Trino ran and failed: its `QueryError`, kept as the `cause` of the BackendError. */
export class TrinoQueryError extends Error {
  readonly queryId: string;
  /** e.g. `TABLE_NOT_FOUND`, `INVALID_ARGUMENTS`, `EXCEEDED_TIME_LIMIT`. */
  readonly errorName: string;
  /** `USER_ERROR`, `INTERNAL_ERROR`, `INSUFFICIENT_RESOURCES` or `EXTERNAL`. */
  readonly errorType: string;
  readonly errorCode: number | undefined;
  readonly errorLocation: { lineNumber: number; columnNumber: number } | undefined;
  /** Trino's failure details (exception type, stack), for the logs. */
  readonly failureInfo: unknown;

  constructor(queryId: string, error: TrinoErrorBody) {
    super(error.message ?? 'query failed');
    this.name = 'TrinoQueryError';
    this.queryId = queryId;
    this.errorName = error.errorName ?? 'UNKNOWN';
    this.errorType = error.errorType ?? 'UNKNOWN';
    this.errorCode = error.errorCode;
    this.errorLocation = error.errorLocation;
    this.failureInfo = error.failureInfo;
  }
}

/** Where one query stands, for cancelling it from wherever it was interrupted. */
interface Progress {
  queryId: string | undefined;
  /** The last `nextUri` Trino gave: the one to `GET` next, or to `DELETE`. */
  nextUri: string | undefined;
  /** The `POST` in flight, until Trino answered it. */
  posting: Promise<QueryResults> | undefined;
  /** Aborts the `POST` itself (only after a grace period: see `cancel`). */
  postAbort: AbortController;
}

/**
 * The production adapter of the lakehouse role (and of analytics, if that ever runs on Trino):
 * capabilities `{ timeTravel: true }` (Iceberg `FOR TIMESTAMP AS OF`).
 *
 * Parameters are bound, never spliced: a query with parameters is sent as
 * `EXECUTE nexus_statement USING <literals>` with the SQL (its `?` intact) in the
 * `X-Trino-Prepared-Statement` header; the literals come from `trinoLiteral` alone.
 * Rows decode by column type (see `columnDecoder`). A query over its budget, or whose `signal`
 * aborts, is cancelled on the server (`DELETE` on its `nextUri`) and fails with
 * `backendTimeout` / a `BackendError`. Trino's own failures become `BackendError`s naming the
 * query id, with a `TrinoQueryError` as cause, except `INVALID_ARGUMENTS` in a time-travel read,
 * which blames the client's `asOf` and becomes `BAD_USER_INPUT`: any other user error of Trino's
 * is an error in the gateway's SQL, not in the GraphQL request.
 */
export function createTrinoEngine(options: TrinoEngineOptions): SqlEngine {
  const settings = settingsOf(options);
  const { role, timeoutMs } = settings;
  const running = new Map<AbortController, Promise<unknown>>();
  let closed = false;

  /** One HTTP exchange of the protocol, retried on 502/503/504 until `signal` aborts. */
  async function send(method: 'POST' | 'GET', url: string, body: string | undefined, headers: Record<string, string>, signal: AbortSignal): Promise<QueryResults> {
    for (;;) {
      const response = await fetch(url, { method, headers: { ...headers, ...authorizationFor(url) }, ...(body === undefined ? {} : { body }), signal });
      if (RETRY_STATUSES.has(response.status)) {
        await response.body?.cancel();
        await delay(50 + Math.random() * 50, undefined, { signal });
        continue;
      }
      const text = await response.text();
      if (response.status !== 200) {
        throw new Error(`HTTP ${response.status} from ${method} ${new URL(url).pathname}: ${text.slice(0, 500)}`);
      }
      const results = parseTrinoJson(text) as QueryResults | null;
      if (typeof results !== 'object' || results === null || typeof results.id !== 'string') {
        throw new Error(`not a Trino QueryResults document (${method} ${new URL(url).pathname}): ${text.slice(0, 200)}`);
      }
      return results;
    }
  }

  function authorizationFor(url: string): Record<string, string> {
    // Credentials go to the configured origin only, whatever host a nextUri names.
    return settings.authorization && new URL(url).origin === settings.origin ? { Authorization: settings.authorization } : {};
  }

  /** Runs one statement to completion, paging through every `nextUri`. */
  async function execute(statement: Statement, progress: Progress, signal: AbortSignal): Promise<SqlRow[]> {
    // Already aborted (say, the client went away while the request queued): send nothing.
    if (signal.aborted) throw signal.reason;
    // The POST is raced, not aborted: Trino may already have queued the query, and only its
    // answer says which nextUri cancels it.
    progress.posting = send('POST', settings.statementUrl, statement.body, statement.headers, progress.postAbort.signal);
    let results = await untilAborted(progress.posting, signal);
    progress.posting = undefined;

    const rows: SqlRow[] = [];
    let names: string[] | undefined;
    let decoders: CellDecoder[] | undefined;
    for (;;) {
      progress.queryId = results.id;
      progress.nextUri = results.nextUri === undefined ? undefined : new URL(results.nextUri, settings.statementUrl).href;
      if (results.error) throw new TrinoQueryError(results.id, results.error);
      if (!decoders && results.columns) {
        names = results.columns.map((column) => column.name);
        decoders = results.columns.map(columnDecoder);
      }
      if (results.data) {
        if (!names || !decoders) throw new Error('Trino sent data before its columns');
        for (const cells of results.data) rows.push(rowOf(names, decoders, cells));
      }
      if (progress.nextUri === undefined) return rows;
      results = await send('GET', progress.nextUri, undefined, settings.followHeaders, signal);
    }
  }

  /** Stops the query on the server: `DELETE` its `nextUri`, or wait for the POST to learn it. */
  async function cancel(progress: Progress): Promise<void> {
    if (progress.nextUri !== undefined) {
      await deleteQuery(progress.nextUri);
      return;
    }
    const posting = progress.posting;
    if (posting === undefined) return;
    // Interrupted before Trino answered the POST: cancel in the background once it does (the
    // caller has its error already); give up on the POST after a grace period.
    const giveUp = setTimeout(() => progress.postAbort.abort(), CANCEL_TIMEOUT_MS);
    giveUp.unref();
    void posting.then(
      (results) => (results.nextUri === undefined ? undefined : deleteQuery(new URL(results.nextUri, settings.statementUrl).href)),
      () => undefined,
    ).finally(() => clearTimeout(giveUp));
  }

  async function deleteQuery(nextUri: string): Promise<void> {
    try {
      const response = await fetch(nextUri, {
        method: 'DELETE',
        headers: { ...settings.followHeaders, ...authorizationFor(nextUri) },
        signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
      });
      await response.body?.cancel();
    } catch {
      // Best effort: Trino also abandons a query whose client stops polling (query.client.timeout).
    }
  }

  function failure(error: unknown, sql: string, progress: Progress): Error {
    if (error instanceof TrinoQueryError) {
      if (error.errorType === 'USER_ERROR' && error.errorName === 'INVALID_ARGUMENTS' && TIME_TRAVEL.test(sql)) {
        return userInputError(`Argument "asOf" is not a point in the table's kept history: ${error.message}`, { argumentName: 'asOf' });
      }
      return new BackendError({
        role,
        adapter: ADAPTER,
        message: `${error.errorName} (${error.errorType}): ${error.message} [query ${error.queryId}]`,
        cause: error,
        queryId: error.queryId,
        // Trino's own limit (query.max-execution-time) is a timeout too.
        timedOut: error.errorName === 'EXCEEDED_TIME_LIMIT',
      });
    }
    if (error instanceof BackendError) return error;
    const message = error instanceof TypeError && error.message === 'fetch failed'
      ? `cannot reach Trino at ${settings.origin}: ${describeCause(error.cause)}`
      : error instanceof Error ? error.message : String(error);
    return new BackendError({ role, adapter: ADAPTER, message, cause: error, ...(progress.queryId === undefined ? {} : { queryId: progress.queryId }) });
  }

  async function query<R extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = [], queryOptions: QueryOptions = {}): Promise<R[]> {
    if (closed) throw new BackendError({ role, adapter: ADAPTER, message: 'the engine is closed' });
    // Rendered before anything is sent: a value with no Trino literal is a bug of the caller's
    // (a TypeError/RangeError, masked as INTERNAL), not a backend failure.
    const statement = statementOf(sql, params, settings.sessionHeaders);
    const budget = queryOptions.timeoutMs ?? timeoutMs;
    // Trino has no ceiling on rows read; a statement that carries limits gets the server-side
    // run-time ceiling of its budget, so it stops even if our cancel cannot reach the server.
    if (queryOptions.limits) statement.headers['X-Trino-Session'] = `query_max_run_time=${Math.ceil(budget / 1000)}s`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(TIMED_OUT), budget);
    const callerSignal = queryOptions.signal;
    const onCallerAbort = () => controller.abort(CALLER_ABORTED);
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const progress: Progress = { queryId: undefined, nextUri: undefined, posting: undefined, postAbort: new AbortController() };

    const work = (async () => {
      try {
        return (await execute(statement, progress, controller.signal)) as R[];
      } catch (error) {
        if (controller.signal.aborted) {
          await cancel(progress);
          const reason: unknown = controller.signal.reason;
          if (reason === TIMED_OUT) throw backendTimeout(role, ADAPTER, budget, progress.queryId);
          throw new BackendError({
            role,
            adapter: ADAPTER,
            message: reason === CLOSING ? 'the engine closed while the query ran' : 'the query was aborted by its caller',
            cause: reason === CALLER_ABORTED ? callerSignal?.reason : error,
            ...(progress.queryId === undefined ? {} : { queryId: progress.queryId }),
          });
        }
        // A failure mid-stream (say, a value that does not decode) must not leave the query running.
        if (!(error instanceof TrinoQueryError)) await cancel(progress);
        throw failure(error, sql, progress);
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
        running.delete(controller);
      }
    })();
    running.set(controller, work);
    return work;
  }

  return {
    role,
    adapter: ADAPTER,
    dialect: 'trino',
    capabilities: { timeTravel: true },
    query,
    health: () => probeHealth(role, ADAPTER, async () => {
      await query('SELECT 1', [], { timeoutMs: HEALTH_TIMEOUT_MS });
    }),
    /** Cancels the queries still running (on the server too) and refuses new ones. Idempotent. */
    async close() {
      closed = true;
      for (const controller of running.keys()) controller.abort(CLOSING);
      await Promise.allSettled(running.values());
    },
  };
}

/** The HTTP form of one query: the POST body and headers. */
interface Statement {
  body: string;
  headers: Record<string, string>;
}

/**
 * Without parameters the SQL is the body. With them, the body is `EXECUTE nexus_statement USING
 * <literals>` and the SQL, its `?` intact, rides in `X-Trino-Prepared-Statement` as
 * `name=<url-encoded SQL>` (Trino splits that header on ',' and '=' before URL-decoding each
 * part, and encodeURIComponent escapes both).
 */
function statementOf(sql: string, params: readonly SqlValue[], sessionHeaders: Record<string, string>): Statement {
  const headers: Record<string, string> = { ...sessionHeaders, 'Content-Type': 'text/plain; charset=utf-8' };
  if (params.length === 0) return { body: sql, headers };
  headers['X-Trino-Prepared-Statement'] = `${STATEMENT_NAME}=${encodeURIComponent(sql)}`;
  return { body: `EXECUTE ${STATEMENT_NAME} USING ${params.map((value) => trinoLiteral(value)).join(', ')}`, headers };
}

/** One row as an object; a column named `__proto__` stays a column. */
function rowOf(names: readonly string[], decoders: readonly CellDecoder[], cells: readonly unknown[]): SqlRow {
  const row: SqlRow = {};
  for (let i = 0; i < names.length; i += 1) {
    const name = names[i] as string;
    const value = (decoders[i] as CellDecoder)(cells[i] ?? null);
    if (name === '__proto__') Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true });
    else row[name] = value;
  }
  return row;
}

/** Resolves as `promise`, or rejects as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function describeCause(cause: unknown): string {
  if (cause && typeof cause === 'object') {
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (typeof message === 'string') return message;
  }
  return 'network error';
}

interface Settings {
  role: 'lakehouse' | 'analytics';
  timeoutMs: number;
  origin: string;
  statementUrl: string;
  authorization: string | undefined;
  /** Headers of the `POST` (the protocol needs them there only). */
  sessionHeaders: Record<string, string>;
  /** Headers of `GET`/`DELETE` on a nextUri. */
  followHeaders: Record<string, string>;
}

function settingsOf(options: TrinoEngineOptions): Settings {
  const problems: string[] = [];
  let base: URL | undefined;
  try {
    base = new URL(options.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') problems.push(`url: expected http(s)://, got ${base.protocol}`);
  } catch {
    problems.push(`url: not a URL: ${JSON.stringify(options.url)}`);
  }
  if (!(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) problems.push(`timeoutMs: expected a positive number, got ${options.timeoutMs}`);
  const urlUser = base && base.username !== '' ? decodeURIComponent(base.username) : undefined;
  const password = base && base.password !== '' ? decodeURIComponent(base.password) : undefined;
  const user = options.user ?? urlUser ?? DEFAULTS.user;
  const catalog = options.catalog ?? DEFAULTS.catalog;
  const schema = options.schema ?? DEFAULTS.schema;
  for (const [name, value] of [['user', user], ['catalog', catalog], ['schema', schema]] as const) {
    if (!HEADER_VALUE.test(value)) problems.push(`${name}: expected printable ASCII without surrounding spaces, got ${JSON.stringify(value)}`);
  }
  if (problems.length > 0 || !base) throw new TypeError(`Invalid Trino engine options:\n  ${problems.join('\n  ')}`);

  base.username = '';
  base.password = '';
  const root = base.href.endsWith('/') ? base.href : `${base.href}/`;
  const followHeaders = { 'X-Trino-User': user };
  return {
    role: options.role ?? DEFAULTS.role,
    timeoutMs: options.timeoutMs,
    origin: base.origin,
    statementUrl: new URL('v1/statement', root).href,
    authorization: password === undefined && urlUser === undefined ? undefined : `Basic ${Buffer.from(`${urlUser ?? user}:${password ?? ''}`).toString('base64')}`,
    sessionHeaders: {
      ...followHeaders,
      'X-Trino-Source': SOURCE,
      'X-Trino-Catalog': catalog,
      'X-Trino-Schema': schema,
      // The lakehouse stores UTC without zone; a UTC session keeps Trino's coercions between
      // timestamp and timestamp with time zone (and current_timestamp) in the same frame.
      'X-Trino-Time-Zone': 'UTC',
      // Timestamps at their full precision rather than rounded to milliseconds by the server.
      'X-Trino-Client-Capabilities': 'PARAMETRIC_DATETIME',
    },
    followHeaders,
  };
}

// Snapshot reads are lakehouse queries (any engine with time travel); kept here for existing importers.
export { tableSnapshots, type TableSnapshot } from '../lakehouse/snapshots.ts';
