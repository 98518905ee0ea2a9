import type { IcebergType } from '../trino/iceberg-ddl.ts';
import type { SqlRow, SqlValue } from './port.ts';

/** A table's layout as a bulk load needs it: column names and their lakehouse types, in order. */
export interface BulkTable {
  /** `schema.table`. */
  readonly name: string;
  readonly columns: readonly { readonly name: string; readonly type: IcebergType }[];
}

/**
 * A value of a bulk-loaded row, in the column type's form: VARCHAR a string, BIGINT/INTEGER a
 * number or bigint, DOUBLE a number, BOOLEAN a boolean, DATE `YYYY-MM-DD`, TIMESTAMP(6) a `Date`
 * or `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC, no zone), or null.
 */
export type BulkValue = string | number | bigint | boolean | Date | null;

/**
 * The write side of the lakehouse, as the medallion uses it: statements that change tables, the
 * reads that decide them, bulk landing, and, where the engine has them, multi-statement
 * transactions. One adapter per lakehouse engine (DuckDB: src/backends/duckdb/writer.ts; Trino
 * over Iceberg: src/backends/trino/writer.ts); the SQL they run differs only where
 * ingest/medallion/dialect.ts says.
 */
export interface SqlWriter {
  readonly dialect: 'duckdb' | 'trino';
  /** Runs a statement that changes tables; resolves with the rows it changed. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs a query; rows as plain objects (integers as numbers, timestamps as `Date`). */
  rows(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Appends rows (values in `table.columns` order); resolves with the rows written. */
  bulkInsert(table: BulkTable, rows: readonly (readonly BulkValue[])[]): Promise<number>;
  /**
   * Runs `work` in one transaction (all of its statements commit together or none does), on a
   * writer bound to it. Absent where each statement commits on its own (Trino/Iceberg: one
   * snapshot per statement), so callers order their writes to be safe without it.
   */
  readonly transaction?: <T>(work: (writer: SqlWriter) => Promise<T>) => Promise<T>;
}

/** One number from a query's first row (`0` when it has none or it is null). */
export async function scalarOf(writer: SqlWriter, sql: string, params: readonly SqlValue[] = []): Promise<number> {
  const [row] = await writer.rows(sql, params);
  const value = row ? Object.values(row)[0] : undefined;
  return value === null || value === undefined ? 0 : Number(value);
}

/** Runs `work` in a transaction where the writer has them, else statement by statement. */
export function inTransactionIfAny<T>(writer: SqlWriter, work: (writer: SqlWriter) => Promise<T>): Promise<T> {
  return writer.transaction ? writer.transaction(work) : work(writer);
}
