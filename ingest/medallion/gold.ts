import { isoNoZone } from '../../src/backends/lakehouse/queries.ts';
import { scalarOf, type SqlWriter } from '../../src/backends/sql/writer.ts';
import { GOLD_TABLES, readWatermark, storeWatermark, type GoldTable } from '../../src/platform/metadata.ts';
import { assertTableName } from './bronze.ts';
import type { MedallionDialect } from './dialect.ts';
import { catalogueWatermark } from './silver-tours.ts';

export { GOLD_TABLES, type GoldTable };

const GOLD_WATERMARK = 'gold';

/** What a refresh did: per gold table the rows written, and the keys (users, tours, booking days) it recomputed. */
export interface GoldOutcome {
  tables: { table: GoldTable; rowsWritten: number }[];
  keys: number;
}

/** Price bands of a user's usual booking value (what the recommendations match tours against). */
const PRICE_BAND = `CASE WHEN avg_amount < 300 THEN 'budget' WHEN avg_amount < 1000 THEN 'mid' ELSE 'premium' END`;

/**
 * Gold: refreshes the four gold tables for the keys that silver rows promoted after the gold
 * watermark touched (users, tours, booking days per region), and for the tours the catalogue step
 * applied records of since gold's mark on each catalogue bronze table (with the users active on
 * them); on the first run, or with `full`, for every key. Each table is refreshed by "delete the affected keys, insert them
 * recomputed from silver": incremental and idempotent, so without a transaction (Trino/Iceberg:
 * row-level deletes, one snapshot per statement) a pass replayed after a crash before the
 * watermark moved (it moves last) rewrites the same rows. Returns undefined when there was
 * nothing to do.
 */
export async function refreshGold(
  writer: SqlWriter,
  dialect: MedallionDialect,
  now: Date,
  options: {
    full?: boolean;
    /** Bronze tables of the catalogue sources (promoted to `silver.tours`): the tours they landed are recomputed too. */
    catalogue?: readonly string[];
  } = {},
): Promise<GoldOutcome | undefined> {
  const watermark = await readWatermark(writer, GOLD_WATERMARK, -1);
  const head = await scalarOf(writer, 'SELECT coalesce(max(promoted_seq), 0) FROM silver.events');
  const full = options.full === true || watermark < 0;
  const catalogue = await catalogueRanges(writer, dialect, options.catalogue ?? []);
  if (!full && head <= watermark && catalogue.length === 0) return undefined;

  // The keys to recompute, from the rows promoted since the watermark (or all of silver), as
  // subqueries each statement repeats (no staging tables: Iceberg has no temporary tables).
  const changed = full ? 'silver.events' : `(SELECT * FROM silver.events WHERE promoted_seq > ${Math.floor(watermark)} AND promoted_seq <= ${Math.floor(head)})`;
  const goldUsers = `SELECT DISTINCT user_id FROM ${changed} c`;
  // Tours the catalogue changed (or deleted): their analytics row follows, and so do the
  // recommendation features of the users active on them (a tour's region and category weigh there).
  const catalogueTours = catalogue.map((range) => range.tours).join(' UNION ');
  // Tours without events still belong in tourism_analytics (zero figures) after a full refresh.
  const goldTours = full
    ? 'SELECT tour_id FROM silver.tours'
    : `SELECT DISTINCT tour_id FROM ${changed} c WHERE tour_id IS NOT NULL${catalogueTours ? ` UNION ${catalogueTours}` : ''}`;
  const featureUsers =
    full || !catalogueTours ? goldUsers : `${goldUsers} UNION SELECT DISTINCT user_id FROM silver.events WHERE tour_id IN (${catalogueTours})`;
  // Booking days per region, as one text key (Trino has no multi-column IN subquery).
  const dayKey = (date: string, region: string) => `CAST(${date} AS VARCHAR) || '/' || ${region}`;
  const goldDays = `SELECT DISTINCT ${dayKey('CAST(occurred_at AS DATE)', 'region')} AS day_key FROM ${changed} c
     WHERE event_type IN ('booking', 'cancel') AND region IS NOT NULL`;
  const keys = await scalarOf(
    writer,
    `SELECT (SELECT count(*) FROM (${featureUsers}) u) + (SELECT count(*) FROM (${goldTours}) t) + (SELECT count(*) FROM (${goldDays}) d) AS n`,
  );
  const at = isoNoZone(now);
  const ts = dialect.timestamp;
  const tables: GoldOutcome['tables'] = [];
  const run = (sql: string, params: string[] = []) => writer.execute(sql, params);

  await run(`DELETE FROM gold.user_360 WHERE user_id IN (${goldUsers})`);
  tables.push({
    table: 'gold.user_360',
    rowsWritten: await run(
      `INSERT INTO gold.user_360
       WITH per_region AS (
         SELECT user_id, region, count(*) AS n,
           row_number() OVER (PARTITION BY user_id ORDER BY count(*) DESC, region) AS rank
         FROM silver.events WHERE user_id IN (${goldUsers}) AND region IS NOT NULL
         GROUP BY user_id, region
       ), per_category AS (
         SELECT user_id, tour_category, row_number() OVER (PARTITION BY user_id ORDER BY count(*) DESC, tour_category) AS rank
         FROM silver.events WHERE user_id IN (${goldUsers}) AND tour_category IS NOT NULL
         GROUP BY user_id, tour_category
       ), totals AS (
         SELECT user_id, count(*) AS total_events,
           sum(CASE WHEN event_type = 'booking' THEN 1 ELSE 0 END) AS total_bookings,
           sum(CASE WHEN event_type = 'booking' THEN coalesce(amount, 0) ELSE 0 END) AS total_spend,
           max(CASE WHEN event_type = 'booking' THEN occurred_at END) AS last_booking_at,
           max(occurred_at) AS last_event_at
         FROM silver.events WHERE user_id IN (${goldUsers})
         GROUP BY user_id
       )
       SELECT t.user_id, u.home_region, t.total_events, t.total_bookings, round(t.total_spend, 2),
         CASE WHEN t.total_bookings = 0 THEN 0 ELSE round(t.total_spend / t.total_bookings, 2) END,
         r.region, c.tour_category, t.last_booking_at, t.last_event_at, CAST(? AS ${ts})
       FROM totals t
       LEFT JOIN silver.users u ON u.user_id = t.user_id
       LEFT JOIN per_region r ON r.user_id = t.user_id AND r.rank = 1
       LEFT JOIN per_category c ON c.user_id = t.user_id AND c.rank = 1`,
      [at],
    ),
  });

  await run(`DELETE FROM gold.booking_metrics WHERE ${dayKey('metric_date', 'region')} IN (SELECT day_key FROM (${goldDays}) d)`);
  tables.push({
    table: 'gold.booking_metrics',
    rowsWritten: await run(
      `INSERT INTO gold.booking_metrics
       SELECT CAST(e.occurred_at AS DATE) AS metric_date, e.region,
         sum(CASE WHEN e.event_type = 'booking' THEN 1 ELSE 0 END),
         sum(CASE WHEN e.event_type = 'cancel' THEN 1 ELSE 0 END),
         round(sum(CASE WHEN e.event_type = 'booking' THEN coalesce(e.amount, 0) ELSE 0 END), 2),
         coalesce(round(avg(CASE WHEN e.event_type = 'booking' THEN e.amount END), 2), 0),
         count(DISTINCT CASE WHEN e.event_type = 'booking' THEN e.user_id END),
         CAST(? AS ${ts})
       FROM silver.events e
       WHERE e.event_type IN ('booking', 'cancel')
         AND ${dayKey('CAST(e.occurred_at AS DATE)', 'e.region')} IN (SELECT day_key FROM (${goldDays}) d)
       GROUP BY CAST(e.occurred_at AS DATE), e.region`,
      [at],
    ),
  });

  // Weights: a booking says most about a user's taste, a view little and a cancellation counts against.
  await run(`DELETE FROM gold.recommendation_features WHERE user_id IN (${featureUsers})`);
  tables.push({
    table: 'gold.recommendation_features',
    rowsWritten: await run(
      `INSERT INTO gold.recommendation_features
       WITH activity AS (
         SELECT e.user_id, e.event_type, e.amount, t.tour_id, t.region, t.category,
           CASE e.event_type WHEN 'booking' THEN 5.0 WHEN 'review' THEN 3.0 WHEN 'click' THEN 2.0 WHEN 'view' THEN 1.0
             WHEN 'search' THEN 1.0 WHEN 'cancel' THEN -2.0 ELSE 0.0 END AS weight
         FROM silver.events e JOIN silver.tours t ON t.tour_id = e.tour_id
         WHERE e.user_id IN (${featureUsers})
       )
       SELECT user_id, 'region', region, sum(weight), CAST(? AS ${ts}) FROM activity GROUP BY user_id, region HAVING sum(weight) <> 0
       UNION ALL
       SELECT user_id, 'category', category, sum(weight), CAST(? AS ${ts}) FROM activity GROUP BY user_id, category HAVING sum(weight) <> 0
       UNION ALL
       SELECT user_id, 'booked_tour', tour_id, count(*), CAST(? AS ${ts}) FROM activity WHERE event_type = 'booking' GROUP BY user_id, tour_id
       UNION ALL
       SELECT user_id, 'price_band', ${PRICE_BAND}, avg_amount, CAST(? AS ${ts})
       FROM (SELECT user_id, avg(amount) AS avg_amount FROM activity WHERE event_type = 'booking' AND amount IS NOT NULL GROUP BY user_id) b`,
      [at, at, at, at],
    ),
  });

  await run(`DELETE FROM gold.tourism_analytics WHERE tour_id IN (${goldTours})`);
  tables.push({
    table: 'gold.tourism_analytics',
    rowsWritten: await run(
      `INSERT INTO gold.tourism_analytics
       SELECT t.tour_id, t.region, t.destination_id, t.category,
         coalesce(s.views, 0), coalesce(s.clicks, 0), coalesce(s.bookings, 0), coalesce(s.cancellations, 0), coalesce(s.revenue, 0),
         CASE WHEN coalesce(s.views, 0) = 0 THEN 0 ELSE round(CAST(s.bookings AS DOUBLE) / s.views, 4) END,
         t.rating, CAST(? AS ${ts})
       FROM silver.tours t
       LEFT JOIN (
         SELECT tour_id,
           sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS views,
           sum(CASE WHEN event_type = 'click' THEN 1 ELSE 0 END) AS clicks,
           sum(CASE WHEN event_type = 'booking' THEN 1 ELSE 0 END) AS bookings,
           sum(CASE WHEN event_type = 'cancel' THEN 1 ELSE 0 END) AS cancellations,
           round(sum(CASE WHEN event_type = 'booking' THEN coalesce(amount, 0) ELSE 0 END), 2) AS revenue
         FROM silver.events WHERE tour_id IN (${goldTours}) GROUP BY tour_id
       ) s ON s.tour_id = t.tour_id
       WHERE t.tour_id IN (${goldTours})`,
      [at],
    ),
  });

  await storeWatermark(writer, GOLD_WATERMARK, head);
  for (const range of catalogue) await storeWatermark(writer, range.watermark, range.head);
  return { tables, keys };
}

/** Per catalogue bronze table with records gold has not seen: the tours they name, and the mark gold moves to. */
interface CatalogueRange {
  tours: string;
  watermark: string;
  head: number;
}

/**
 * The catalogue records the silver step applied (up to its watermark) since gold's own mark per
 * bronze table. Every tour they name is recomputed, changed or not: recomputing is idempotent, and
 * bronze is where the step's changes are read back from after a crash.
 */
async function catalogueRanges(writer: SqlWriter, dialect: MedallionDialect, bronzeTables: readonly string[]): Promise<CatalogueRange[]> {
  const ranges: CatalogueRange[] = [];
  for (const table of bronzeTables) {
    assertTableName(table);
    const watermark = `gold<${table}`;
    const from = await readWatermark(writer, watermark, 0);
    const head = await readWatermark(writer, catalogueWatermark(table), 0);
    if (head <= from) continue;
    ranges.push({
      tours: `SELECT tour_id FROM (
           SELECT CASE WHEN ${dialect.isJsonObject('record')} THEN ${dialect.jsonText('record', 'tourId')} END AS tour_id FROM ${table}
           WHERE landed_seq > ${Math.floor(from)} AND landed_seq <= ${Math.floor(head)}) r
         WHERE tour_id IS NOT NULL`,
      watermark,
      head,
    });
  }
  return ranges;
}
