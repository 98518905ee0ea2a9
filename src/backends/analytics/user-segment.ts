/**
 * The user segment rule, written once as SQL: the users dimension (analytics' `USER_SEGMENT`,
 * src/backends/analytics/dimensions.ts) and the user 360 (`UserProfile.segment`,
 * src/backends/lakehouse/gold.ts) both select it over `gold.user_360`, so a user's segment is the
 * same wherever it is read. ClickHouse does not evaluate it: it holds the lakehouse's rows.
 */

/** The segments, as `UserSegment` in schema/users.graphql names them. */
export const USER_SEGMENTS = ['NEW', 'OCCASIONAL', 'REGULAR', 'VIP', 'CHURNED'] as const;
export type UserSegmentName = (typeof USER_SEGMENTS)[number];

/** A user quiet for longer than this is churned, whatever they did before. */
export const CHURN_AFTER_DAYS = 180;

/**
 * The segment of a `gold.user_360` row (columns unqualified): recency first (churned after
 * 180 quiet days), then booking count and spend. "Now" is the engine's clock in UTC, the zone
 * the lakehouse's timestamps are written in; the text is both DuckDB and Trino SQL.
 */
export const USER_SEGMENT_SQL = [
  'CASE',
  `WHEN last_event_at IS NULL OR last_event_at < CAST(current_timestamp AT TIME ZONE 'UTC' AS TIMESTAMP) - INTERVAL '${CHURN_AFTER_DAYS}' DAY THEN 'CHURNED'`,
  "WHEN total_bookings >= 5 OR total_spend >= 2000 THEN 'VIP'",
  "WHEN total_bookings >= 2 THEN 'REGULAR'",
  "WHEN total_bookings = 1 THEN 'OCCASIONAL'",
  "ELSE 'NEW' END",
].join(' ');

/** A segment read back from an engine, checked: anything else is a broken rule, not data. */
export function userSegment(value: unknown): UserSegmentName {
  const segment = USER_SEGMENTS.find((s) => s === value);
  if (segment === undefined) throw new TypeError(`not a user segment: ${JSON.stringify(value)} (expected one of ${USER_SEGMENTS.join(', ')})`);
  return segment;
}
