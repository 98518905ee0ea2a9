import { randomUUID } from 'node:crypto';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { BackendError, type BackendRole, backendTimeout } from '../../errors.ts';
import { probeHealth } from '../health.ts';
import type { QueryOptions, SqlEngine, SqlRow, SqlValue, StatementLimits } from '../sql/port.ts';
import { appendedServerError, createClickHouseReads } from './http-reads.ts';
import { prepareStatement, quoteValue, serverParameterText } from './quote.ts';
import { zoneOffsetMs } from '../time-zones.ts';

/** Options of the ClickHouse adapter of the analytics role. */
export interface ClickHouseEngineOptions {
  /**
   * HTTP(S) endpoint of the server, e.g. `http://localhost:8123`. May carry `user:password@` and
   * a `/database` path (the usual CLICKHOUSE_URL form); the options below win over them.
   */
  url: string;
  /** Database of the analytics tables and the reads' current database. Default: the URL's path, else `analytics`. */
  database?: string;
  /** Default: the URL's user, else `default`. */
  username?: string;
  /** Default: the URL's password, else empty. */
  password?: string;
  /**
   * Default time budget per statement in ms. Over it the HTTP request is aborted, the statement
   * is killed on the server (`KILL QUERY`) and the call fails with a timeout `BackendError`.
   */
  timeoutMs: number;
  /**
   * Most reads in flight at once (keep-alive connections of the reads' pool); more wait for a
   * free connection. Default 10: every replica's pool counts against the server's
   * `max_concurrent_queries` (100 by default), over which it refuses statements.
   */
  maxConnections?: number;
  /** Role served, for errors and health. Default `analytics`. */
  role?: 'analytics';
}

/** What the connected server can do, detected once from its version (then remembered). */
export interface ClickHouseFeatures {
  /** Server version, e.g. `[18, 16, 1]`. */
  readonly version: readonly number[];
  /** The server's time zone: the zone of text timestamps of a `DateTime` without its own zone. */
  readonly timeZone: string;
  /** The server binds `{name:Type}` parameters (see `SERVER_PARAMETERS_SINCE`). */
  readonly serverParameters: boolean;
  /** `DateTime64` exists (20.1): timestamps keep their milliseconds. */
  readonly dateTime64: boolean;
}

/**
 * First version whose parameters cover every port value type: typed query parameters came in
 * 19.x, but `Bool` only in 21.12 and `DateTime64` in 20.1; 22.3 is the first LTS with all of
 * them. Older servers (the Debian 18.16 peer) get client-side literals from `quote.ts`.
 */
export const SERVER_PARAMETERS_SINCE = [22, 3] as const;
const DATETIME64_SINCE = [20, 1] as const;

/** The ClickHouse adapter: the SQL port plus what migrations and bulk loads need. */
export interface ClickHouseEngine extends SqlEngine {
  /** Database holding the analytics tables. */
  readonly database: string;
  /** The server's abilities (detected on first use, remembered; a failed detection is retried). */
  features(options?: QueryOptions): Promise<ClickHouseFeatures>;
  /** Runs a statement without a result (DDL), outside any current database, so it may create it. */
  command(sql: string, options?: QueryOptions): Promise<void>;
  /** Inserts rows (objects keyed by column) into `table` as JSONEachRow. */
  insert(table: string, rows: readonly Record<string, unknown>[], options?: QueryOptions): Promise<void>;
}

/** Why a statement's controller aborted it. */
const TIMED_OUT = Symbol('timed out');
const CALLER_ABORTED = Symbol('aborted by the caller');
const CLOSING = Symbol('engine closing');

/** Budget of the `KILL QUERY` sent after a timeout: the caller hears of the timeout at most this late. */
const KILL_BUDGET_MS = 1_000;
/** Budget of the health probe. */
const HEALTH_BUDGET_MS = 2_000;
/** The client's own request timeout: never first, our timers and KILL QUERY govern. */
const CLIENT_REQUEST_TIMEOUT_MS = 2_147_483_647;

/**
 * The production adapter of the analytics role over ClickHouse's HTTP interface. Parameters are
 * bound by the server where it can (22.3+), otherwise written as literals by `quote.ts`; results
 * are read as `JSON`, whose `meta` gives each column's type, and mapped into the port's row shape
 * (`decodeRows`). Every statement carries a `query_id`, so a timeout or abort can kill it.
 */
export function createClickHouseEngine(options: ClickHouseEngineOptions): ClickHouseEngine {
  const role: BackendRole = options.role ?? 'analytics';
  const adapter = 'clickhouse';
  // Credentials and database come out of the URL here: the client would let a URL path
  // override the `default` database the admin connection needs.
  const endpoint = new URL(options.url);
  const database = options.database ?? (decodeURIComponent(endpoint.pathname.replace(/^\/+|\/+$/g, '')) || 'analytics');
  const username = options.username ?? (decodeURIComponent(endpoint.username) || 'default');
  const password = options.password ?? decodeURIComponent(endpoint.password);
  endpoint.username = '';
  endpoint.password = '';
  endpoint.pathname = '/';
  const common = {
    url: endpoint,
    username,
    password,
    request_timeout: CLIENT_REQUEST_TIMEOUT_MS,
    // Failures are thrown as BackendError and logged once by the gateway, not by the SDK too.
    log: { level: ClickHouseLogLevel.OFF },
    // Analytics answers are small aggregates: gzip would cost more than it saves.
    compression: { request: false, response: false },
    // Our decoding relies on 64-bit integers as JSON strings (the default, pinned here).
    clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } satisfies ClickHouseSettings,
  };
  // Reads, the hot path, have a transport of their own (see http-reads.ts).
  const reads = createClickHouseReads({
    endpoint,
    username,
    password,
    database,
    maxSockets: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    settings: { ...common.clickhouse_settings, ...READ_SETTINGS },
  });
  // DDL, inserts, KILL and version detection: `default` always exists, so migrations can create
  // `database` itself; a pool apart from the reads, so a KILL never queues behind them.
  const admin = createClient({ ...common, database: 'default' });
  let detected: Promise<ClickHouseFeatures> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  /** Statements in flight (their controllers), so close() can cancel them. */
  const running = new Set<AbortController>();
  let idle: (() => void) | undefined;

  /**
   * Shared by concurrent first statements, so it runs under its own budget, not under one
   * caller's signal (each caller still stops waiting at its own budget).
   */
  function features(): Promise<ClickHouseFeatures> {
    detected ??= detectFeatures(admin, AbortSignal.timeout(options.timeoutMs)).catch((error: unknown) => {
      detected = undefined;
      throw error;
    });
    return detected;
  }

  /**
   * Runs `work` under the statement's budget: on timeout, caller abort or close, stops waiting,
   * aborts the HTTP request, kills the statement by its id, and fails with a `BackendError`.
   */
  async function guarded<T>(queryOptions: QueryOptions, work: (signal: AbortSignal, queryId: string, settings: ClickHouseSettings) => Promise<T>): Promise<T> {
    if (closed) throw new BackendError({ role, adapter, message: 'the engine is closed' });
    const budget = queryOptions.timeoutMs ?? options.timeoutMs;
    const queryId = `nexus-${randomUUID()}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(TIMED_OUT), budget);
    const caller = queryOptions.signal;
    const onCallerAbort = (): void => controller.abort(CALLER_ABORTED);
    if (caller?.aborted) onCallerAbort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    const stopped = new Promise<never>((_, reject) => {
      const stop = (): void => reject(controller.signal.reason);
      if (controller.signal.aborted) stop();
      else controller.signal.addEventListener('abort', stop, { once: true });
    });
    // A server-side limit as well, in case the KILL cannot reach it (whole seconds, rounded up).
    const settings: ClickHouseSettings = { max_execution_time: Math.ceil(budget / 1000) + 1 };
    running.add(controller);
    try {
      // Already aborted (by the caller): nothing is sent.
      return await (controller.signal.aborted ? stopped : Promise.race([stopped, work(controller.signal, queryId, settings)]));
    } catch (error) {
      if (!controller.signal.aborted) {
        // The server's own limit (max_execution_time) struck first: a timeout all the same.
        if (isServerTimeout(error)) throw backendTimeout(role, adapter, budget, queryId);
        if (isServerLimit(error)) {
          const text = error instanceof Error ? error.message.split('\n')[0]?.slice(0, 300) ?? '' : String(error);
          throw new BackendError({ role, adapter, message: `${text} (query ${queryId})`, cause: error, queryId, limitExceeded: true });
        }
        throw wrap(error, queryId);
      }
      await kill(queryId);
      const reason: unknown = controller.signal.reason;
      if (reason === TIMED_OUT || isTimeoutReason(caller?.reason)) throw backendTimeout(role, adapter, budget, queryId);
      throw new BackendError({
        role,
        adapter,
        message: `${reason === CLOSING ? 'the engine closed while the query ran' : 'the query was aborted by its caller'} (query ${queryId})`,
        cause: reason === CLOSING ? error : caller?.reason,
        queryId,
      });
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
      running.delete(controller);
      if (running.size === 0) idle?.();
    }
  }

  async function kill(queryId: string): Promise<void> {
    // Aborting the request is not enough: before 19.x the server runs a read to its end even
    // after the client went away. ASYNC: return once the statement is marked for cancellation.
    await admin
      .command({ query: `KILL QUERY WHERE query_id = ${quoteValue(queryId)} ASYNC`, abort_signal: AbortSignal.timeout(KILL_BUDGET_MS) })
      .catch(() => undefined); // the server may be gone: then so is the query
  }

  function wrap(error: unknown, queryId: string): BackendError {
    if (error instanceof BackendError) return error;
    const text = error instanceof Error ? error.message : String(error);
    return new BackendError({ role, adapter, message: `${text.split('\n')[0]?.slice(0, 500) ?? ''} (query ${queryId})`, cause: error, queryId });
  }

  const engine: ClickHouseEngine = {
    role,
    adapter,
    dialect: 'clickhouse',
    capabilities: { timeTravel: false },
    database,
    features: (queryOptions = {}) => guarded(queryOptions, () => features()),
    async query<R extends SqlRow>(sql: string, params: readonly SqlValue[] = [], queryOptions: QueryOptions = {}): Promise<R[]> {
      // Placeholder count and values are checked before anything is sent: a mistake there is the
      // caller's (RangeError/TypeError), not the backend's.
      const prepared = prepareStatement(sql, params);
      return guarded(queryOptions, async (signal, queryId, settings) => {
        const server = await features();
        const statement = server.serverParameters
          ? prepared.withServerParameters()
          : { sql: prepared.withLiterals({ dateTime64: server.dateTime64 }), params: undefined };
        const text = await reads.read({
          // JSON: its `meta` names each column's type, which decoding needs (JSONEachRow has none).
          sql: `${statement.sql}\nFORMAT JSON`,
          queryId,
          settings: { ...settings, ...limitSettings(queryOptions.limits) },
          ...(statement.params ? { params: Object.fromEntries(Object.entries(statement.params).map(([name, value]) => [name, serverParameterText(value)])) } : {}),
          signal,
        });
        const body = parseAnswer(text);
        return decodeRows(body.meta, body.data, server.timeZone) as R[];
      });
    },
    command: (sql, queryOptions = {}) =>
      guarded(queryOptions, async (signal, queryId, settings) => {
        await admin.command({ query: sql, query_id: queryId, abort_signal: signal, clickhouse_settings: settings });
      }),
    insert: (table, rows, queryOptions = {}) =>
      guarded(queryOptions, async (signal, queryId, settings) => {
        if (rows.length === 0) return;
        await admin.insert({ table, values: [...rows], format: 'JSONEachRow', query_id: queryId, abort_signal: signal, clickhouse_settings: settings });
      }),
    health: () =>
      probeHealth(role, adapter, async () => {
        await engine.query('SELECT 1', [], { timeoutMs: HEALTH_BUDGET_MS });
      }),
    /** Cancels the statements still running (on the server too), refuses new ones, closes the connections. Idempotent. */
    close() {
      closing ??= (async () => {
        closed = true;
        if (running.size > 0) {
          const drained = new Promise<void>((resolve) => (idle = resolve));
          for (const controller of running) controller.abort(CLOSING);
          await drained;
        }
        reads.close();
        await admin.close().catch(() => undefined);
      })();
      return closing;
    },
  };
  return engine;
}

async function detectFeatures(client: ClickHouseClient, signal: AbortSignal): Promise<ClickHouseFeatures> {
  const result = await client.query({ query: 'SELECT version() AS version, timezone() AS time_zone', format: 'JSONEachRow', abort_signal: signal });
  const [row] = await result.json<{ version: string; time_zone: string }>();
  if (!row) throw new Error('the server did not report its version');
  const version = row.version.split('.').map(Number);
  return {
    version,
    timeZone: row.time_zone,
    serverParameters: atLeast(version, SERVER_PARAMETERS_SINCE),
    dateTime64: atLeast(version, DATETIME64_SINCE),
  };
}

function atLeast(version: readonly number[], wanted: readonly number[]): boolean {
  for (let i = 0; i < wanted.length; i += 1) {
    const have = version[i] ?? 0;
    const want = wanted[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

/** Default of `ClickHouseEngineOptions.maxConnections`. */
const DEFAULT_MAX_CONNECTIONS = 10;

/** A `FORMAT JSON` answer's parts the adapter reads. */
interface JsonAnswer {
  meta: { name: string; type: string }[];
  data: Record<string, unknown>[];
}

/** Parses a `FORMAT JSON` answer; one that does not parse carries the error the server appended, if any. */
function parseAnswer(text: string): JsonAnswer {
  let body: Partial<JsonAnswer>;
  try {
    body = JSON.parse(text) as Partial<JsonAnswer>;
  } catch (error) {
    throw appendedServerError(text) ?? error;
  }
  return { meta: body.meta ?? [], data: body.data ?? [] };
}

/** Settings of every read: joins answer NULL for a row without a match, as standard SQL does (not the type's default value). */
const READ_SETTINGS = { join_use_nulls: 1 } satisfies ClickHouseSettings;

/** `QueryOptions.limits` as ClickHouse settings; over one the server fails the read ('throw'). */
function limitSettings(limits: StatementLimits | undefined): ClickHouseSettings {
  if (!limits) return {};
  return {
    ...(limits.maxRowsToRead === undefined ? {} : { max_rows_to_read: String(limits.maxRowsToRead), read_overflow_mode: 'throw' }),
    ...(limits.maxResultRows === undefined ? {} : { max_result_rows: String(limits.maxResultRows), result_overflow_mode: 'throw' }),
  } as ClickHouseSettings;
}

/** ClickHouse errors 158 TOO_MANY_ROWS and 396 TOO_MANY_ROWS_OR_BYTES: a `max_rows_to_read`/`max_result_rows` ceiling struck. */
function isServerLimit(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return code === '158' || code === '396' || /^Code: (158|396)\b/.test(error.message);
}

/** ClickHouse error 159, TIMEOUT_EXCEEDED (18.16 words it `Code: 159, e.displayText() = ...`). */
function isServerTimeout(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (error as { code?: unknown }).code === '159' || /^Code: 159\b/.test(error.message);
}

function isTimeoutReason(reason: unknown): boolean {
  return (reason instanceof DOMException && reason.name === 'TimeoutError') || (reason instanceof BackendError && reason.timedOut);
}

// ---------------------------------------------------------------------------------------------
// Results: JSON values + meta types → the port's row shape.

type Decode = (value: unknown) => unknown;

const identity: Decode = (value) => value;
const decoders = new Map<string, Decode>();

/**
 * Rows of a `FORMAT JSON` answer in the port's shape: 64-bit integers (JSON strings) as numbers
 * when exact, else decimal strings; DateTime/DateTime64 as `Date` (their text read in the column's
 * zone, or the server's when the type names none); Date as UTC midnight; Nullable as null;
 * arrays element by element. Other types pass through as JSON gave them.
 */
export function decodeRows(meta: readonly { name: string; type: string }[], data: readonly Record<string, unknown>[], serverZone: string): SqlRow[] {
  const columns = meta.map(({ name, type }) => ({ name, decode: decoderFor(type, serverZone) }));
  if (columns.every((c) => c.decode === identity)) return data as SqlRow[];
  return data.map((row) => {
    for (const { name, decode } of columns) row[name] = decode(row[name]);
    return row;
  });
}

function decoderFor(type: string, serverZone: string): Decode {
  const key = `${serverZone}\u0000${type}`;
  let decode = decoders.get(key);
  if (!decode) {
    decode = buildDecoder(type.trim(), serverZone);
    if (decoders.size < 1_000) decoders.set(key, decode);
  }
  return decode;
}

function buildDecoder(type: string, serverZone: string): Decode {
  const wrapped = /^(Nullable|LowCardinality|Array)\((.*)\)$/s.exec(type);
  if (wrapped) {
    const inner = buildDecoder(wrapped[2]!.trim(), serverZone);
    if (inner === identity) return identity;
    if (wrapped[1] === 'Array') return (value) => (Array.isArray(value) ? value.map(inner) : value);
    if (wrapped[1] === 'Nullable') return (value) => (value === null ? null : inner(value));
    return inner;
  }
  if (/^U?Int(64|128|256)$/.test(type)) return integer;
  const dateTime = /^DateTime(?:64\(\s*\d+\s*(?:,\s*'([^']+)'\s*)?\)|\(\s*'([^']+)'\s*\))?$/.exec(type);
  if (dateTime) {
    const zone = dateTime[1] ?? dateTime[2] ?? serverZone;
    return (value) => (typeof value === 'string' ? wallClockToDate(value, zone) : value);
  }
  if (type === 'Date' || type === 'Date32') return (value) => (typeof value === 'string' ? wallClockToDate(value, 'UTC') : value);
  return identity;
}

function integer(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const n = Number(value);
  // Every integer beyond ±(2^53 - 1) converts to a double that is not a safe integer.
  return Number.isSafeInteger(n) ? n : value;
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?$/;
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'UCT', 'Etc/UCT', 'GMT', 'Etc/GMT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu', 'Etc/GMT0', 'GMT0']);
const DAY_MS = 86_400_000;

/**
 * The instant whose wall clock in `zone` reads `text`. In a zone with daylight saving time one
 * hour a year reads twice (the earlier instant is taken) and one never (read as if the clocks had
 * not moved yet): that is why our tables store `DateTime('UTC')`, whose text is never ambiguous.
 */
export function wallClockToDate(text: string, zone: string): Date {
  // The zero value (the epoch) prints as a zero date whatever the zone.
  if (text.startsWith('0000-00-00')) return new Date(0);
  const m = WALL_CLOCK.exec(text);
  if (!m) throw new Error(`unexpected timestamp text from ClickHouse: ${JSON.stringify(text)}`);
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), ms);
  if (UTC_ZONES.has(zone)) return new Date(wall);
  // The offsets a day before and after cover both sides of any switch near the wall time.
  const before = wall - zoneOffsetMs(zone, wall - DAY_MS);
  const after = wall - zoneOffsetMs(zone, wall + DAY_MS);
  if (before === after) return new Date(before);
  const readsBack = [before, after].filter((instant) => instant + zoneOffsetMs(zone, instant) === wall);
  return new Date(readsBack.length === 0 ? before : Math.min(...readsBack));
}

