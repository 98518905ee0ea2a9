import { isoNoZone } from '../backends/lakehouse/queries.ts';
import { scalarOf, type SqlWriter } from '../backends/sql/writer.ts';

/**
 * The platform's metadata as the medallion writes it (`platform.*` tables of the lakehouse):
 * pipeline runs and their per-source executions, data-quality measures, lineage edges and the
 * watermarks each step has reached. Written through the lakehouse writer, so the same
 * statements run embedded (DuckDB) and on Trino/Iceberg; keyed tables (watermarks, lineage) are
 * upserted with MERGE, which both engines run. The reads behind `platform { ... }` are in
 * src/platform/metadata-reads.ts.
 */

/** The gold tables, each with the silver tables it is built from (lineage). */
export const GOLD_TABLES = {
  'gold.user_360': ['silver.events', 'silver.users', 'silver.tours'],
  'gold.booking_metrics': ['silver.events'],
  'gold.recommendation_features': ['silver.events', 'silver.tours'],
  'gold.tourism_analytics': ['silver.events', 'silver.tours'],
} as const;
export type GoldTable = keyof typeof GOLD_TABLES;

/** What started a medallion run. */
export type RunTrigger = 'START' | 'EVENTS' | 'SCHEDULE' | 'MANUAL';

/** A finished run of one medallion layer, as `platform.pipelineRuns` and `pipelineRunFinished` show it. */
export interface PipelineRunRecord {
  id: string;
  /** Runs of the layers of one medallion pass share it. */
  batchId: string;
  layer: string;
  status: 'RUNNING' | 'SUCCESS' | 'FAILED';
  trigger: RunTrigger;
  startedAt: Date;
  finishedAt: Date | null;
  recordsIn: number;
  recordsOut: number;
  recordsRejected: number;
  error: string | null;
}

/** One source's part in a layer's run. */
export interface SourceExecution {
  sourceId: string;
  layer: string;
  targetTable: string;
  recordsIn: number;
  recordsOut: number;
  recordsRejected: number;
}

/** Quality of a table (optionally of one source's rows in it), each score between 0 and 1. */
export interface QualityMeasure {
  table: string;
  sourceId: string | null;
  rowCount: number;
  completeness: number;
  uniqueness: number;
  validity: number;
}

/** A lineage edge and the records that moved along it in a run. */
export interface LineageRecord {
  from: string;
  to: string;
  kind: string;
  sourceId: string | null;
  records: number;
}

/** `CAST(? AS <timestamp type>)`: Trino's bare TIMESTAMP is timestamp(3), the lakehouse's is microseconds. */
function timestampParam(writer: SqlWriter): string {
  return writer.dialect === 'trino' ? 'CAST(? AS TIMESTAMP(6))' : 'CAST(? AS TIMESTAMP)';
}

/** Writes a layer's run with its source executions. */
export async function recordRun(writer: SqlWriter, record: PipelineRunRecord, executions: readonly SourceExecution[]): Promise<void> {
  const ts = timestampParam(writer);
  await writer.execute(
    `INSERT INTO platform.pipeline_runs (run_id, layer, status, started_at, finished_at, records_in, records_out, records_rejected, error, batch_id, run_trigger)
     VALUES (?, ?, ?, ${ts}, ${ts}, ?, ?, ?, ?, ?, ?)`,
    [
      record.id,
      record.layer,
      record.status,
      isoNoZone(record.startedAt),
      record.finishedAt ? isoNoZone(record.finishedAt) : null,
      record.recordsIn,
      record.recordsOut,
      record.recordsRejected,
      record.error,
      record.batchId,
      record.trigger,
    ],
  );
  if (executions.length === 0) return;
  // One statement for all of them: on Iceberg every statement is a commit.
  await writer.execute(
    `INSERT INTO platform.source_executions (run_id, batch_id, source_id, layer, target_table, records_in, records_out, records_rejected, started_at, finished_at)
     VALUES ${executions.map(() => `(?, ?, ?, ?, ?, ?, ?, ?, ${ts}, ${ts})`).join(', ')}`,
    executions.flatMap((execution) => [
      record.id,
      record.batchId,
      execution.sourceId,
      execution.layer,
      execution.targetTable,
      execution.recordsIn,
      execution.recordsOut,
      execution.recordsRejected,
      isoNoZone(record.startedAt),
      isoNoZone(record.finishedAt ?? record.startedAt),
    ]),
  );
}

/** Stores quality measures taken in a run. */
export async function recordQuality(writer: SqlWriter, runId: string, measuredAt: Date, measures: readonly QualityMeasure[]): Promise<void> {
  if (measures.length === 0) return;
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  const ts = timestampParam(writer);
  await writer.execute(
    `INSERT INTO platform.data_quality (table_name, measured_at, row_count, completeness, uniqueness, validity, overall_score, source_id, run_id)
     VALUES ${measures.map(() => `(?, ${ts}, ?, CAST(? AS DOUBLE), CAST(? AS DOUBLE), CAST(? AS DOUBLE), CAST(? AS DOUBLE), ?, ?)`).join(', ')}`,
    measures.flatMap((m) => {
      const completeness = round(m.completeness);
      const uniqueness = round(m.uniqueness);
      const validity = round(m.validity);
      return [m.table, isoNoZone(measuredAt), m.rowCount, completeness, uniqueness, validity, round((completeness + uniqueness + validity) / 3), m.sourceId, runId];
    }),
  );
}

/**
 * Adds a run's records to the lineage edges (created on first use), all of them in one MERGE: on
 * Iceberg every statement is a commit, and a commit costs the same for one edge as for twenty.
 * Edges named twice in `edges` are summed first (a MERGE may match each target row once).
 */
export async function recordLineage(writer: SqlWriter, runId: string, at: Date, edges: readonly LineageRecord[]): Promise<void> {
  const merged = new Map<string, LineageRecord>();
  for (const edge of edges) {
    const key = `${edge.from}\u0000${edge.to}`;
    const seen = merged.get(key);
    merged.set(key, seen ? { ...seen, records: seen.records + edge.records } : edge);
  }
  if (merged.size === 0) return;
  const ts = timestampParam(writer);
  const row = `(CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS BIGINT), CAST(? AS VARCHAR), ${ts})`;
  await writer.execute(
    `MERGE INTO platform.data_lineage l
     USING (VALUES ${[...merged.values()].map(() => row).join(', ')}) AS s (from_node, to_node, kind, source_id, records, last_run_id, last_run_at)
     ON l.from_node = s.from_node AND l.to_node = s.to_node
     WHEN MATCHED THEN UPDATE SET records = l.records + s.records, last_run_id = s.last_run_id, last_run_at = s.last_run_at
     WHEN NOT MATCHED THEN INSERT (from_node, to_node, kind, source_id, records, last_run_id, last_run_at)
       VALUES (s.from_node, s.to_node, s.kind, s.source_id, s.records, s.last_run_id, s.last_run_at)`,
    [...merged.values()].flatMap((edge) => [edge.from, edge.to, edge.kind, edge.sourceId, edge.records, runId, isoNoZone(at)]),
  );
}

/** The stored position of a medallion step (`platform.watermarks`), or `fallback` before its first run. */
export function readWatermark(writer: SqlWriter, pipeline: string, fallback: number): Promise<number> {
  return scalarOf(writer, 'SELECT coalesce(max(log_offset), ?) FROM platform.watermarks WHERE pipeline = ?', [fallback, pipeline]);
}

/**
 * Moves a step's position. Written after the step's data: on an engine without transactions a
 * crash in between replays the step, which its writes absorb (keyed MERGEs, delete-then-insert).
 */
export async function storeWatermark(writer: SqlWriter, pipeline: string, offset: number, position?: string): Promise<void> {
  await writer.execute(
    `MERGE INTO platform.watermarks w
     USING (SELECT CAST(? AS VARCHAR) AS pipeline, CAST(? AS BIGINT) AS log_offset, CAST(? AS VARCHAR) AS position) s
     ON w.pipeline = s.pipeline
     WHEN MATCHED THEN UPDATE SET log_offset = s.log_offset${position === undefined ? '' : ', position = s.position'}
     WHEN NOT MATCHED THEN INSERT (pipeline, log_offset, position) VALUES (s.pipeline, s.log_offset, s.position)`,
    [pipeline, offset, position ?? null],
  );
}
