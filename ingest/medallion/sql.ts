import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';

/**
 * The few statement helpers the medallion steps share. They run on the writer connection the
 * runner holds for a whole run, inside its transactions.
 */

export type Params = readonly (string | number | bigint | boolean | null)[];

/** Rows of a statement as plain objects (BIGINT columns arrive as `bigint`). */
export async function rowsOf(connection: DuckDBConnection, sql: string, params: Params = []): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql, params as DuckDBValue[]);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

/** Runs a statement; resolves with the number of rows it changed. */
export async function run(connection: DuckDBConnection, sql: string, params: Params = []): Promise<number> {
  const result = await connection.run(sql, params as DuckDBValue[]);
  return Number(result.rowsChanged);
}

/** One number from a statement's first row (`0` when it has none). */
export async function scalar(connection: DuckDBConnection, sql: string, params: Params = []): Promise<number> {
  const [row] = await rowsOf(connection, sql, params);
  const value = row ? Object.values(row)[0] : undefined;
  return value === null || value === undefined ? 0 : Number(value);
}

/** The stored position of a medallion step (`platform.watermarks`), or `fallback` before its first run. */
export function readWatermark(connection: DuckDBConnection, pipeline: string, fallback: number): Promise<number> {
  return scalar(connection, 'SELECT coalesce(max(log_offset), ?) FROM platform.watermarks WHERE pipeline = ?', [fallback, pipeline]);
}

/** Moves a step's position (in the caller's transaction, so it advances with the step's writes). */
export async function storeWatermark(connection: DuckDBConnection, pipeline: string, offset: number): Promise<void> {
  await run(
    connection,
    'INSERT INTO platform.watermarks (pipeline, log_offset) VALUES (?, ?) ON CONFLICT (pipeline) DO UPDATE SET log_offset = excluded.log_offset',
    [pipeline, offset],
  );
}

/** Runs `work` in a transaction on `connection`, rolling back when it throws. */
export async function inTransaction<T>(connection: DuckDBConnection, work: () => Promise<T>): Promise<T> {
  await connection.run('BEGIN TRANSACTION');
  try {
    const result = await work();
    await connection.run('COMMIT');
    return result;
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
