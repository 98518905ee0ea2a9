import { DuckDBDateValue, DuckDBTimestampValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { SqlRow, SqlValue } from '../sql/port.ts';
import type { BulkTable, BulkValue, SqlWriter } from '../sql/writer.ts';
import { normaliseRow, toDuckValues, type DuckDbDatabase } from './database.ts';

/**
 * The DuckDB adapter of the lakehouse writer: statements on the database's writer connection
 * (serialised with every other write), bulk rows through DuckDB's appender (the embedded ingest
 * rate depends on it), and real transactions.
 */
export function createDuckDbWriter(database: DuckDbDatabase): SqlWriter & Required<Pick<SqlWriter, 'transaction'>> {
  return {
    dialect: 'duckdb',
    execute: (sql, params) => database.withWriter((connection) => boundWriter(connection).execute(sql, params)),
    rows: (sql, params) => database.withWriter((connection) => boundWriter(connection).rows(sql, params)),
    bulkInsert: (table, rows) => database.withWriter((connection) => boundWriter(connection).bulkInsert(table, rows)),
    transaction: (work) =>
      database.withWriter(async (connection) => {
        await connection.run('BEGIN TRANSACTION');
        try {
          const result = await work(boundWriter(connection));
          await connection.run('COMMIT');
          return result;
        } catch (error) {
          await connection.run('ROLLBACK').catch(() => undefined);
          throw error;
        }
      }),
  };
}

/** A writer on one connection the caller already holds (inside `withWriter`, in a transaction). */
function boundWriter(connection: DuckDBConnection): SqlWriter {
  return {
    dialect: 'duckdb',
    async execute(sql: string, params: readonly SqlValue[] = []) {
      const result = await connection.run(sql, toDuckValues(params));
      return Number(result.rowsChanged);
    },
    async rows(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
      const reader = await connection.runAndReadAll(sql, toDuckValues(params));
      return (reader.getRowObjectsJS() as Record<string, unknown>[]).map(normaliseRow);
    },
    async bulkInsert(table: BulkTable, rows: readonly (readonly BulkValue[])[]) {
      if (rows.length === 0) return 0;
      const [schema, name] = table.name.split('.') as [string, string];
      const appender = await connection.createAppender(name, schema);
      try {
        for (const row of rows) {
          table.columns.forEach((column, i) => append(appender, column.type, row[i] ?? null, `${table.name}.${column.name}`));
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      return rows.length;
    },
  };
}

const TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$/;

function append(appender: DuckDBAppender, type: BulkTable['columns'][number]['type'], value: BulkValue, column: string): void {
  if (value === null) {
    appender.appendNull();
    return;
  }
  switch (type) {
    case 'VARCHAR':
      if (typeof value === 'string') return appender.appendVarchar(value);
      break;
    case 'BIGINT':
      if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) return appender.appendBigInt(BigInt(value));
      break;
    case 'INTEGER':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return appender.appendInteger(value);
      break;
    case 'DOUBLE':
      if (typeof value === 'number') return appender.appendDouble(value);
      break;
    case 'BOOLEAN':
      if (typeof value === 'boolean') return appender.appendBoolean(value);
      break;
    case 'DATE':
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return appender.appendDate(new DuckDBDateValue(Date.parse(`${value}T00:00:00Z`) / 86_400_000));
      break;
    case 'TIMESTAMP(6)': {
      if (value instanceof Date) return appender.appendTimestamp(new DuckDBTimestampValue(BigInt(value.getTime()) * 1000n));
      const match = typeof value === 'string' ? TIMESTAMP_TEXT.exec(value) : null;
      if (match) {
        const seconds = BigInt(Date.parse(`${match[1]}T${match[2]}Z`) / 1000);
        return appender.appendTimestamp(new DuckDBTimestampValue(seconds * 1_000_000n + BigInt((match[3] ?? '').padEnd(6, '0'))));
      }
      break;
    }
    default:
      break;
  }
  throw new TypeError(`column ${column} (${type}) cannot take ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value}`);
}
