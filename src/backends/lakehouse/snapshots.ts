import { BackendError } from '../../errors.ts';
import type { QueryOptions, SqlEngine } from '../sql/port.ts';

/** One snapshot of an Iceberg table, from its `$snapshots` metadata table. */
export interface TableSnapshot {
  /** Iceberg snapshot ids are random 64-bit integers: kept as decimal strings, exactly. */
  snapshotId: string;
  parentId: string | null;
  committedAt: Date;
  /** `append`, `overwrite`, `replace` or `delete`. */
  operation: string;
  /** Iceberg's summary, e.g. `added-records`, `total-records`. */
  summary: Record<string, string>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The snapshots of `table` (`schema.table` or `catalog.schema.table`), oldest first, read from
 * Trino's Iceberg metadata table `"<table>$snapshots"`. An engine without time travel, or a table
 * outside Iceberg, keeps no snapshots: the answer is empty. Throws a RangeError for a name that is not plain identifiers
 * (table names come from code, and an identifier cannot be a bound parameter).
 */
export async function tableSnapshots(engine: SqlEngine, table: string, options?: QueryOptions): Promise<TableSnapshot[]> {
  const parts = table.split('.');
  if (parts.length > 3 || !parts.every((part) => IDENTIFIER.test(part))) throw new RangeError(`not a table name: ${JSON.stringify(table)}`);
  if (!engine.capabilities.timeTravel) return [];
  const name = parts.map((part, i) => (i === parts.length - 1 ? `"${part}$snapshots"` : part)).join('.');
  let rows;
  try {
    rows = await engine.query(
      `SELECT committed_at, snapshot_id, parent_id, operation, summary FROM ${name} ORDER BY committed_at, snapshot_id`,
      [],
      options,
    );
  } catch (error) {
    // A table outside Iceberg (another connector, a view) has no snapshots table: it has none.
    if (error instanceof BackendError && (error.cause as { errorName?: unknown } | undefined)?.errorName === 'TABLE_NOT_FOUND') return [];
    throw error;
  }
  return rows.map((row) => {
    const summary = row['summary'];
    return {
      snapshotId: String(row['snapshot_id']),
      parentId: row['parent_id'] === null || row['parent_id'] === undefined ? null : String(row['parent_id']),
      committedAt: row['committed_at'] instanceof Date ? row['committed_at'] : new Date(String(row['committed_at'])),
      operation: String(row['operation']),
      summary: summary !== null && typeof summary === 'object' && !Array.isArray(summary)
        ? Object.fromEntries(Object.entries(summary).map(([key, value]) => [key, String(value)]))
        : {},
    };
  });
}
