import { isoNoZone } from '../../src/backends/lakehouse/queries.ts';
import { scalarOf, type SqlWriter } from '../../src/backends/sql/writer.ts';
import { readWatermark, storeWatermark } from '../../src/platform/metadata.ts';
import type { Source } from '../registry.ts';
import { assertTableName } from './bronze.ts';
import type { MedallionDialect } from './dialect.ts';

/** The business rules a catalogue record must pass, in the order they are checked (the first failure is recorded). */
export const SILVER_TOUR_RULES = {
  malformed_record: 'the record is not a JSON object',
  required_fields:
    'tourId, a parseable updatedAt and deleted are required; a tour that is not deleted also needs name, destinationId, region, price, currency, durationDays, category and tags',
  valid_values: 'price must not be negative, durationDays must be at least 1 and rating between 0 and 5',
  known_destination: 'destinationId must name a destination of the catalogue (silver.destinations)',
  not_in_future: 'updatedAt must not be in the future',
} as const;
export type SilverTourRule = keyof typeof SILVER_TOUR_RULES;

/** Allowed clock skew for `updatedAt`, as for events: a tour stamped far ahead would win over every later update. */
const FUTURE_SKEW_MINUTES = 5;

/** Per catalogue source: what the step read from its bronze table and what became of it. */
export interface CatalogueOutcome {
  source: Source;
  recordsIn: number;
  /** Tours this source's records created or changed in `silver.tours`. */
  upserted: number;
  /** Tours this source's records removed from `silver.tours`. */
  deleted: number;
  quarantined: number;
  /** Accepted but not applied: an older state than silver's, a state silver already has, or a redelivery. */
  superseded: number;
  /** Batch quality: required fields present, distinct event ids, rules passed (0..1). */
  completeness: number;
  uniqueness: number;
  validity: number;
}

/** The columns of `silver.tours` a catalogue record sets, in their order (the record's typed field of the same name). */
const TOUR_COLUMNS = ['tour_id', 'name', 'destination_id', 'region', 'price', 'currency', 'rating', 'duration_days', 'category', 'tags', 'description', 'updated_at'] as const;

/**
 * Silver for the tour catalogue: applies the full-state tour records (contract
 * `tour_update.v1`) of the sources promoted to `silver.tours` that landed since the step's
 * watermark. Per tour the record with the newest `updatedAt` wins (ties: the later bus position),
 * among every accepted record of that tour still in bronze, so an older record arriving late never
 * overwrites a newer state, nor brings back a tour deleted since; the winner is applied only when
 * it is newer than what `silver.tours` holds (or as new with a different state). `deleted: true`
 * removes the tour. Records failing a rule go to `silver.quarantine` with the rule and its reason.
 *
 * Safe without a transaction (Trino/Iceberg commits statement by statement), as the event step
 * is: the batch is a query over bronze between the watermark and the head read at the start, the
 * quarantine is a MERGE keyed by bronze table and bus position, the catalogue a MERGE that writes
 * only what differs from silver, and the watermarks move last; a pass replayed after a crash
 * anywhere in between writes nothing twice.
 */
export async function promoteTours(
  writer: SqlWriter,
  dialect: MedallionDialect,
  sources: readonly Source[],
  runId: string,
  now: Date,
  options: {
    /**
     * Told of each table before a statement that changes it runs: without transactions a step
     * failing half-way has still changed it, and the pass's commit must say so.
     */
    changing?: (table: 'silver.tours' | 'silver.quarantine') => void;
  } = {},
): Promise<CatalogueOutcome[]> {
  const heads = new Map<Source, number>();
  const landed: string[] = [];
  for (const source of sources) {
    assertTableName(source.bronzeTable);
    const watermark = await readWatermark(writer, catalogueWatermark(source.bronzeTable), 0);
    const head = await scalarOf(writer, `SELECT coalesce(max(landed_seq), 0) FROM ${source.bronzeTable}`);
    if (head <= watermark) continue;
    heads.set(source, head);
    landed.push(landedOf(dialect, source, watermark, head));
  }
  if (landed.length === 0) return [];
  const nowText = isoNoZone(now);
  const ts = dialect.timestamp;
  // The batch (`in_batch`) and every earlier record of the tours it names, each with the first
  // rule it fails; the winner per tour among the accepted ones; the winners that change silver.
  // One CTE, repeated in each statement rather than staged (Iceberg has no temporary tables).
  const changes = `WITH landed AS (
       ${landed.join('\n       UNION ALL\n       ')}
     ), checked AS (
       SELECT l.*,
         CASE
           WHEN NOT l.is_json THEN 'malformed_record'
           WHEN l.tour_id IS NULL OR l.updated_at IS NULL OR l.deleted IS NULL THEN 'required_fields'
           WHEN NOT l.deleted AND (l.name IS NULL OR l.destination_id IS NULL OR l.region IS NULL OR l.price IS NULL OR l.currency IS NULL
             OR l.duration_days IS NULL OR l.category IS NULL OR l.tags IS NULL) THEN 'required_fields'
           WHEN NOT l.deleted AND (l.price < 0 OR l.duration_days < 1 OR l.rating < 0 OR l.rating > 5) THEN 'valid_values'
           WHEN NOT l.deleted AND l.destination_id NOT IN (SELECT destination_id FROM silver.destinations) THEN 'known_destination'
           WHEN l.updated_at > CAST(? AS ${ts}) + INTERVAL '${FUTURE_SKEW_MINUTES}' MINUTE THEN 'not_in_future'
         END AS failed_rule,
         row_number() OVER (PARTITION BY l.bronze_table, l.log_cursor ORDER BY l.landed_seq) AS landing_copy
       FROM landed l
       WHERE l.in_batch OR l.tour_id IN (SELECT tour_id FROM landed WHERE in_batch)
     ), winners AS (
       SELECT * FROM (
         SELECT c.*, row_number() OVER (PARTITION BY c.tour_id ORDER BY c.updated_at DESC, c.landed_seq DESC, c.bronze_table DESC) AS newest
         FROM checked c
         WHERE c.failed_rule IS NULL
           AND c.tour_id IN (SELECT tour_id FROM checked WHERE in_batch AND failed_rule IS NULL)
           AND NOT EXISTS (SELECT 1 FROM silver.quarantine q WHERE q.bronze_table = c.bronze_table AND q.log_cursor = c.log_cursor)
       ) ranked WHERE newest = 1
     ), changes AS (
       SELECT w.* FROM winners w LEFT JOIN silver.tours t ON t.tour_id = w.tour_id
       WHERE (w.deleted AND t.tour_id IS NOT NULL AND w.updated_at >= t.updated_at)
          OR (NOT w.deleted AND (t.tour_id IS NULL OR w.updated_at > t.updated_at
              OR (w.updated_at = t.updated_at AND ${stateDiffers('w', 't')})))
     )`;

  // Counted before anything is written (an applied change is no change afterwards). `settled`:
  // winners of this batch silver already holds, written by an attempt of this pass that crashed
  // before its watermark (and so before its commit was announced), or redelivered.
  const counts = await writer.rows(
    `${changes}
     SELECT b.source_id, b.n, b.quarantined, b.completeness, b.distinct_ids, b.validity,
       coalesce(x.upserted, 0) AS upserted, coalesce(x.deleted, 0) AS deleted, coalesce(y.settled, 0) AS settled
     FROM (
       SELECT source_id, count(*) AS n,
         sum(CASE WHEN failed_rule IS NOT NULL THEN 1 ELSE 0 END) AS quarantined,
         avg(CASE WHEN failed_rule IN ('malformed_record', 'required_fields') THEN 0.0 ELSE 1.0 END) AS completeness,
         count(DISTINCT event_id) AS distinct_ids,
         avg(CASE WHEN failed_rule IS NULL THEN 1.0 ELSE 0.0 END) AS validity
       FROM checked WHERE in_batch GROUP BY source_id
     ) b LEFT JOIN (
       SELECT source_id, sum(CASE WHEN deleted THEN 0 ELSE 1 END) AS upserted, sum(CASE WHEN deleted THEN 1 ELSE 0 END) AS deleted
       FROM changes GROUP BY source_id
     ) x ON x.source_id = b.source_id LEFT JOIN (
       SELECT w.source_id, count(*) AS settled FROM winners w LEFT JOIN silver.tours t ON t.tour_id = w.tour_id
       WHERE w.in_batch AND w.tour_id NOT IN (SELECT tour_id FROM changes)
         AND ((w.deleted AND t.tour_id IS NULL) OR (NOT w.deleted AND t.updated_at = w.updated_at AND NOT ${stateDiffers('w', 't')}))
       GROUP BY w.source_id
     ) y ON y.source_id = b.source_id`,
    [nowText],
  );

  const quarantined = counts.reduce((n, row) => n + Number(row['quarantined']), 0);
  const applied = counts.reduce((n, row) => n + Number(row['upserted']) + Number(row['deleted']), 0);
  const settled = counts.reduce((n, row) => n + Number(row['settled']), 0);
  if (quarantined > 0) options.changing?.('silver.quarantine');
  // Announced when silver holds a state this batch brought, even if an earlier attempt wrote it:
  // that attempt's commit was never announced (a crash before the watermark is one before the commit).
  if (applied > 0 || settled > 0) options.changing?.('silver.tours');

  const ruleCases = Object.entries(SILVER_TOUR_RULES)
    .map(([rule, reason]) => `WHEN '${rule}' THEN '${reason.replace(/'/g, "''")}'`)
    .join(' ');
  // Statements only where there is something to write (on Iceberg each one costs a round trip and a planning).
  if (quarantined > 0) {
    await writer.execute(
      `MERGE INTO silver.quarantine q
       USING (
         ${changes}
         SELECT event_id, source_id, bronze_table, failed_rule, CASE failed_rule ${ruleCases} END AS reason, record, log_cursor
         FROM checked WHERE in_batch AND failed_rule IS NOT NULL AND landing_copy = 1
       ) s
       ON q.bronze_table = s.bronze_table AND q.log_cursor = s.log_cursor
       WHEN NOT MATCHED THEN INSERT (event_id, source_id, bronze_table, target_table, rule, reason, record, run_id, quarantined_at, dead_lettered, log_cursor)
         VALUES (s.event_id, s.source_id, s.bronze_table, 'silver.tours', s.failed_rule, s.reason, s.record, ?, CAST(? AS ${ts}), false, s.log_cursor)`,
      [nowText, runId, nowText],
    );
  }
  if (applied > 0) {
    const settable = TOUR_COLUMNS.filter((c) => c !== 'tour_id');
    await writer.execute(
      `MERGE INTO silver.tours t
       USING (
         ${changes}
         SELECT * FROM changes
       ) s
       ON t.tour_id = s.tour_id
       WHEN MATCHED AND s.deleted THEN DELETE
       WHEN MATCHED THEN UPDATE SET ${settable.map((c) => `${c} = s.${c}`).join(', ')}
       WHEN NOT MATCHED AND NOT s.deleted THEN INSERT (${TOUR_COLUMNS.join(', ')}) VALUES (${TOUR_COLUMNS.map((c) => `s.${c}`).join(', ')})`,
      [nowText],
    );
  }

  for (const [source, head] of heads) await storeWatermark(writer, catalogueWatermark(source.bronzeTable), head);
  return sources.flatMap((source) => {
    const row = counts.find((r) => r['source_id'] === source.sourceId);
    if (!row) return [];
    const n = Number(row['n']);
    const upserted = Number(row['upserted']);
    const deleted = Number(row['deleted']);
    const quarantined = Number(row['quarantined']);
    return [
      {
        source,
        recordsIn: n,
        upserted,
        deleted,
        quarantined,
        superseded: Math.max(0, n - quarantined - upserted - deleted),
        completeness: Number(row['completeness']),
        uniqueness: n === 0 ? 1 : Number(row['distinct_ids']) / n,
        validity: Number(row['validity']),
      },
    ];
  });
}

/** SQL text: whether the tour rows `a` and `b` differ in a column a record sets (besides key and stamp). */
function stateDiffers(a: string, b: string): string {
  return `(${TOUR_COLUMNS.filter((c) => c !== 'tour_id' && c !== 'updated_at')
    .map((c) => `${a}.${c} IS DISTINCT FROM ${b}.${c}`)
    .join(' OR ')})`;
}

/**
 * The watermark of the catalogue step over one bronze table: bronze rows up to it are applied to
 * `silver.tours`. Gold follows it (refreshing the tours landed between its own mark and this one).
 */
export function catalogueWatermark(bronzeTable: string): string {
  return `silver.tours<${bronzeTable}`;
}

/**
 * One source's bronze rows up to `head`, typed from their JSON records; `in_batch` marks those
 * after the watermark. Earlier rows are read too: the newest state of a tour is chosen among all
 * of its records still in bronze.
 */
function landedOf(dialect: MedallionDialect, source: Source, watermark: number, head: number): string {
  const text = (field: string) => `CASE WHEN is_json THEN ${dialect.jsonText('record', field)} END`;
  // Registry values checked by its schema (ids and table names), bounds integers: safe as literals.
  if (!/^[a-z][a-z0-9_]*$/.test(source.sourceId)) throw new Error(`"${source.sourceId}" is not a source id`);
  return `SELECT '${source.sourceId}' AS source_id, '${source.bronzeTable}' AS bronze_table, landed_seq, record, log_cursor, is_json,
         landed_seq > ${Math.floor(watermark)} AS in_batch,
         ${text('eventId')} AS event_id,
         ${text('tourId')} AS tour_id,
         ${text('name')} AS name,
         ${text('destinationId')} AS destination_id,
         ${text('region')} AS region,
         TRY_CAST(${text('price')} AS DOUBLE) AS price,
         ${text('currency')} AS currency,
         TRY_CAST(${text('rating')} AS DOUBLE) AS rating,
         TRY_CAST(${text('durationDays')} AS INTEGER) AS duration_days,
         ${text('category')} AS category,
         CASE WHEN is_json THEN ${dialect.jsonTextArray('record', 'tags')} END AS tags,
         ${text('description')} AS description,
         ${dialect.parseTimestamp(text('updatedAt'))} AS updated_at,
         CASE ${text('deleted')} WHEN 'true' THEN true WHEN 'false' THEN false END AS deleted
       FROM (SELECT landed_seq, record, log_cursor, ${dialect.isJsonObject('record')} AS is_json FROM ${source.bronzeTable}
             WHERE landed_seq <= ${Math.floor(head)}) r`;
}
