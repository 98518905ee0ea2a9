import { isoNoZone } from '../../src/backends/lakehouse/queries.ts';
import { scalarOf, type SqlWriter } from '../../src/backends/sql/writer.ts';
import { readWatermark, storeWatermark } from '../../src/platform/metadata.ts';
import type { Source } from '../registry.ts';
import { assertTableName } from './bronze.ts';
import type { MedallionDialect } from './dialect.ts';

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
 * rule and its reason.
 *
 * Safe without a transaction (Trino/Iceberg commits statement by statement): the batch is a
 * query over bronze between the watermark and the head read at the start, the quarantine is a
 * MERGE keyed by bronze table and bus position, the promotion a MERGE keyed by event id, and the
 * watermarks move last; a pass replayed after a crash anywhere in between writes nothing twice.
 */
export async function promoteEvents(writer: SqlWriter, dialect: MedallionDialect, sources: readonly Source[], runId: string, now: Date): Promise<SourceOutcome[]> {
  /** Per source with new bronze rows: the head its watermark moves to once they are promoted. */
  const heads = new Map<Source, number>();
  const ranges: string[] = [];
  for (const source of sources) {
    assertTableName(source.bronzeTable);
    const watermark = await readWatermark(writer, watermarkName(source), 0);
    const head = await scalarOf(writer, `SELECT coalesce(max(landed_seq), 0) FROM ${source.bronzeTable}`);
    if (head <= watermark) continue;
    heads.set(source, head);
    ranges.push(batchOf(dialect, source, watermark, head));
  }
  // Nothing new: nothing written (on Iceberg even an unchanged watermark would be a commit).
  if (ranges.length === 0) return [];
  const nowText = isoNoZone(now);
  // The batch and the first failing rule of each row, and whether it is a duplicate (earlier in
  // the batch, or already promoted): one CTE, repeated in each statement rather than staged.
  const checked = `WITH batch AS (
       ${ranges.join('\n       UNION ALL\n       ')}
     ), checked AS (
       SELECT b.*,
         t.destination_id AS tour_destination_id, t.category AS tour_category, t.region AS tour_region,
         CASE
           WHEN NOT b.is_json THEN 'malformed_record'
           WHEN b.event_id IS NULL OR b.user_id IS NULL OR b.event_type IS NULL OR b.occurred_at IS NULL THEN 'required_fields'
           WHEN b.amount IS NOT NULL AND b.amount < 0 THEN 'non_negative_amount'
           WHEN b.tour_id IS NOT NULL AND t.tour_id IS NULL THEN 'known_tour'
           WHEN b.region IS NOT NULL AND b.region NOT IN (SELECT country_code FROM silver.destinations) THEN 'known_region'
           WHEN b.occurred_at > CAST(? AS ${dialect.timestamp}) + INTERVAL '${FUTURE_SKEW_MINUTES}' MINUTE THEN 'not_in_future'
         END AS failed_rule,
         (b.event_id IS NOT NULL AND (
            row_number() OVER (PARTITION BY b.event_id ORDER BY b.bronze_table, b.landed_seq) > 1
            OR EXISTS (SELECT 1 FROM silver.events s WHERE s.event_id = b.event_id))) AS duplicate,
         row_number() OVER (PARTITION BY b.bronze_table, b.log_cursor ORDER BY b.landed_seq) AS landing_copy
       FROM batch b LEFT JOIN silver.tours t ON t.tour_id = b.tour_id
     )`;

  // Counted before anything is written (a promoted row counts as a duplicate afterwards).
  const counts = await writer.rows(
    `${checked}
     SELECT source_id, count(*) AS n,
       sum(CASE WHEN failed_rule IS NULL AND NOT duplicate THEN 1 ELSE 0 END) AS promoted,
       sum(CASE WHEN failed_rule IS NOT NULL AND NOT duplicate THEN 1 ELSE 0 END) AS quarantined,
       sum(CASE WHEN duplicate THEN 1 ELSE 0 END) AS duplicates,
       avg(CASE WHEN failed_rule IN ('malformed_record', 'required_fields') THEN 0.0 ELSE 1.0 END) AS completeness,
       count(DISTINCT event_id) AS distinct_ids,
       avg(CASE WHEN failed_rule IS NULL THEN 1.0 ELSE 0.0 END) AS validity
     FROM checked GROUP BY source_id`,
    [nowText],
  );

  const ruleCases = Object.entries(SILVER_EVENT_RULES)
    .map(([rule, reason]) => `WHEN '${rule}' THEN '${reason.replace(/'/g, "''")}'`)
    .join(' ');
  await writer.execute(
    `MERGE INTO silver.quarantine q
     USING (
       ${checked}
       SELECT event_id, source_id, bronze_table, failed_rule, CASE failed_rule ${ruleCases} END AS reason, record, log_cursor
       FROM checked WHERE failed_rule IS NOT NULL AND NOT duplicate AND landing_copy = 1
     ) s
     ON q.bronze_table = s.bronze_table AND q.log_cursor = s.log_cursor
     WHEN NOT MATCHED THEN INSERT (event_id, source_id, bronze_table, target_table, rule, reason, record, run_id, quarantined_at, dead_lettered, log_cursor)
       VALUES (s.event_id, s.source_id, s.bronze_table, 'silver.events', s.failed_rule, s.reason, s.record, ?, CAST(? AS ${dialect.timestamp}), false, s.log_cursor)`,
    [nowText, runId, nowText],
  );
  const firstSeq = await scalarOf(writer, 'SELECT coalesce(max(promoted_seq), 0) FROM silver.events');
  await writer.execute(
    `MERGE INTO silver.events e
     USING (
       ${checked}
       SELECT event_id, user_id, event_type, tour_id, coalesce(region, tour_region) AS region, amount, currency, occurred_at, source, payload,
         topic, TRY_CAST(log_cursor AS BIGINT) AS log_offset, tour_destination_id, tour_category,
         ? + row_number() OVER (ORDER BY bronze_table, landed_seq) AS promoted_seq, log_cursor
       FROM checked WHERE failed_rule IS NULL AND NOT duplicate
     ) s
     ON e.event_id = s.event_id
     WHEN NOT MATCHED THEN INSERT (event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source, payload, topic, log_offset,
                                   destination_id, tour_category, promoted_seq, log_cursor)
       VALUES (s.event_id, s.user_id, s.event_type, s.tour_id, s.region, s.amount, s.currency, s.occurred_at, s.source, s.payload, s.topic, s.log_offset,
               s.tour_destination_id, s.tour_category, s.promoted_seq, s.log_cursor)`,
    [nowText, firstSeq],
  );

  for (const [source, head] of heads) await storeWatermark(writer, watermarkName(source), head);
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

/** One source's bronze rows in (watermark, head], typed from their JSON records. */
function batchOf(dialect: MedallionDialect, source: Source, watermark: number, head: number): string {
  const text = (field: string) => `CASE WHEN is_json THEN ${dialect.jsonText('record', field)} END`;
  // Registry values checked by its schema (ids and table names), bounds integers: safe as literals.
  if (!/^[a-z][a-z0-9_]*$/.test(source.sourceId)) throw new Error(`"${source.sourceId}" is not a source id`);
  return `SELECT '${source.sourceId}' AS source_id, '${source.bronzeTable}' AS bronze_table, topic, landed_seq, record, log_cursor, is_json,
         ${text('eventId')} AS event_id,
         ${text('userId')} AS user_id,
         ${text('eventType')} AS event_type,
         ${text('tourId')} AS tour_id,
         ${text('region')} AS region,
         TRY_CAST(${text('amount')} AS DOUBLE) AS amount,
         ${text('currency')} AS currency,
         ${dialect.parseTimestamp(text('occurredAt'))} AS occurred_at,
         CASE WHEN is_json THEN coalesce(${dialect.jsonText('record', 'source')}, '${source.sourceId}') END AS source,
         CASE WHEN is_json THEN ${dialect.jsonContainer('record', 'payload')} END AS payload
       FROM (SELECT topic, landed_seq, record, log_cursor, ${dialect.isJsonObject('record')} AS is_json FROM ${source.bronzeTable}
             WHERE landed_seq > ${Math.floor(watermark)} AND landed_seq <= ${Math.floor(head)}) r`;
}

function watermarkName(source: Source): string {
  return `silver.events<${source.bronzeTable}`;
}
