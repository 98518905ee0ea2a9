import type { SourceRegistry } from '../../ingest/registry.ts';
import type { MedallionCommit } from './commit.ts';

/** Runs one read statement (the embedded database, or the lakehouse role). */
export type ReadRows = (sql: string, params: readonly (string | number)[]) => Promise<Record<string, unknown>[]>;

/** The watermark row the medallion's bronze layer moves with every landing (ingest/medallion/runner.ts). */
export const BRONZE_PIPELINE = 'bronze';

/** The stored bronze position: silver and gold are materialised up to it once a pass finished. */
export async function storedBronzePosition(read: ReadRows): Promise<string | undefined> {
  const [row] = await read('SELECT position FROM platform.watermarks WHERE pipeline = ?', [BRONZE_PIPELINE]);
  const position = row?.['position'];
  return typeof position === 'string' ? position : undefined;
}

/**
 * Publish time of the newest record landed in bronze, by the run `runId` when given (one pass),
 * else ever. One statement over every source's bronze table.
 */
export async function newestLandedTime(read: ReadRows, registry: SourceRegistry, runId?: string): Promise<string | null> {
  const tables = [...new Set(registry.sources.filter((s) => s.enabled).map((s) => s.bronzeTable))];
  if (tables.length === 0) return null;
  const where = runId === undefined ? '' : ' WHERE run_id = ?';
  const sql = `SELECT max(published_at) AS newest FROM (${tables.map((t) => `SELECT max(published_at) AS published_at FROM ${t}${where}`).join(' UNION ALL ')}) AS landed`;
  const [row] = await read(sql, runId === undefined ? [] : tables.map(() => runId));
  return isoOf(row?.['newest']);
}

/** When the last successful layer run finished: the commit time of the stored state. */
async function lastCommitTime(read: ReadRows): Promise<string | null> {
  const [row] = await read(`SELECT max(finished_at) AS finished FROM platform.pipeline_runs WHERE status = 'SUCCESS' AND layer IN ('silver', 'gold')`, []);
  return isoOf(row?.['finished']);
}

/**
 * The state the last pass left in the lakehouse, as a commit older than any live one (seq 0), so a
 * fresh gateway instance can say what its data reflects before it hears of a pass. Undefined
 * when the medallion never ran.
 */
export async function storedCommit(read: ReadRows, registry: SourceRegistry): Promise<MedallionCommit | undefined> {
  const position = await storedBronzePosition(read);
  if (position === undefined) return undefined;
  const [positionTime, committedAt] = await Promise.all([newestLandedTime(read, registry), lastCommitTime(read)]);
  return { seq: 0, committedAt: committedAt ?? new Date(0).toISOString(), tables: [], position, positionTime, snapshots: [] };
}

/** A timestamp column's value (Date, or engine text) as ISO 8601 in UTC; null when absent. */
export function isoOf(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === 'string' && value.length > 0) {
    // Engines print TIMESTAMP without a zone: the medallion writes UTC.
    const parsed = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`);
    return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
  }
  return null;
}
