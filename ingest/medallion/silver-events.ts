import type { DuckDBConnection } from '@duckdb/node-api';
import { isoNoZone } from '../../src/backends/lakehouse/queries.ts';
import type { Source } from '../registry.ts';
import { assertTableName } from './bronze.ts';
import { readWatermark, rowsOf, run, scalar, storeWatermark } from './sql.ts';

/** The business rules a silver event must pass, in the order they are checked (the first failure is recorded). */
export const SILVER_EVENT_RULES = {
  malformed_record: 'the record is not a JSON object',
  required_fields: 'eventId, userId, eventType and a parseable occurredAt are required',
  non_negative_amount: 'amount must not be negative',
  known_tour: 'tourId must name a tour of the catalogue (silver.tours)',
  known_region: 'region must be the country code of a known destination',
  not_in_future: 'occurredAt must not be in the future',
} as const;
export type SilverEventRule = keyof typeof SILVER_EVENT_RULES;

/** Allowed clock skew for `occurredAt`, as for the publisher. */
const FUTURE_SKEW_MINUTES = 5;

/** Per source: what the step read from its bronze table and what became of it. */
export interface SourceOutcome {
  source: Source;
  recordsIn: number;
  promoted: number;
  quarantined: number;
  /** Already in silver (an at-least-once redelivery) or twice in the batch: dropped, not an error. */
  duplicates: number;
  /** Batch quality: required fields present, distinct event ids, rules passed (0..1). */
  completeness: number;
  uniqueness: number;
  validity: number;
}

/**
 * Silver: promotes the bronze rows of every source feeding `silver.events` that arrived since
 * the step's watermark (per bronze table): typed from the JSON record, deduplicated by event id,
 * checked against the business rules, enriched with the tour's destination and category (and
 * its region when the event has none). Rows failing a rule go to `silver.quarantine` with the
 * rule and its reason. Runs inside the caller's transaction; watermarks advance with it.
 *
 * Portability: the statements are the SQL DuckDB and Trino share, except the JSON functions
 * (`json_extract_string` here, `json_extract_scalar` on Trino), `json_valid` (Trino:
 * `json_parse` inside `try`) and the TEMP staging table (an Iceberg staging table on Trino).
 */
export async function promoteEvents(connection: DuckDBConnection, sources: readonly Source[], runId: string, now: Date): Promise<SourceOutcome[]> {
  await run(
    connection,
    `CREATE OR REPLACE TEMP TABLE silver_batch (
       source_id VARCHAR, bronze_table VARCHAR, topic VARCHAR, landed_seq BIGINT, record VARCHAR, log_cursor VARCHAR, is_json BOOLEAN,
       event_id VARCHAR, user_id VARCHAR, event_type VARCHAR, tour_id VARCHAR, region VARCHAR, amount DOUBLE,
       currency VARCHAR, occurred_at TIMESTAMP, source VARCHAR, payload VARCHAR)`,
  );
  const heads = new Map<Source, number>();
  for (const source of sources) {
    assertTableName(source.bronzeTable);
    const pipeline = watermarkName(source);
    const watermark = await readWatermark(connection, pipeline, 0);
    const head = await scalar(connection, `SELECT coalesce(max(landed_seq), 0) FROM ${source.bronzeTable}`);
    heads.set(source, head);
    if (head <= watermark) continue;
    await run(
      connection,
      `INSERT INTO silver_batch
       SELECT ?, ?, ?, landed_seq, record, log_cursor, is_json,
         CASE WHEN is_json THEN json_extract_string(record, '$.eventId') END,
         CASE WHEN is_json THEN json_extract_string(record, '$.userId') END,
         CASE WHEN is_json THEN json_extract_string(record, '$.eventType') END,
         CASE WHEN is_json THEN json_extract_string(record, '$.tourId') END,
         CASE WHEN is_json THEN json_extract_string(record, '$.region') END,
         CASE WHEN is_json THEN TRY_CAST(json_extract_string(record, '$.amount') AS DOUBLE) END,
         CASE WHEN is_json THEN json_extract_string(record, '$.currency') END,
         CASE WHEN is_json THEN TRY_CAST(replace(replace(json_extract_string(record, '$.occurredAt'), 'T', ' '), 'Z', '') AS TIMESTAMP) END,
         CASE WHEN is_json THEN coalesce(json_extract_string(record, '$.source'), ?) END,
         CASE WHEN is_json AND json_type(record, '$.payload') IN ('OBJECT', 'ARRAY') THEN CAST(json_extract(record, '$.payload') AS VARCHAR) END
       FROM (SELECT *, coalesce(json_valid(record) AND json_type(record) = 'OBJECT', false) AS is_json FROM ${source.bronzeTable}) b
       WHERE landed_seq > ? AND landed_seq <= ?`,
      [source.sourceId, source.bronzeTable, source.topic, source.sourceId, watermark, head],
    );
  }

  // The first failing rule of each row, and whether it is a duplicate (earlier in the batch or already promoted).
  await run(
    connection,
    `CREATE OR REPLACE TEMP TABLE silver_checked AS
     SELECT b.*,
       t.destination_id AS tour_destination_id, t.category AS tour_category, t.region AS tour_region,
       CASE
         WHEN NOT b.is_json THEN 'malformed_record'
         WHEN b.event_id IS NULL OR b.user_id IS NULL OR b.event_type IS NULL OR b.occurred_at IS NULL THEN 'required_fields'
         WHEN b.amount IS NOT NULL AND b.amount < 0 THEN 'non_negative_amount'
         WHEN b.tour_id IS NOT NULL AND t.tour_id IS NULL THEN 'known_tour'
         WHEN b.region IS NOT NULL AND b.region NOT IN (SELECT country_code FROM silver.destinations) THEN 'known_region'
         WHEN b.occurred_at > CAST(? AS TIMESTAMP) + INTERVAL ${FUTURE_SKEW_MINUTES} MINUTE THEN 'not_in_future'
       END AS failed_rule,
       (b.event_id IS NOT NULL AND (
          row_number() OVER (PARTITION BY b.event_id ORDER BY b.bronze_table, b.landed_seq) > 1
          OR EXISTS (SELECT 1 FROM silver.events s WHERE s.event_id = b.event_id))) AS duplicate
     FROM silver_batch b LEFT JOIN silver.tours t ON t.tour_id = b.tour_id`,
    [isoNoZone(now)],
  );

  const ruleCases = Object.entries(SILVER_EVENT_RULES)
    .map(([rule, reason]) => `WHEN '${rule}' THEN '${reason.replace(/'/g, "''")}'`)
    .join(' ');
  await run(
    connection,
    `INSERT INTO silver.quarantine (event_id, source_id, bronze_table, target_table, rule, reason, record, run_id, quarantined_at)
     SELECT event_id, source_id, bronze_table, 'silver.events', failed_rule, CASE failed_rule ${ruleCases} END, record, ?, CAST(? AS TIMESTAMP)
     FROM silver_checked WHERE failed_rule IS NOT NULL AND NOT duplicate`,
    [runId, isoNoZone(now)],
  );
  const firstSeq = await scalar(connection, 'SELECT coalesce(max(promoted_seq), 0) FROM silver.events');
  await run(
    connection,
    `INSERT INTO silver.events (event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source, payload, topic, log_offset,
                                destination_id, tour_category, promoted_seq, log_cursor)
     SELECT event_id, user_id, event_type, tour_id, coalesce(region, tour_region), amount, currency, occurred_at, source, payload,
       topic, TRY_CAST(log_cursor AS BIGINT), tour_destination_id, tour_category,
       ? + row_number() OVER (ORDER BY bronze_table, landed_seq), log_cursor
     FROM silver_checked WHERE failed_rule IS NULL AND NOT duplicate`,
    [firstSeq],
  );

  const counts = await rowsOf(
    connection,
    `SELECT source_id, count(*) AS n,
       sum(CASE WHEN failed_rule IS NULL AND NOT duplicate THEN 1 ELSE 0 END) AS promoted,
       sum(CASE WHEN failed_rule IS NOT NULL AND NOT duplicate THEN 1 ELSE 0 END) AS quarantined,
       sum(CASE WHEN duplicate THEN 1 ELSE 0 END) AS duplicates,
       avg(CASE WHEN failed_rule IN ('malformed_record', 'required_fields') THEN 0.0 ELSE 1.0 END) AS completeness,
       count(DISTINCT event_id) AS distinct_ids,
       avg(CASE WHEN failed_rule IS NULL THEN 1.0 ELSE 0.0 END) AS validity
     FROM silver_checked GROUP BY source_id`,
  );
  for (const [source, head] of heads) await storeWatermark(connection, watermarkName(source), head);
  return sources.flatMap((source) => {
    const row = counts.find((r) => r['source_id'] === source.sourceId);
    if (!row) return [];
    const n = Number(row['n']);
    return [
      {
        source,
        recordsIn: n,
        promoted: Number(row['promoted']),
        quarantined: Number(row['quarantined']),
        duplicates: Number(row['duplicates']),
        completeness: Number(row['completeness']),
        uniqueness: n === 0 ? 1 : Number(row['distinct_ids']) / n,
        validity: Number(row['validity']),
      },
    ];
  });
}

function watermarkName(source: Source): string {
  return `silver.events<${source.bronzeTable}`;
}
