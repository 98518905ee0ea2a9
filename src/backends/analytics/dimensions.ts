import { USER_SEGMENT_SQL } from './user-segment.ts';

/**
 * The analytics role's dimension tables, beside `analytics.events`: embedded and on Trino they
 * are views over silver and gold; ClickHouse holds a copy (src/backends/clickhouse/load.ts). One query
 * defines each, so every engine answers from the same rows.
 */
export interface DimensionTable {
  /** `analytics.<table>` */
  name: string;
  /** Column name → ClickHouse type (Nullable exactly where the lakehouse allows NULL). */
  columns: ReadonlyArray<readonly [string, string]>;
  /** Its rows from the lakehouse (SQL DuckDB and Trino share). */
  query: string;
  /** Key of the ClickHouse copy's sorting. */
  key: string;
}

/**
 * Each tour with its destination. Destinations are folded into the tours dimension rather than
 * joined through it: ClickHouse before 20.x joins one table per SELECT.
 */
export const TOURS_DIMENSION: DimensionTable = {
  name: 'analytics.tours',
  columns: [
    ['tour_id', 'String'],
    ['tour_name', 'String'],
    ['category', 'String'],
    ['destination_id', 'Nullable(String)'],
    ['destination_name', 'Nullable(String)'],
    ['destination_country', 'Nullable(String)'],
  ],
  query:
    'SELECT t.tour_id, t.name AS tour_name, t.category, t.destination_id, d.name AS destination_name, d.country AS destination_country ' +
    'FROM silver.tours t LEFT JOIN silver.destinations d ON d.destination_id = t.destination_id',
  key: 'tour_id',
};

/**
 * Each user the gold user 360 knows, with their home region and segment (the rule in
 * user-segment.ts). On ClickHouse the copy keeps the segments of the time it was made.
 */
export const USERS_DIMENSION: DimensionTable = {
  name: 'analytics.users',
  columns: [
    ['user_id', 'String'],
    ['home_region', 'Nullable(String)'],
    ['segment', 'String'],
  ],
  query: `SELECT user_id, home_region, ${USER_SEGMENT_SQL} AS segment FROM gold.user_360`,
  key: 'user_id',
};

export const DIMENSION_TABLES: readonly DimensionTable[] = [TOURS_DIMENSION, USERS_DIMENSION];
