import type { BackendRole } from '../../errors.ts';
import type { Lifecycle } from '../health.ts';

/** A value bound to a `?` placeholder. */
export type SqlValue = string | number | boolean | null | Date | bigint;

/** A result row: column name → JS value (timestamps as `Date`, arrays as arrays, integers as numbers). */
export type SqlRow = Record<string, unknown>;

export type SqlDialect = 'duckdb' | 'trino' | 'clickhouse';

export interface QueryOptions {
  /** Time budget in ms; default: the engine's configured timeout. Over budget the query is cancelled. */
  timeoutMs?: number;
  /** Aborts (and cancels) the query, e.g. when the client went away. */
  signal?: AbortSignal;
  /**
   * Ceilings the engine itself enforces while the statement runs, where it has them (ClickHouse:
   * `max_rows_to_read`, `max_result_rows`; Trino: `query_max_run_time` from the time budget).
   * Over one, the statement fails with a `BackendError` whose `limitExceeded` is true.
   */
  limits?: StatementLimits;
}

/** Engine-side ceilings of one statement (see `QueryOptions.limits`). */
export interface StatementLimits {
  /** Rows the statement may read from tables. */
  maxRowsToRead?: number;
  /** Rows its answer may have. */
  maxResultRows?: number;
}

/**
 * The port of the SQL roles (lakehouse and analytics): positional `?` parameters, rows as
 * plain objects. Adapters wrap engine errors in `BackendError`.
 */
export interface SqlEngine extends Lifecycle {
  readonly role: BackendRole;
  readonly adapter: string;
  readonly dialect: SqlDialect;
  /** Optional abilities, declared rather than discovered with `instanceof`. */
  readonly capabilities: {
    /** `FOR TIMESTAMP AS OF` reads of past table snapshots. */
    readonly timeTravel: boolean;
  };
  query<R extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[], options?: QueryOptions): Promise<R[]>;
}

/** `?, ?, ?` for an IN list of `count` values (at least one placeholder, so `IN (NULL)` matches nothing). */
export function placeholders(count: number): string {
  return count === 0 ? 'NULL' : Array.from({ length: count }, () => '?').join(', ');
}

/**
 * `LIMIT n` as a literal: engines plan a top-N sort only for a constant limit (a bound `?` limit
 * made DuckDB sort whole tables). Throws unless `n` is a non-negative safe integer, so nothing
 * but a number can reach the SQL text.
 */
export function limit(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`LIMIT must be a non-negative integer, got ${n}`);
  return `LIMIT ${n}`;
}
