import type { SqlEngine } from '../sql/port.ts';
import type { BulkTable, BulkValue, SqlWriter } from '../sql/writer.ts';
import { checkedName } from './iceberg-ddl.ts';
import { isoNoZone } from '../lakehouse/queries.ts';
import { icebergLiteral, insertSql } from './iceberg-load.ts';

/** Options of the Trino writer. */
export interface TrinoWriterOptions {
  /** Budget of each statement in ms (an Iceberg commit to object storage can take seconds). Default 120000. */
  timeoutMs?: number;
  /**
   * Longest bulk INSERT in characters; a batch is cut before it. Default 500,000: Trino refuses
   * statements longer than `query.max-length`, 1,000,000 characters by default
   * (https://trino.io/docs/current/admin/properties-query-management.html#query-max-length).
   */
  maxStatementChars?: number;
  /** Most rows per bulk INSERT. Default 2000. */
  maxRowsPerInsert?: number;
}

/**
 * The Trino (Iceberg) adapter of the lakehouse writer, over the Trino engine of the lakehouse
 * role: `?` parameters are bound as literals (`EXECUTE … USING`), a bulk landing is sent as
 * `INSERT INTO … VALUES` built from typed literals (src/backends/trino/literal.ts by way of
 * `icebergLiteral`), chunked under Trino's statement-size limit. No `transaction`: the Iceberg
 * connector commits every statement as one snapshot of its own.
 */
export function createTrinoWriter(engine: SqlEngine, options: TrinoWriterOptions = {}): SqlWriter {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxChars = options.maxStatementChars ?? 500_000;
  const maxRows = options.maxRowsPerInsert ?? 2_000;
  const execute = async (sql: string, params: Parameters<SqlEngine['query']>[1] = []) => {
    const [row] = await engine.query(sql, params, { timeoutMs });
    // Trino's table writer answers INSERT, DELETE, UPDATE and MERGE with one row: `rows`.
    return row && row['rows'] !== undefined ? Number(row['rows']) : 0;
  };
  return {
    dialect: 'trino',
    execute,
    rows: (sql, params = []) => engine.query(sql, params, { timeoutMs }),
    async bulkInsert(table: BulkTable, rows) {
      checkedName(table.name);
      let written = 0;
      let tuples: string[] = [];
      let chars = 0;
      const flush = async () => {
        if (tuples.length === 0) return;
        const count = await execute(insertSql(table, tuples));
        if (count !== tuples.length) throw new Error(`${table.name}: an INSERT of ${tuples.length} rows reported ${count} written`);
        written += count;
        tuples = [];
        chars = 0;
      };
      for (const row of rows) {
        const tuple = `(${table.columns.map((column, i) => icebergLiteral(column, textOf(row[i] ?? null))).join(', ')})`;
        if (tuples.length >= maxRows || (tuples.length > 0 && chars + tuple.length > maxChars)) await flush();
        tuples.push(tuple);
        chars += tuple.length + 2;
      }
      await flush();
      return written;
    },
  };
}

/** A Date as the lakehouse's timestamp text (UTC, no zone), the form `icebergLiteral` takes. */
function textOf(value: BulkValue): Exclude<BulkValue, Date> {
  return value instanceof Date ? isoNoZone(value) : value;
}
