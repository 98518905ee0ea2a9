import type { DuckDBConnection } from '@duckdb/node-api';
import type { DuckDbDatabase } from '../duckdb/database.ts';
import type { SqlEngine } from '../sql/port.ts';
import { checkedName, type IcebergColumn, type IcebergTable } from './iceberg-ddl.ts';
import { trinoLiteral } from './literal.ts';

/**
 * Copies tables of the embedded lakehouse into their Iceberg twins through Trino (bootstrap and
 * demo use: in production the platform's Spark jobs fill Iceberg). Rows travel as batched
 * `INSERT INTO ... VALUES` statements whose every value is rendered by `trinoLiteral`
 * (src/backends/trino/literal.ts), typed by the column it goes to (`icebergLiteral`).
 */

/** Where the copied rows come from. */
export interface IcebergRowSource {
  /** Rows `table` holds. */
  count(table: IcebergTable): Promise<number>;
  /** Its rows in batches, values in `table.columns` order, in the forms `icebergLiteral` takes. */
  rows(table: IcebergTable): AsyncIterable<readonly (readonly unknown[])[]>;
}

/** Options of `copyTableToIceberg`. */
export interface IcebergCopyOptions {
  /** Rows per INSERT. Default 500. */
  batchRows?: number;
  /**
   * Longest INSERT in characters; a batch is cut short before it. Default 500,000 (Trino refuses
   * statements over `query.max-length`, 1,000,000 characters by default).
   */
  maxStatementChars?: number;
  /** Budget of each Trino statement in ms. Default: the engine's. */
  timeoutMs?: number;
}

/**
 * `present`: Trino held as many rows as the source, nothing written. `loaded`: the table was
 * empty and got every row. `replaced`: it held another number of rows (an interrupted earlier
 * load, or other data), which were deleted before the load.
 */
export type IcebergCopyOutcome = 'present' | 'loaded' | 'replaced';

/** What the copy of one table did. */
export interface IcebergTableCopy {
  table: string;
  outcome: IcebergCopyOutcome;
  /** Rows the table holds after the copy (the source's count). */
  rows: number;
  /** INSERT statements sent. */
  inserts: number;
}

const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$/;
const DATE_TEXT = /^\d{4}-\d{2}-\d{2}$/;
const INTEGER_TEXT = /^-?\d+$/;

/**
 * A value as a Trino literal of its column's type: the value itself by `trinoLiteral`, inside
 * Trino's typed-literal syntax where the type needs it (`DATE '...'`, `TIMESTAMP '...'`,
 * `ARRAY[...]`). Takes: VARCHAR a string; DOUBLE a number; BIGINT/INTEGER an integer as number,
 * bigint or decimal string; BOOLEAN a boolean; DATE `YYYY-MM-DD`; TIMESTAMP(6) `YYYY-MM-DD
 * HH:MM:SS[.ffffff]` (UTC, up to microseconds: a `Date` would lose them); ARRAY(VARCHAR) an
 * array of strings; null for any. Anything else throws a TypeError naming the column.
 */
export function icebergLiteral(column: Pick<IcebergColumn, 'name' | 'type'>, value: unknown): string {
  if (value === null) return 'NULL';
  switch (column.type) {
    case 'VARCHAR':
      if (typeof value === 'string') return trinoLiteral(value);
      break;
    case 'DOUBLE':
      if (typeof value === 'number') return trinoLiteral(value);
      break;
    case 'BIGINT':
    case 'INTEGER': {
      const integer = typeof value === 'string' && INTEGER_TEXT.test(value) ? BigInt(value) : value;
      if (typeof integer === 'number' && Number.isSafeInteger(integer)) return trinoLiteral(integer);
      if (typeof integer === 'bigint') return trinoLiteral(integer >= BigInt(Number.MIN_SAFE_INTEGER) && integer <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(integer) : integer);
      break;
    }
    case 'BOOLEAN':
      if (typeof value === 'boolean') return trinoLiteral(value);
      break;
    case 'DATE':
      if (typeof value === 'string' && DATE_TEXT.test(value)) return `DATE ${trinoLiteral(value)}`;
      break;
    case 'TIMESTAMP(6)':
      if (typeof value === 'string' && TIMESTAMP_TEXT.test(value)) return `TIMESTAMP ${trinoLiteral(value)}`;
      break;
    case 'ARRAY(VARCHAR)':
      if (Array.isArray(value) && value.every((item) => item === null || typeof item === 'string')) {
        return `ARRAY[${value.map((item: string | null) => trinoLiteral(item)).join(', ')}]`;
      }
      break;
  }
  throw new TypeError(`column ${column.name} (${column.type}) cannot take ${describe(value)}`);
}

/** `INSERT INTO table (columns) VALUES` followed by already rendered row tuples. */
export function insertSql(table: { readonly name: string; readonly columns: readonly { readonly name: string }[] }, tuples: readonly string[]): string {
  return `INSERT INTO ${checkedName(table.name)} (${table.columns.map((c) => c.name).join(', ')}) VALUES\n${tuples.join(',\n')}`;
}

/**
 * Makes `table` in Trino hold the source's rows, idempotently: when Trino already holds as many
 * rows as the source, nothing is written (`present`); an empty table is loaded; a table with
 * another number of rows is emptied (`DELETE`, a row-level delete on Iceberg) and loaded, so an
 * interrupted earlier run is repaired rather than doubled. Every INSERT's update count is
 * checked, and so is the final row count.
 */
export async function copyTableToIceberg(trino: SqlEngine, table: IcebergTable, source: IcebergRowSource, options: IcebergCopyOptions = {}): Promise<IcebergTableCopy> {
  const batchRows = options.batchRows ?? 500;
  const maxChars = options.maxStatementChars ?? 500_000;
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
  const statementOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  const name = checkedName(table.name);
  const countInTrino = async () => Number((await trino.query(`SELECT count(*) AS n FROM ${name}`, [], statementOptions))[0]?.['n']);

  const expected = await source.count(table);
  const before = await countInTrino();
  if (before === expected) return { table: name, outcome: 'present', rows: expected, inserts: 0 };
  if (before > 0) await trino.query(`DELETE FROM ${name}`, [], statementOptions);

  let tuples: string[] = [];
  let chars = 0;
  let inserts = 0;
  const flush = async () => {
    if (tuples.length === 0) return;
    const [result] = await trino.query(insertSql(table, tuples), [], statementOptions);
    // Trino's table writer answers one row, `rows`: what the INSERT wrote.
    const written = Number(result?.['rows']);
    if (written !== tuples.length) throw new Error(`${name}: an INSERT of ${tuples.length} rows reported ${String(result?.['rows'])} written`);
    inserts += 1;
    tuples = [];
    chars = 0;
  };
  for await (const batch of source.rows(table)) {
    for (const row of batch) {
      const tuple = `(${table.columns.map((column, i) => icebergLiteral(column, row[i] ?? null)).join(', ')})`;
      if (tuples.length >= batchRows || (tuples.length > 0 && chars + tuple.length > maxChars)) await flush();
      tuples.push(tuple);
      chars += tuple.length + 2;
    }
  }
  await flush();

  const after = await countInTrino();
  if (after !== expected) throw new Error(`${name}: ${after} rows in Trino after the copy, expected ${expected}`);
  return { table: name, outcome: before > 0 ? 'replaced' : 'loaded', rows: expected, inserts };
}

/** Budget of a count in the embedded database. */
const EMBEDDED_TIMEOUT_MS = 60_000;

/**
 * The embedded lakehouse (a DuckDB database) as a row source: each table streamed on a
 * connection of its own, dates and timestamps read as their text (microseconds intact).
 */
export function embeddedRowSource(database: DuckDbDatabase): IcebergRowSource {
  let connection: Promise<DuckDBConnection> | undefined;
  return {
    async count(table) {
      const [row] = await database.query(`SELECT count(*) AS n FROM ${checkedName(table.name)}`, [], {
        timeoutMs: EMBEDDED_TIMEOUT_MS,
        onTimeout: () => new Error(`counting ${table.name} in the embedded lakehouse timed out`),
      });
      return Number(row?.['n']);
    },
    async *rows(table) {
      connection ??= database.dedicatedConnection();
      const select = table.columns.map((column) => (column.type === 'DATE' || column.type === 'TIMESTAMP(6)' ? `CAST(${column.name} AS VARCHAR)` : column.name));
      const result = await (await connection).stream(`SELECT ${select.join(', ')} FROM ${checkedName(table.name)}`);
      for await (const rows of result.yieldRowsJs()) yield rows;
    },
  };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array of other values';
  if (value instanceof Date) return 'a Date';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : `a ${typeof value} (${String(value)})`;
}
