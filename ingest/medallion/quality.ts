import type { SqlWriter } from '../../src/backends/sql/writer.ts';
import type { QualityMeasure } from '../../src/platform/metadata.ts';
import { assertTableName } from './bronze.ts';

/**
 * Whole-table quality of the medallion's own tables: completeness of the columns a consumer
 * needs, uniqueness of the key, validity under the table's rules.
 */
const TABLE_QUALITY: Record<string, { key: string; required: string[]; valid: string }> = {
  'silver.events': {
    key: 'event_id',
    required: ['user_id', 'event_type', 'occurred_at', 'source'],
    valid: `(amount IS NULL OR amount >= 0) AND (tour_id IS NULL OR tour_id IN (SELECT tour_id FROM silver.tours))
            AND (region IS NULL OR region IN (SELECT country_code FROM silver.destinations)) AND occurred_at <= current_timestamp + INTERVAL '5' MINUTE`,
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
export async function measureTables(writer: SqlWriter, tables: readonly string[]): Promise<QualityMeasure[]> {
  const measures: QualityMeasure[] = [];
  for (const table of tables) {
    const spec = TABLE_QUALITY[table];
    if (!spec) continue;
    assertTableName(table);
    const filled = spec.required.map((c) => `CASE WHEN ${c} IS NULL THEN 0 ELSE 1 END`).join(' + ');
    const [row] = await writer.rows(
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
