import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BIGINT,
  DuckDBTypeId,
  LIST,
  TIMESTAMPTZ,
  VARCHAR,
  listValue,
  timestampTZValue,
  type DuckDBArrayType,
  type DuckDBArrayValue,
  type DuckDBBlobValue,
  type DuckDBConnection,
  type DuckDBDateValue,
  type DuckDBDecimalType,
  type DuckDBListType,
  type DuckDBListValue,
  type DuckDBMapType,
  type DuckDBMapValue,
  type DuckDBStructType,
  type DuckDBStructValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { duckValue, parseLiterals, parseTrinoTimestamp, TrinoFailure, type FixtureValue } from './trino-literals.ts';
import { translateUpdate, type FixtureColumn, type FixtureUpdate } from './trino-sql.ts';

/**
 * A Trino coordinator as far as a client can tell: Trino's client REST protocol
 * (https://trino.io/docs/current/develop/client-protocol.html) served in-process, answering from
 * DuckDB. `POST /v1/statement` queues the query (first answer: QUEUED, no data), `GET` on each
 * `nextUri` long-polls and pages the rows (`pageSize` per page, then a last page with columns and
 * no data, as Trino does), `DELETE` on a `nextUri` cancels (DuckDB is interrupted). Columns carry
 * Trino type names and type signatures, data Trino's JSON encodings (bigint as JSON numbers,
 * decimal/date/timestamp as strings), failures Trino's `error` object.
 *
 * Prepared statements are Trino's header form: `EXECUTE <name> USING <literals>` with the SQL in
 * `X-Trino-Prepared-Statement`; the fixture parses the literals (Trino's literal syntax only, so
 * a client that quotes wrongly gets a syntax error or a different value) and binds them with
 * DuckDB's own parameters. Trino rules it enforces: the parameter count, no `;`, no `?` without
 * EXECUTE, the timestamp format of a CAST to `timestamp with time zone` in `FOR TIMESTAMP AS OF`.
 * It does not police DuckDB-only SQL in queries: a query runs on DuckDB.
 *
 * Statements that change the catalog (`CREATE SCHEMA`, `CREATE TABLE`, `CREATE VIEW`, `INSERT`,
 * `DELETE`) are parsed and checked as Trino with its Iceberg connector would (test/helpers/trino-sql.ts),
 * then run on DuckDB; they answer as Trino does: `updateType`, and for INSERT/DELETE a one-row
 * `rows` bigint column with the count, also as `updateCount`; DDL answers with no columns.
 *
 * Time travel: tables given in `history` answer `FOR TIMESTAMP AS OF CAST(? AS TIMESTAMP(p) WITH
 * TIME ZONE)` from the relation of the newest snapshot at or before the instant (Iceberg's rule;
 * before the first one, Iceberg's INVALID_ARGUMENTS error), and `"<table>$snapshots"` from the
 * snapshot list. Every other table answers `"<table>$snapshots"` too: each INSERT, DELETE, UPDATE
 * or MERGE that changed rows commits a snapshot of its table (a new random `snapshot_id`, the
 * previous one as `parent_id`, `committed_at` in milliseconds as Iceberg keeps it), as the Iceberg
 * connector does; a write that changed nothing commits none.
 *
 * Trino functions the gateway's SQL uses that DuckDB lacks or names otherwise are macros on each
 * connection (`json_extract_scalar`, `json_parse`, `json_format`), with Trino's behaviour where
 * they differ (`json_extract_scalar` of an object or of text that is not JSON is NULL); a cast to
 * `ARRAY(VARCHAR)` is DuckDB's `VARCHAR[]`. Every
 * request is logged (`requests`), every cancellation too.
 */

/** One Iceberg snapshot of a fixture table. */
export interface FixtureSnapshot {
  snapshotId: bigint;
  parentId?: bigint | null;
  committedAt: Date;
  operation: string;
  summary: Record<string, string>;
  /** A DuckDB relation holding the table as of this snapshot (e.g. `history.tours_v1`). */
  relation: string;
}

/** The snapshots of one table, as named in SQL (`schema.table`). */
export interface FixtureTableHistory {
  table: string;
  snapshots: readonly FixtureSnapshot[];
}

export interface TrinoFixtureOptions {
  /** Opens a DuckDB connection; the fixture pools them (one per query running) and never closes them. */
  connect: () => Promise<DuckDBConnection>;
  /** Rows per data page. Default 4: small, so clients page. */
  pageSize?: number;
  /** Longest a GET waits for a running query before answering RUNNING without data. Default 25 ms. */
  maxWaitMs?: number;
  /** Tables with time travel and `$snapshots`. Default none. */
  history?: readonly FixtureTableHistory[];
  /**
   * Wait added to every INSERT, DELETE, UPDATE and MERGE before it answers, in ms: on Iceberg
   * each such statement is a commit (metadata files written to object storage), typically some
   * hundreds of ms. Default 0.
   */
  commitLatencyMs?: number;
  /**
   * Called once a statement ran on DuckDB (so it is committed there) and before the fixture
   * answers it: until it settles, the client's polls see the query running. A fault test kills
   * the client process here, between a commit and the client hearing of it. A rejection fails
   * the query. Not called for statements that failed.
   */
  onStatement?: (query: FixtureQuery) => Promise<void> | void;
}

/** A request as the fixture received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** The query it concerns (assigned by the fixture for a POST). */
  queryId: string | undefined;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
  status: number;
  /** Rows in the answer (GET). */
  rows: number;
}

export type QueryState = 'QUEUED' | 'RUNNING' | 'FINISHED' | 'FAILED';

/** What the fixture knows of one query. */
export interface FixtureQuery {
  readonly id: string;
  /** The statement as prepared (after resolving EXECUTE), `?` intact. */
  sql: string | undefined;
  /** The values of the USING list, as parsed. */
  params: readonly unknown[];
  /** What ran on DuckDB (after the time-travel and `$snapshots` rewrites). */
  duckdbSql: string | undefined;
  state: QueryState;
  /** Trino's errorName when FAILED. */
  errorName: string | undefined;
  /** Trino's `updateType` of a statement that changes the catalog (`CREATE TABLE`, `INSERT`, ...). */
  updateType: string | undefined;
  /** Rows an INSERT or DELETE wrote (`updateCount`). */
  updateCount: number | undefined;
  cancelled: boolean;
  /** Resolves when DuckDB is done with the query (finished, failed or interrupted). */
  settled: Promise<void>;
}

export interface TrinoFixture {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly requests: readonly RecordedRequest[];
  readonly queries: ReadonlyMap<string, FixtureQuery>;
  /** Query ids, in the order their DELETE arrived. */
  readonly cancellations: readonly string[];
  /** Resolves with the next query POSTed after the call. */
  nextQuery(): Promise<FixtureQuery>;
  /** Resolves when a DELETE for `queryId` has arrived (at once if it already has). */
  whenCancelled(queryId: string): Promise<void>;
  /** The next `count` requests get `status` and an empty body (a proxy's 502/503/504). */
  failNext(status: number, count?: number): void;
  /** Stops the server; interrupts queries still running. */
  close(): Promise<void>;
}

interface TrinoErrorJson {
  message: string;
  errorCode: number;
  errorName: string;
  errorType: string;
  errorLocation: { lineNumber: number; columnNumber: number };
  failureInfo: { type: string; message: string; suppressed: []; stack: [] };
}

interface ColumnJson {
  name: string;
  type: string;
  typeSignature: SignatureJson;
}

interface SignatureJson {
  rawType: string;
  arguments: ({ kind: 'TYPE'; value: SignatureJson } | { kind: 'NAMED_TYPE'; value: { fieldName: { name: string }; typeSignature: SignatureJson } } | { kind: 'LONG'; value: number })[];
}

interface RunningQuery extends FixtureQuery {
  slug: string;
  token: number;
  result: { columns: ColumnJson[]; rows: unknown[][] } | undefined;
  error: TrinoErrorJson | undefined;
  sent: number;
  connection: DuckDBConnection | undefined;
  session: { catalog: string; schema: string; timeZone: string };
}

/** Starts the fixture on a free loopback port. */
export async function startTrinoFixture(options: TrinoFixtureOptions): Promise<TrinoFixture> {
  const pageSize = options.pageSize ?? 4;
  const maxWaitMs = options.maxWaitMs ?? 25;
  const commitLatencyMs = options.commitLatencyMs ?? 0;
  const histories = new Map((options.history ?? []).map((history) => [history.table.toLowerCase(), history]));
  const requests: RecordedRequest[] = [];
  const queries = new Map<string, RunningQuery>();
  const cancellations: string[] = [];
  const cancelWaiters = new Map<string, (() => void)[]>();
  let queryWaiters: ((query: FixtureQuery) => void)[] = [];
  const idle: DuckDBConnection[] = [];
  let failures: { status: number; count: number } | undefined;
  let sequence = 0;
  let base = '';

  async function acquire(): Promise<DuckDBConnection> {
    const connection = idle.pop();
    if (connection) return connection;
    const fresh = await options.connect();
    // Timestamps with time zone compare and print in UTC, whatever the machine's zone.
    await fresh.run("SET SESSION TimeZone = 'UTC'").catch(() => undefined);
    for (const macro of TRINO_FUNCTIONS) await fresh.run(macro);
    return fresh;
  }

  const setup = await acquire();
  try {
    await createSnapshotTables(setup, histories);
  } finally {
    idle.push(setup);
  }
  /** Tables whose `$snapshots` the fixture keeps from their writes (`schema.table`). */
  const tracked = new Set<string>();
  // Snapshot tables are created and appended to one statement at a time (DuckDB refuses concurrent catalog writes).
  let snapshotWork: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = snapshotWork.then(work);
    snapshotWork = next.catch(() => undefined);
    return next;
  };

  /** Creates the (empty) `$snapshots` table of a base table that has none yet; false when there is no such table. */
  async function trackSnapshots(connection: DuckDBConnection, key: string): Promise<boolean> {
    if (histories.has(key) || tracked.has(key)) return true;
    const [schema = '', table = ''] = key.split('.');
    if (!(await columnsOf(connection, schema, table))) return false;
    await serially(async () => {
      await connection.run('CREATE SCHEMA IF NOT EXISTS trino_fixture');
      await connection.run(`CREATE TABLE IF NOT EXISTS trino_fixture."${key}$snapshots" (${SNAPSHOT_COLUMNS})`);
    });
    tracked.add(key);
    return true;
  }

  /** Commits a snapshot of `key` after a write that changed `count` rows. */
  async function commitSnapshot(connection: DuckDBConnection, key: string, operation: string, count: number, queryId: string): Promise<void> {
    if (!(await trackSnapshots(connection, key))) return;
    const [schema = '', table = ''] = key.split('.');
    await serially(async () => {
      const snapshots = `trino_fixture."${key}$snapshots"`;
      const last = (await connection.runAndReadAll(`SELECT snapshot_id, epoch_ms(committed_at) FROM ${snapshots} ORDER BY committed_at DESC LIMIT 1`)).getRows()[0];
      const total = (await connection.runAndReadAll(`SELECT count(*) FROM "${schema}"."${table}"`)).getRows()[0]?.[0];
      // Iceberg keeps commit times in milliseconds; each one after its parent.
      const millis = BigInt(Math.max(Date.now(), Number(last?.[1] ?? 0) + 1));
      const snapshotId = BigInt.asIntN(64, BigInt(`0x${randomBytes(8).toString('hex')}`)) & ((1n << 63n) - 1n);
      const summary: Record<string, string> = { 'total-records': String(total ?? 0), 'trino_query_id': queryId };
      summary[operation === 'append' ? 'added-records' : 'changed-records'] = String(count);
      await connection.run(
        `INSERT INTO ${snapshots} VALUES (?, ?, ?, ?, ?, map(?, ?))`,
        [
          timestampTZValue(millis * 1000n),
          snapshotId,
          (last?.[0] as bigint | undefined) ?? null,
          operation,
          `s3://warehouse/${key.replace('.', '/')}/metadata/snap-${snapshotId}.avro`,
          listValue(Object.keys(summary)),
          listValue(Object.values(summary)),
        ],
        [TIMESTAMPTZ, BIGINT, BIGINT, VARCHAR, VARCHAR, LIST(VARCHAR), LIST(VARCHAR)],
      );
    });
  }

  const server = http.createServer({ maxHeaderSize: 1 << 20 }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      handle(request, body)
        .then(({ status, json, queryId, rows }) => reply(request, response, body, status, json, queryId, rows))
        .catch((error: unknown) => reply(request, response, body, 500, String(error), undefined, 0));
    });
  });

  function reply(request: http.IncomingMessage, response: http.ServerResponse, body: string, status: number, payload: unknown, queryId: string | undefined, rows: number): void {
    requests.push({
      method: request.method ?? '',
      path: request.url ?? '',
      queryId,
      headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
      body,
      status,
      rows,
    });
    if (typeof payload === 'string' || payload === undefined) {
      response.writeHead(status, { 'content-type': 'text/plain' }).end(payload ?? '');
    } else {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    }
  }

  async function handle(request: http.IncomingMessage, body: string): Promise<{ status: number; json: unknown; queryId: string | undefined; rows: number }> {
    if (failures && failures.count > 0) {
      failures.count -= 1;
      return { status: failures.status, json: '', queryId: undefined, rows: 0 };
    }
    const url = new URL(request.url ?? '/', base);
    if (request.method === 'POST' && url.pathname === '/v1/statement') return submit(request, body);
    const match = /^\/v1\/statement\/(?:queued|executing)\/([^/]+)\/([^/]+)\/(\d+)$/.exec(url.pathname);
    const query = match ? queries.get(match[1] ?? '') : undefined;
    if (!match || !query || query.slug !== match[2]) return { status: 404, json: 'Query not found', queryId: match?.[1], rows: 0 };
    if (request.method === 'DELETE') {
      cancel(query);
      return { status: 204, json: undefined, queryId: query.id, rows: 0 };
    }
    if (request.method !== 'GET') return { status: 405, json: 'Method not allowed', queryId: query.id, rows: 0 };
    if (query.cancelled) return { status: 410, json: 'Query was canceled', queryId: query.id, rows: 0 };
    return { ...(await nextPage(query)), queryId: query.id };
  }

  function submit(request: http.IncomingMessage, body: string): { status: number; json: unknown; queryId: string | undefined; rows: number } {
    const user = header(request, 'x-trino-user');
    if (!user) return { status: 400, json: 'Error: X-Trino-User must be set', queryId: undefined, rows: 0 };
    let prepared: Map<string, string>;
    try {
      prepared = preparedStatements(header(request, 'x-trino-prepared-statement'));
    } catch (error) {
      return { status: 400, json: (error as Error).message, queryId: undefined, rows: 0 };
    }
    sequence += 1;
    const now = new Date();
    const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
    const query: RunningQuery = {
      id: `${stamp}_${String(sequence).padStart(5, '0')}_fixtr`,
      slug: `y${randomBytes(8).toString('hex')}`,
      token: 0,
      sql: undefined,
      params: [],
      duckdbSql: undefined,
      state: 'QUEUED',
      errorName: undefined,
      updateType: undefined,
      updateCount: undefined,
      cancelled: false,
      settled: Promise.resolve(),
      result: undefined,
      error: undefined,
      sent: 0,
      connection: undefined,
      session: {
        catalog: header(request, 'x-trino-catalog') ?? 'system',
        schema: header(request, 'x-trino-schema') ?? 'default',
        timeZone: header(request, 'x-trino-time-zone') ?? 'UTC',
      },
    };
    queries.set(query.id, query);
    query.settled = execute(query, body, prepared);
    for (const resolve of queryWaiters) resolve(query);
    queryWaiters = [];
    return { status: 200, json: results(query, 'queued'), queryId: query.id, rows: 0 };
  }

  async function execute(query: RunningQuery, body: string, prepared: Map<string, string>): Promise<void> {
    let connection: DuckDBConnection | undefined;
    try {
      const { sql, params } = resolveStatement(body, prepared);
      query.sql = sql;
      query.params = params;
      connection = await acquire();
      if (query.cancelled) throw new TrinoFailure('USER_CANCELED', 3, 'Query was canceled');
      const reading = connection;
      // EXPLAIN (TYPE IO, FORMAT JSON): DuckDB's plan of the statement, told in Trino's IO-plan shape.
      const explainIo = EXPLAIN_IO.exec(sql);
      const planned = explainIo ? sql.slice(explainIo[0].length) : sql;
      const update = explainIo ? undefined : await translateUpdate(sql, params, query.session, (schema, table) => columnsOf(reading, schema, table));
      if (!update) {
        for (const match of planned.matchAll(SNAPSHOTS)) await trackSnapshots(reading, `${match[1] ?? query.session.schema}.${match[2] ?? ''}`.toLowerCase());
      }
      const rewritten = update ? bindUpdate(update) : rewrite(planned, params, query.session, histories, tracked);
      rewritten.sql = castTypes(rewritten.sql);
      if (explainIo) rewritten.sql = `EXPLAIN (FORMAT JSON) ${rewritten.sql}`;
      query.duckdbSql = rewritten.sql;
      query.connection = connection;
      query.state = 'RUNNING';
      const statement = await connection.prepare(rewritten.sql);
      try {
        if (query.cancelled) throw new TrinoFailure('USER_CANCELED', 3, 'Query was canceled');
        statement.bind(rewritten.values, rewritten.types as DuckDBType[]);
        const reader = await statement.runAndReadAll();
        await options.onStatement?.(query);
        if (update) {
          if (update.countsRows) {
            // Trino's table writer answers one bigint row, `rows`; the protocol repeats it as updateCount.
            const count = BigInt(reader.getRows()[0]?.[0] as bigint | number);
            if (update.writes && commitLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, commitLatencyMs));
            // Committed before the answer, so a client that saw the answer sees the snapshot.
            if (update.writes && count > 0n) {
              await commitSnapshot(connection, `${update.writes.schema}.${update.writes.table}`, update.writes.operation, Number(count), query.id);
            }
            query.updateType = update.updateType;
            query.updateCount = Number(count);
            query.result = { columns: [{ name: 'rows', ...trinoTypeOf(BIGINT) }], rows: [[rawJson(String(count))]] };
          } else {
            query.updateType = update.updateType;
            query.result = { columns: [], rows: [] };
          }
        } else if (explainIo) {
          const plan = String(reader.getRowObjects().find((row) => row['explain_key'] === 'physical_plan')?.['explain_value'] ?? '[]');
          query.result = { columns: [{ name: 'Query Plan', ...trinoTypeOf(VARCHAR) }], rows: [[JSON.stringify(ioPlan(JSON.parse(plan) as unknown, query.session.catalog))]] };
        } else {
          const types = reader.columnTypes();
          query.result = {
            columns: reader.columnNames().map((name, i) => ({ name, ...trinoTypeOf(types[i] as DuckDBType) })),
            rows: reader.getRows().map((row) => row.map((value, i) => encodeValue(types[i] as DuckDBType, value))),
          };
        }
      } finally {
        statement.destroySync();
      }
    } catch (error) {
      query.error = trinoError(query.cancelled ? new TrinoFailure('USER_CANCELED', 3, 'Query was canceled') : error, query.session);
      query.state = 'FAILED';
      query.errorName = query.error.errorName;
    } finally {
      query.connection = undefined;
      if (connection) idle.push(connection);
    }
  }

  async function nextPage(query: RunningQuery): Promise<{ status: number; json: unknown; rows: number }> {
    let timer: NodeJS.Timeout | undefined;
    // A long poll, as Trino's: answer when the query is done, or after maxWaitMs without data.
    await Promise.race([query.settled, new Promise((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    clearTimeout(timer);
    query.token += 1;
    if (query.error) return { status: 200, json: { ...results(query), error: query.error }, rows: 0 };
    const result = query.result;
    if (!result) return { status: 200, json: results(query, 'executing'), rows: 0 };
    const page = result.rows.slice(query.sent, query.sent + pageSize);
    query.sent += page.length;
    if (page.length === 0) {
      // The last answer: columns, no data, no nextUri.
      query.state = 'FINISHED';
      return { status: 200, json: { ...results(query), columns: result.columns }, rows: 0 };
    }
    return { status: 200, json: { ...results(query, 'executing'), columns: result.columns, data: page }, rows: page.length };
  }

  function results(query: RunningQuery, next?: 'queued' | 'executing'): Record<string, unknown> {
    return {
      id: query.id,
      infoUri: `${base}/ui/query.html?${query.id}`,
      ...(next ? { nextUri: `${base}/v1/statement/${next}/${query.id}/${query.slug}/${query.token}` } : {}),
      stats: { state: query.state, queued: query.state === 'QUEUED', scheduled: query.state !== 'QUEUED', nodes: 1, processedRows: query.sent },
      warnings: [],
      // Known once the statement is analysed, so absent from the queued answer.
      ...(query.updateType !== undefined && next !== 'queued' ? { updateType: query.updateType } : {}),
      ...(query.updateCount !== undefined && next !== 'queued' ? { updateCount: query.updateCount } : {}),
    };
  }

  function cancel(query: RunningQuery): void {
    cancellations.push(query.id);
    for (const resolve of cancelWaiters.get(query.id) ?? []) resolve();
    cancelWaiters.delete(query.id);
    if (query.cancelled || query.state === 'FINISHED' || query.state === 'FAILED') return;
    query.cancelled = true;
    const connection = query.connection;
    if (!connection) return;
    // An interrupt that lands before DuckDB starts executing is lost: repeat it for as long as
    // the query holds the connection (it lets go only once DuckDB has stopped).
    connection.interrupt();
    const repeat = setInterval(() => {
      if (query.connection === connection) connection.interrupt();
      else clearInterval(repeat);
    }, 5);
    void query.settled.finally(() => clearInterval(repeat));
  }

  // Trino's HTTP server (Jetty) keeps idle connections for minutes; Node's default of 5 s would
  // close a client's pooled socket under a request now and then (ECONNRESET on its next query).
  server.keepAliveTimeout = 200_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    requests,
    queries,
    cancellations,
    nextQuery() {
      return new Promise((resolve) => queryWaiters.push(resolve));
    },
    whenCancelled(queryId) {
      if (cancellations.includes(queryId)) return Promise.resolve();
      return new Promise((resolve) => cancelWaiters.set(queryId, [...(cancelWaiters.get(queryId) ?? []), resolve]));
    },
    failNext(status, count = 1) {
      failures = { status, count };
    },
    async close() {
      for (const query of queries.values()) if (query.state === 'RUNNING' || query.state === 'QUEUED') cancel(query);
      await Promise.allSettled([...queries.values()].map((query) => query.settled));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function header(request: http.IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

// ---------------------------------------------------------------------------------------------
// Statements: EXECUTE resolution (its literals: trino-literals.ts), the rules Trino checks first.

/** Trino's parsing of `X-Trino-Prepared-Statement`: split on ',', then on '=', URL-decode each part. */
function preparedStatements(value: string | undefined): Map<string, string> {
  const statements = new Map<string, string>();
  for (const item of (value ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const parts = item.split('=').map((part) => part.trim());
    if (parts.length !== 2) throw new Error('Invalid X-Trino-Prepared-Statement header');
    // java.net.URLDecoder: '+' is a space.
    const [name, sql] = parts.map((part) => decodeURIComponent((part ?? '').replaceAll('+', ' ')));
    statements.set(name ?? '', sql ?? '');
  }
  return statements;
}

function resolveStatement(body: string, prepared: Map<string, string>): { sql: string; params: FixtureValue[] } {
  const execute = /^\s*EXECUTE\s+([A-Za-z_][A-Za-z0-9_]*)(?:\s+USING\s+([\s\S]*?))?\s*$/i.exec(body);
  if (!execute) {
    checkStatement(body, 0);
    return { sql: body, params: [] };
  }
  const name = execute[1] ?? '';
  const sql = prepared.get(name) ?? [...prepared].find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
  if (sql === undefined) throw new TrinoFailure('NOT_FOUND', 5, `Prepared statement not found: ${name}`);
  const params = execute[2] === undefined ? [] : parseLiterals(execute[2]);
  checkStatement(sql, params.length);
  return { sql, params };
}

function checkStatement(sql: string, parameterCount: number): void {
  const { placeholders, semicolons } = scan(sql);
  if (semicolons.length > 0) throw new TrinoFailure('SYNTAX_ERROR', 1, `line 1:${(semicolons[0] ?? 0) + 1}: mismatched input ';'. Expecting: <EOF>`);
  if (placeholders.length !== parameterCount) {
    throw new TrinoFailure('INVALID_PARAMETER_USAGE', 80, `Incorrect number of parameters: expected ${placeholders.length} but found ${parameterCount}`);
  }
}

/** Positions of `?` and `;` outside string literals, quoted identifiers and comments. */
function scan(sql: string): { placeholders: number[]; semicolons: number[] } {
  const placeholders: number[] = [];
  const semicolons: number[] = [];
  for (let i = 0; i < sql.length; i += 1) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      // '' (or "") inside is an escaped quote; the scan resumes after the closing one.
      for (i += 1; i < sql.length; i += 1) {
        if (sql[i] === c) {
          if (sql[i + 1] === c) i += 1;
          else break;
        }
      }
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i += 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '?') {
      placeholders.push(i);
    } else if (c === ';') {
      semicolons.push(i);
    }
  }
  return { placeholders, semicolons };
}

// ---------------------------------------------------------------------------------------------
// Trino-isms the gateway's SQL uses, mapped onto DuckDB.

const AS_OF = /([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s+FOR\s+TIMESTAMP\s+AS\s+OF\s+CAST\(\s*\?\s+AS\s+TIMESTAMP\(\s*\d+\s*\)\s+WITH\s+TIME\s+ZONE\s*\)/gi;
const SNAPSHOTS = /(?:\b([A-Za-z_][A-Za-z0-9_]*)\.)?"([A-Za-z_][A-Za-z0-9_]*)\$snapshots"/g;

function rewrite(
  sql: string,
  params: readonly FixtureValue[],
  session: { catalog: string; schema: string; timeZone: string },
  histories: Map<string, FixtureTableHistory>,
  tracked: ReadonlySet<string>,
): { sql: string; values: DuckDBValue[]; types: (DuckDBType | undefined)[] } {
  const { placeholders } = scan(sql);
  const consumed = new Set<number>();
  let out = sql.replace(AS_OF, (whole, table: string, offset: number) => {
    const index = placeholders.indexOf(offset + whole.indexOf('?'));
    const param = params[index];
    if (index < 0 || !param) return whole;
    consumed.add(index);
    const instant = asOfInstant(param, session.timeZone);
    const key = qualified(table, session).toLowerCase();
    const history = histories.get(key) ?? histories.get(table.toLowerCase());
    if (!history) throw new TrinoFailure('NOT_SUPPORTED', 13, `This connector does not support versioned tables (fixture: no history for ${key})`);
    const snapshot = [...history.snapshots]
      .filter((s) => BigInt(s.committedAt.getTime()) * 1000n <= instant)
      .sort((a, b) => b.committedAt.getTime() - a.committedAt.getTime())[0];
    if (!snapshot) {
      const at = new Date(Number(instant / 1000n)).toISOString().replace('.000Z', 'Z');
      throw new TrinoFailure('INVALID_ARGUMENTS', 76, `No version history table ${session.catalog}.${key} at or before ${at}`);
    }
    return snapshot.relation;
  });
  if (/\bFOR\s+(?:TIMESTAMP|VERSION)\s+AS\s+OF\b/i.test(out)) {
    throw new TrinoFailure('NOT_SUPPORTED', 13, 'fixture: only FOR TIMESTAMP AS OF CAST(? AS TIMESTAMP(p) WITH TIME ZONE) is served');
  }
  out = out.replace(SNAPSHOTS, (_whole, schema: string | undefined, table: string) => {
    const key = `${schema ?? session.schema}.${table}`.toLowerCase();
    if (!histories.has(key) && !tracked.has(key)) throw new TrinoFailure('TABLE_NOT_FOUND', 46, `line 1:1: Table '${session.catalog}.${key}$snapshots' does not exist`);
    return `trino_fixture."${key}$snapshots"`;
  });
  const bound = params.filter((_, i) => !consumed.has(i)).map(duckValue);
  return { sql: out, values: bound.map((b) => b.value), types: bound.map((b) => b.type) };
}

const ARRAY_CAST = /\bAS\s+ARRAY\(\s*VARCHAR\s*\)/gi;

/** Trino's array type in casts (`CAST(json AS ARRAY(VARCHAR))`), spelt as DuckDB spells it. */
function castTypes(sql: string): string {
  return sql.replace(ARRAY_CAST, 'AS VARCHAR[]');
}

const EXPLAIN_IO = /^\s*EXPLAIN\s*\(\s*TYPE\s+IO\s*,\s*FORMAT\s+JSON\s*\)\s*/i;

/**
 * Trino's `EXPLAIN (TYPE IO, FORMAT JSON)` answer (`inputTableColumnInfos` with each input
 * table's `estimate.outputRowCount`), from a DuckDB JSON plan's table scans and their estimated
 * cardinalities.
 */
function ioPlan(plan: unknown, catalog: string): unknown {
  const inputs: { table: { catalog: string; schemaTable: { schema: string; table: string } }; estimate: Record<string, number> }[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const { children, extra_info: info } = node as { children?: unknown[]; extra_info?: Record<string, unknown> };
    if (info && typeof info['Table'] === 'string') {
      const [schema = '', table = ''] = info['Table'].split('.').slice(-2);
      const rows = Number(info['Estimated Cardinality'] ?? Number.NaN);
      inputs.push({ table: { catalog, schemaTable: { schema, table } }, estimate: { outputRowCount: rows, outputSizeInBytes: Number.NaN, cpuCost: Number.NaN, maxMemory: Number.NaN, networkCost: Number.NaN } });
    }
    visit(children ?? []);
  };
  visit(plan);
  const total = inputs.reduce((n, input) => n + (input.estimate['outputRowCount'] ?? 0), 0);
  return { inputTableColumnInfos: inputs, estimate: { outputRowCount: total, outputSizeInBytes: Number.NaN, cpuCost: Number.NaN, maxMemory: Number.NaN, networkCost: Number.NaN } };
}

/** A catalog-changing statement's DuckDB SQL and its bound literals. */
function bindUpdate(update: FixtureUpdate): { sql: string; values: DuckDBValue[]; types: (DuckDBType | undefined)[] } {
  const bound = update.values.map(duckValue);
  return { sql: update.sql, values: bound.map((b) => b.value), types: bound.map((b) => b.type) };
}

/** The columns of `schema.table` with their Trino types, or undefined if there is no such table. */
async function columnsOf(connection: DuckDBConnection, schema: string, table: string): Promise<FixtureColumn[] | undefined> {
  const exists = await connection.runAndReadAll(
    "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ? AND table_type = 'BASE TABLE'",
    [schema, table],
  );
  if (Number(exists.getRows()[0]?.[0] ?? 0) === 0) return undefined;
  const reader = await connection.runAndReadAll(`SELECT * FROM "${schema.replaceAll('"', '""')}"."${table.replaceAll('"', '""')}" LIMIT 0`);
  const types = reader.columnTypes();
  return reader.columnNames().map((name, i) => ({ name, type: trinoTypeOf(types[i] as DuckDBType).type }));
}

function qualified(table: string, session: { schema: string }): string {
  const parts = table.split('.');
  return parts.length === 1 ? `${session.schema}.${table}` : parts.slice(-2).join('.');
}

/** The instant of `FOR TIMESTAMP AS OF CAST(<param> AS TIMESTAMP(p) WITH TIME ZONE)`, in µs. */
function asOfInstant(param: FixtureValue, sessionZone: string): bigint {
  if (param.kind === 'timestamp') return param.micros;
  if (param.kind === 'varchar') {
    const parsed = parseTrinoTimestamp(param.value, sessionZone);
    if (!parsed) throw new TrinoFailure('INVALID_CAST_ARGUMENT', 9, `Value cannot be cast to timestamp: ${param.value}`);
    return parsed.micros;
  }
  throw new TrinoFailure('TYPE_MISMATCH', 58, `line 1:1: Cannot cast ${param.kind} to timestamp(6) with time zone`);
}

/** The columns of a `$snapshots` table, as the Iceberg connector has them. */
const SNAPSHOT_COLUMNS = 'committed_at TIMESTAMPTZ, snapshot_id BIGINT, parent_id BIGINT, operation VARCHAR, manifest_list VARCHAR, summary MAP(VARCHAR, VARCHAR)';

/** Trino functions as DuckDB macros, created on every connection of the fixture. */
const TRINO_FUNCTIONS = [
  // Trino: NULL for an object or array, and for text that is not JSON.
  `CREATE OR REPLACE TEMP MACRO json_extract_scalar(document, path) AS
     CASE WHEN json_valid(document) THEN CASE WHEN json_type(document, path) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(document, path) END END`,
  // Trino: fails on text that is not JSON (try() makes that NULL), as DuckDB's json() does.
  'CREATE OR REPLACE TEMP MACRO json_parse(text) AS json(text)',
  'CREATE OR REPLACE TEMP MACRO json_format(document) AS CAST(document AS VARCHAR)',
];

/** Creates `trino_fixture."<schema.table>$snapshots"` for every table with a history. */
async function createSnapshotTables(connection: DuckDBConnection, histories: Map<string, FixtureTableHistory>): Promise<void> {
  if (histories.size === 0) return;
  await connection.run('CREATE SCHEMA IF NOT EXISTS trino_fixture');
  for (const [key, history] of histories) {
    const table = `trino_fixture."${key}$snapshots"`;
    await connection.run(`CREATE OR REPLACE TABLE ${table} (${SNAPSHOT_COLUMNS})`);
    for (const snapshot of history.snapshots) {
      await connection.run(
        `INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, map(?, ?))`,
        [
          timestampTZValue(BigInt(snapshot.committedAt.getTime()) * 1000n),
          snapshot.snapshotId,
          snapshot.parentId ?? null,
          snapshot.operation,
          `s3://warehouse/${key.replace('.', '/')}/metadata/snap-${snapshot.snapshotId}.avro`,
          listValue(Object.keys(snapshot.summary)),
          listValue(Object.values(snapshot.summary)),
        ],
        [TIMESTAMPTZ, BIGINT, BIGINT, VARCHAR, VARCHAR, LIST(VARCHAR), LIST(VARCHAR)],
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// DuckDB results in Trino's terms: types, type signatures, JSON encodings (JsonEncodingUtils).

const VARCHAR_UNBOUNDED = 2_147_483_647;

function trinoTypeOf(type: DuckDBType): { type: string; typeSignature: SignatureJson } {
  const plain = (name: string) => ({ type: name, typeSignature: { rawType: name, arguments: [] } });
  const precise = (rawType: string, precision: number, display: string) => ({
    type: display,
    typeSignature: { rawType, arguments: [{ kind: 'LONG' as const, value: precision }] },
  });
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return plain('boolean');
    case DuckDBTypeId.TINYINT:
      return plain('tinyint');
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return plain('smallint');
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
      return plain('integer');
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      // Trino's sum() of integers is bigint where DuckDB widens to HUGEINT.
      return plain('bigint');
    case DuckDBTypeId.FLOAT:
      return plain('real');
    case DuckDBTypeId.DOUBLE:
      return plain('double');
    case DuckDBTypeId.DECIMAL: {
      const { width, scale } = type as DuckDBDecimalType;
      return {
        type: `decimal(${width},${scale})`,
        typeSignature: { rawType: 'decimal', arguments: [{ kind: 'LONG', value: width }, { kind: 'LONG', value: scale }] },
      };
    }
    case DuckDBTypeId.VARCHAR:
      if (type.alias === 'JSON') return plain('json');
      return { type: 'varchar', typeSignature: { rawType: 'varchar', arguments: [{ kind: 'LONG', value: VARCHAR_UNBOUNDED }] } };
    case DuckDBTypeId.DATE:
      return plain('date');
    case DuckDBTypeId.TIMESTAMP_S:
      return precise('timestamp', 0, 'timestamp(0)');
    case DuckDBTypeId.TIMESTAMP_MS:
      return precise('timestamp', 3, 'timestamp(3)');
    case DuckDBTypeId.TIMESTAMP:
      return precise('timestamp', 6, 'timestamp(6)');
    case DuckDBTypeId.TIMESTAMP_NS:
      return precise('timestamp', 9, 'timestamp(9)');
    case DuckDBTypeId.TIMESTAMP_TZ:
      return precise('timestamp with time zone', 6, 'timestamp(6) with time zone');
    case DuckDBTypeId.BLOB:
      return plain('varbinary');
    case DuckDBTypeId.UUID:
      return plain('uuid');
    case DuckDBTypeId.SQLNULL:
      return plain('unknown');
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const element = trinoTypeOf((type as DuckDBListType | DuckDBArrayType).valueType);
      return { type: `array(${element.type})`, typeSignature: { rawType: 'array', arguments: [{ kind: 'TYPE', value: element.typeSignature }] } };
    }
    case DuckDBTypeId.MAP: {
      const key = trinoTypeOf((type as DuckDBMapType).keyType);
      const value = trinoTypeOf((type as DuckDBMapType).valueType);
      return {
        type: `map(${key.type}, ${value.type})`,
        typeSignature: { rawType: 'map', arguments: [{ kind: 'TYPE', value: key.typeSignature }, { kind: 'TYPE', value: value.typeSignature }] },
      };
    }
    case DuckDBTypeId.STRUCT: {
      const struct = type as DuckDBStructType;
      const fields = struct.entryNames.map((name, i) => ({ name, ...trinoTypeOf(struct.entryTypes[i] as DuckDBType) }));
      return {
        type: `row(${fields.map((f) => `"${f.name}" ${f.type}`).join(', ')})`,
        typeSignature: {
          rawType: 'row',
          arguments: fields.map((f) => ({ kind: 'NAMED_TYPE' as const, value: { fieldName: { name: f.name }, typeSignature: f.typeSignature } })),
        },
      };
    }
    default:
      // Intervals, times, enums, ...: sent as their text, typed varchar (a fixture simplification).
      return { type: 'varchar', typeSignature: { rawType: 'varchar', arguments: [{ kind: 'LONG', value: VARCHAR_UNBOUNDED }] } };
  }
}

const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** A DuckDB value as Trino's JSON encoding of the corresponding Trino type. */
function encodeValue(type: DuckDBType, value: DuckDBValue): unknown {
  if (value === null) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      // A JSON number of any size, as Jackson writes a long.
      return rawJson(String(value));
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE: {
      const n = value as number;
      if (Number.isNaN(n)) return 'NaN';
      if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
      return n;
    }
    case DuckDBTypeId.DECIMAL:
      return String(value);
    case DuckDBTypeId.DATE:
      return formatDate((value as DuckDBDateValue).days);
    case DuckDBTypeId.TIMESTAMP_S:
      return formatTimestamp((value as { seconds: bigint }).seconds * 1_000_000n, 0);
    case DuckDBTypeId.TIMESTAMP_MS:
      return formatTimestamp((value as { millis: bigint }).millis * 1000n, 3);
    case DuckDBTypeId.TIMESTAMP:
      return formatTimestamp((value as { micros: bigint }).micros, 6);
    case DuckDBTypeId.TIMESTAMP_NS:
      return formatTimestamp((value as { nanos: bigint }).nanos / 1000n, 6) + String((value as { nanos: bigint }).nanos % 1000n).padStart(3, '0');
    case DuckDBTypeId.TIMESTAMP_TZ:
      return `${formatTimestamp((value as { micros: bigint }).micros, 6)} UTC`;
    case DuckDBTypeId.BLOB:
      return Buffer.from((value as DuckDBBlobValue).bytes).toString('base64');
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const elementType = (type as DuckDBListType | DuckDBArrayType).valueType;
      return (value as DuckDBListValue | DuckDBArrayValue).items.map((item) => encodeValue(elementType, item));
    }
    case DuckDBTypeId.MAP: {
      const { keyType, valueType } = type as DuckDBMapType;
      // Keys are always strings on Trino's wire (the key type's object value, printed).
      return Object.fromEntries((value as DuckDBMapValue).entries.map((entry) => [String(encodeValue(keyType, entry.key)), encodeValue(valueType, entry.value)]));
    }
    case DuckDBTypeId.STRUCT: {
      const struct = type as DuckDBStructType;
      const entries = (value as DuckDBStructValue).entries;
      return struct.entryNames.map((name, i) => encodeValue(struct.entryTypes[i] as DuckDBType, entries[name] ?? null));
    }
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.VARCHAR:
      return value;
    default:
      return String(value);
  }
}

function formatDate(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD HH:MM:SS[.f…]` with `digits` fraction digits, from µs since the epoch (UTC). */
function formatTimestamp(micros: bigint, digits: number): string {
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const microsOfMilli = micros - millis * 1000n;
  const iso = new Date(Number(millis)).toISOString();
  const fraction = `${iso.slice(20, 23)}${String(microsOfMilli).padStart(3, '0')}`.slice(0, digits);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${digits > 0 ? `.${fraction}` : ''}`;
}

/** Any failure as Trino's `QueryError` JSON. */
function trinoError(error: unknown, session: { catalog: string; schema: string }): TrinoErrorJson {
  const shape = (errorName: string, errorCode: number, message: string, errorType = 'USER_ERROR'): TrinoErrorJson => ({
    message,
    errorCode,
    errorName,
    errorType,
    errorLocation: { lineNumber: 1, columnNumber: 1 },
    failureInfo: { type: 'io.trino.spi.TrinoException', message, suppressed: [], stack: [] },
  });
  if (error instanceof TrinoFailure) return shape(error.errorName, error.errorCode, error.message, error.errorType);
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  const table = /^Catalog Error: Table with name (\S+) does not exist/.exec(text);
  if (table) return shape('TABLE_NOT_FOUND', 46, `line 1:1: Table '${session.catalog}.${session.schema}.${table[1]}' does not exist`);
  if (/^INTERRUPT Error/.test(text)) return shape('USER_CANCELED', 3, 'Query was canceled');
  const notNull = /^Constraint Error: NOT NULL constraint failed: \w+\.(\w+)/.exec(text);
  if (notNull) return shape('CONSTRAINT_VIOLATION', 16, `NULL value not allowed for NOT NULL column: ${notNull[1]}`);
  const schema = /^Catalog Error: Schema with name "?([^"\s]+)"? (does not exist|already exists)/.exec(text);
  if (schema?.[2] === 'already exists') return shape('SCHEMA_ALREADY_EXISTS', 49, `line 1:1: Schema '${session.catalog}.${schema[1]}' already exists`);
  if (schema) return shape('SCHEMA_NOT_FOUND', 45, `line 1:1: Schema '${schema[1]}' does not exist`);
  const existing = /^Catalog Error: Table with name "?([^"\s]+)"? already exists/.exec(text);
  if (existing) return shape('TABLE_ALREADY_EXISTS', 50, `line 1:1: Table '${session.catalog}.${existing[1]}' already exists`);
  if (/^Parser Error/.test(text)) return shape('SYNTAX_ERROR', 1, `line 1:1: ${text}`);
  if (/^Catalog Error: Scalar Function/.test(text)) return shape('FUNCTION_NOT_FOUND', 6, `line 1:1: ${text}`);
  if (/^Binder Error/.test(text)) return shape(/column/i.test(text) ? 'COLUMN_NOT_FOUND' : 'TYPE_MISMATCH', /column/i.test(text) ? 47 : 58, `line 1:1: ${text}`);
  if (/^Conversion Error/.test(text)) return shape('INVALID_CAST_ARGUMENT', 9, text);
  if (/^Out of Range Error/.test(text)) return shape('NUMERIC_VALUE_OUT_OF_RANGE', 19, text);
  return shape('GENERIC_INTERNAL_ERROR', 65536, text, 'INTERNAL_ERROR');
}
