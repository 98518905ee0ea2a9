import type { DuckDBConnection } from '@duckdb/node-api';
import { isoNoZone } from '../../src/backends/lakehouse/queries.ts';
import { assertTableName } from './bronze.ts';
import { rowsOf, run } from './sql.ts';

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

/** Writes a layer's run with its source executions (in the caller's transaction). */
export async function recordRun(connection: DuckDBConnection, record: PipelineRunRecord, executions: readonly SourceExecution[]): Promise<void> {
  await run(
    connection,
    `INSERT INTO platform.pipeline_runs (run_id, layer, status, started_at, finished_at, records_in, records_out, records_rejected, error, batch_id, run_trigger)
     VALUES (?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?, ?)`,
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
  for (const execution of executions) {
    await run(
      connection,
      `INSERT INTO platform.source_executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))`,
      [
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
      ],
    );
  }
}

/** Stores quality measures taken in a run. */
export async function recordQuality(connection: DuckDBConnection, runId: string, measuredAt: Date, measures: readonly QualityMeasure[]): Promise<void> {
  for (const m of measures) {
    const round = (x: number) => Math.round(x * 10_000) / 10_000;
    const completeness = round(m.completeness);
    const uniqueness = round(m.uniqueness);
    const validity = round(m.validity);
    await run(
      connection,
      `INSERT INTO platform.data_quality (table_name, measured_at, row_count, completeness, uniqueness, validity, overall_score, source_id, run_id)
       VALUES (?, CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?, ?, ?)`,
      [m.table, isoNoZone(measuredAt), m.rowCount, completeness, uniqueness, validity, round((completeness + uniqueness + validity) / 3), m.sourceId, runId],
    );
  }
}

/** Adds a run's records to the lineage edges (created on first use). */
export async function recordLineage(connection: DuckDBConnection, runId: string, at: Date, edges: readonly LineageRecord[]): Promise<void> {
  for (const edge of edges) {
    await run(
      connection,
      `INSERT INTO platform.data_lineage VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))
       ON CONFLICT (from_node, to_node) DO UPDATE SET records = data_lineage.records + excluded.records,
         last_run_id = excluded.last_run_id, last_run_at = excluded.last_run_at`,
      [edge.from, edge.to, edge.kind, edge.sourceId, edge.records, runId, isoNoZone(at)],
    );
  }
}

/**
 * Whole-table quality of the medallion's own tables: completeness of the columns a consumer
 * needs, uniqueness of the key, validity under the table's rules.
 */
const TABLE_QUALITY: Record<string, { key: string; required: string[]; valid: string }> = {
  'silver.events': {
    key: 'event_id',
    required: ['user_id', 'event_type', 'occurred_at', 'source'],
    valid: `(amount IS NULL OR amount >= 0) AND (tour_id IS NULL OR tour_id IN (SELECT tour_id FROM silver.tours))
            AND (region IS NULL OR region IN (SELECT country_code FROM silver.destinations)) AND occurred_at <= current_timestamp + INTERVAL 5 MINUTE`,
  },
  'silver.tours': {
    key: 'tour_id',
    required: ['name', 'region', 'category', 'description', 'rating', 'destination_id'],
    valid: 'price >= 0 AND duration_days > 0 AND (rating IS NULL OR rating BETWEEN 0 AND 5)',
  },
  'silver.destinations': { key: 'destination_id', required: ['name', 'country_code', 'city', 'latitude', 'longitude'], valid: 'length(country_code) = 2' },
  'silver.users': { key: 'user_id', required: ['home_region', 'signed_up_at'], valid: 'length(home_region) = 2' },
  'gold.user_360': {
    key: 'user_id',
    required: ['home_region', 'favourite_region', 'last_event_at'],
    valid: 'total_spend >= 0 AND total_bookings >= 0 AND total_bookings <= total_events',
  },
  'gold.booking_metrics': {
    key: "CAST(metric_date AS VARCHAR) || '/' || region",
    required: ['region'],
    valid: 'bookings >= 0 AND revenue >= 0 AND unique_customers <= bookings',
  },
  'gold.recommendation_features': {
    key: "user_id || '/' || feature || '/' || feature_value",
    required: ['feature_value'],
    valid: "feature IN ('region', 'category', 'booked_tour', 'price_band')",
  },
  'gold.tourism_analytics': {
    key: 'tour_id',
    required: ['destination_id', 'rating'],
    valid: 'views >= 0 AND bookings >= 0 AND revenue >= 0 AND conversion_rate >= 0',
  },
};

/** Tables whose whole-table quality a run can measure. */
export const MEASURED_TABLES = Object.keys(TABLE_QUALITY);

/** Measures the whole-table quality of `tables` (those known to `TABLE_QUALITY`). */
export async function measureTables(connection: DuckDBConnection, tables: readonly string[]): Promise<QualityMeasure[]> {
  const measures: QualityMeasure[] = [];
  for (const table of tables) {
    const spec = TABLE_QUALITY[table];
    if (!spec) continue;
    assertTableName(table);
    const filled = spec.required.map((c) => `CASE WHEN ${c} IS NULL THEN 0 ELSE 1 END`).join(' + ');
    const [row] = await rowsOf(
      connection,
      `SELECT count(*) AS n, count(DISTINCT ${spec.key}) AS distinct_keys,
         avg((${filled}) / ${spec.required.length}.0) AS completeness,
         avg(CASE WHEN ${spec.valid} THEN 1.0 ELSE 0.0 END) AS validity
       FROM ${table}`,
    );
    const n = Number(row?.['n'] ?? 0);
    measures.push({
      table,
      sourceId: null,
      rowCount: n,
      completeness: n === 0 ? 1 : Number(row?.['completeness'] ?? 1),
      uniqueness: n === 0 ? 1 : Number(row?.['distinct_keys'] ?? 0) / n,
      validity: n === 0 ? 1 : Number(row?.['validity'] ?? 1),
    });
  }
  return measures;
}
