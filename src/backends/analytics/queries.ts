import type { RegionalStatsRow, RevenuePointRow, TourPopularityRow, TourStatsRow, UserProfileRow } from '../../domain.ts';
import { isoNoZone } from '../lakehouse/queries.ts';
import { limit, placeholders, type QueryOptions, type SqlDialect, type SqlEngine, type SqlValue } from '../sql/port.ts';

/**
 * Analytics reads over `analytics.events`. The SQL is the subset DuckDB, Trino and ClickHouse
 * share (CASE inside aggregates instead of FILTER/countIf, count(DISTINCT), `1 = 1` rather than
 * TRUE, unknown to older ClickHouse such as 18.16); the dialect differences, time bucketing and
 * timestamp parameters, go through `bucketExpression` and `timestampParameter`.
 */

export type BucketInterval = 'day' | 'week' | 'month';

/** Start-of-bucket expression of `column` (weeks start on Monday everywhere). */
export function bucketExpression(dialect: SqlDialect, interval: BucketInterval, column: string): string {
  switch (dialect) {
    case 'duckdb':
    case 'trino':
      return `date_trunc('${interval}', ${column})`;
    case 'clickhouse':
      return interval === 'day' ? `toStartOfDay(${column})` : interval === 'week' ? `toMonday(${column})` : `toStartOfMonth(${column})`;
    default: {
      const unknown: never = dialect;
      throw new Error(`no bucketing for dialect ${String(unknown)}`);
    }
  }
}

/** Money sums are floating point on some engines; answers carry whole cents. */
function cents(value: number): number {
  return Math.round(value * 100) / 100;
}

const BOOKINGS = "sum(CASE WHEN event_type = 'booking' THEN 1 ELSE 0 END)";
const REVENUE = "sum(CASE WHEN event_type = 'booking' THEN coalesce(amount, 0) ELSE 0 END)";
const VIEWS = "sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END)";

/** Bookings, revenue and views per tour id, one statement for any number of tours. */
export async function tourStats(engine: SqlEngine, tourIds: readonly string[], options?: QueryOptions): Promise<TourStatsRow[]> {
  const rows = await engine.query(
    `SELECT tour_id, ${BOOKINGS} AS bookings, ${REVENUE} AS revenue, ${VIEWS} AS views
     FROM analytics.events
     WHERE tour_id IN (${placeholders(tourIds.length)})
     GROUP BY tour_id`,
    tourIds,
    options,
  );
  return rows.map((row) => ({
    tourId: String(row['tour_id']),
    bookings: Number(row['bookings']),
    revenue: cents(Number(row['revenue'])),
    views: Number(row['views']),
  }));
}

/** User 360 figures per user id, one statement for any number of users (folded per region in JS). */
export async function userProfiles(engine: SqlEngine, userIds: readonly string[], options?: QueryOptions): Promise<UserProfileRow[]> {
  const rows = await engine.query(
    `SELECT user_id, region, count(*) AS events, ${BOOKINGS} AS bookings, ${REVENUE} AS spend,
       max(CASE WHEN event_type = 'booking' THEN occurred_at END) AS last_booking_at,
       max(occurred_at) AS last_event_at
     FROM analytics.events
     WHERE user_id IN (${placeholders(userIds.length)})
     GROUP BY user_id, region`,
    userIds,
    options,
  );
  const profiles = new Map<string, UserProfileRow & { regionEvents: number }>();
  for (const row of rows) {
    const userId = String(row['user_id']);
    const region = row['region'] == null ? null : String(row['region']);
    const events = Number(row['events']);
    const lastBooking = row['last_booking_at'] instanceof Date ? row['last_booking_at'] : null;
    const lastEvent = row['last_event_at'] instanceof Date ? row['last_event_at'] : null;
    const profile = profiles.get(userId) ?? {
      userId,
      totalBookings: 0,
      totalSpend: 0,
      favouriteRegion: null,
      lastBookingAt: null,
      lastEventAt: null,
      eventCount: 0,
      regionEvents: 0,
    };
    profile.totalBookings += Number(row['bookings']);
    profile.totalSpend += Number(row['spend']);
    profile.eventCount += events;
    if (region !== null && (events > profile.regionEvents || (events === profile.regionEvents && region < (profile.favouriteRegion ?? '~')))) {
      profile.favouriteRegion = region;
      profile.regionEvents = events;
    }
    if (lastBooking && (!profile.lastBookingAt || lastBooking > profile.lastBookingAt)) profile.lastBookingAt = lastBooking;
    if (lastEvent && (!profile.lastEventAt || lastEvent > profile.lastEventAt)) profile.lastEventAt = lastEvent;
    profiles.set(userId, profile);
  }
  // Summed per region, then across: whole cents, so the engines' float summation orders agree.
  return [...profiles.values()].map(({ regionEvents: _ignored, ...profile }) => ({ ...profile, totalSpend: cents(profile.totalSpend) }));
}

/**
 * A timestamp bound to `?` for comparison with a UTC timestamp column. DuckDB and Trino take a
 * zone-less text cast to TIMESTAMP; ClickHouse takes the Date itself, which its binding writes as
 * a DateTime in UTC (a bare string there would be read in the server's time zone).
 */
export function timestampParameter(dialect: SqlDialect, date: Date): { sql: string; value: SqlValue } {
  switch (dialect) {
    case 'duckdb':
    case 'trino':
      return { sql: 'CAST(? AS TIMESTAMP)', value: isoNoZone(date) };
    case 'clickhouse':
      return { sql: '?', value: date };
    default: {
      const unknown: never = dialect;
      throw new Error(`no timestamp parameter for dialect ${String(unknown)}`);
    }
  }
}

function timeRange(dialect: SqlDialect, from: Date | null | undefined, to: Date | null | undefined): { sql: string; params: SqlValue[] } {
  const conditions: string[] = [];
  const params: SqlValue[] = [];
  if (from) {
    const at = timestampParameter(dialect, from);
    conditions.push(`occurred_at >= ${at.sql}`);
    params.push(at.value);
  }
  if (to) {
    const at = timestampParameter(dialect, to);
    conditions.push(`occurred_at < ${at.sql}`);
    params.push(at.value);
  }
  return { sql: conditions.length === 0 ? '1 = 1' : conditions.join(' AND '), params };
}

/** Activity per region in a time range. */
export async function regionalStats(
  engine: SqlEngine,
  args: { from?: Date | null; to?: Date | null; regions?: readonly string[] | null },
  options?: QueryOptions,
): Promise<RegionalStatsRow[]> {
  const range = timeRange(engine.dialect, args.from, args.to);
  const regions = args.regions && args.regions.length > 0 ? args.regions : null;
  const rows = await engine.query(
    `SELECT region, count(*) AS events, ${BOOKINGS} AS bookings, ${REVENUE} AS revenue, count(DISTINCT user_id) AS unique_users
     FROM analytics.events
     WHERE region IS NOT NULL AND ${range.sql} ${regions ? `AND region IN (${placeholders(regions.length)})` : ''}
     GROUP BY region
     ORDER BY region`,
    [...range.params, ...(regions ?? [])],
    options,
  );
  return rows.map((row) => {
    const bookings = Number(row['bookings']);
    const revenue = cents(Number(row['revenue']));
    return {
      region: String(row['region']),
      events: Number(row['events']),
      bookings,
      revenue,
      avgAmount: bookings === 0 ? 0 : cents(revenue / bookings),
      uniqueUsers: Number(row['unique_users']),
    };
  });
}

/** Booking revenue per bucket; buckets without bookings are present with zeros. */
export async function revenueSeries(
  engine: SqlEngine,
  args: { interval: BucketInterval; from: Date; to: Date; region?: string | null },
  options?: QueryOptions,
): Promise<RevenuePointRow[]> {
  const range = timeRange(engine.dialect, args.from, args.to);
  const bucket = bucketExpression(engine.dialect, args.interval, 'occurred_at');
  const rows = await engine.query(
    `SELECT ${bucket} AS bucket, count(*) AS bookings, sum(coalesce(amount, 0)) AS revenue
     FROM analytics.events
     WHERE event_type = 'booking' AND ${range.sql} ${args.region ? 'AND region = ?' : ''}
     GROUP BY ${bucket}
     ORDER BY bucket`,
    [...range.params, ...(args.region ? [args.region] : [])],
    options,
  );
  const found = new Map(rows.map((row) => [new Date(row['bucket'] as Date).getTime(), row]));
  const points: RevenuePointRow[] = [];
  for (let at = bucketStart(args.from, args.interval); at < args.to; at = nextBucket(at, args.interval)) {
    const row = found.get(at.getTime());
    points.push({ bucket: at, bookings: Number(row?.['bookings'] ?? 0), revenue: cents(Number(row?.['revenue'] ?? 0)) });
  }
  return points;
}

/** UTC start of the bucket containing `date`, matching `bucketExpression`. */
export function bucketStart(date: Date, interval: BucketInterval): Date {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  if (interval === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  if (interval === 'month') d.setUTCDate(1);
  return d;
}

function nextBucket(date: Date, interval: BucketInterval): Date {
  const d = new Date(date);
  if (interval === 'day') d.setUTCDate(d.getUTCDate() + 1);
  else if (interval === 'week') d.setUTCDate(d.getUTCDate() + 7);
  else d.setUTCMonth(d.getUTCMonth() + 1);
  return d;
}

/** Tours ranked by `bookings * 10 + views` since `since`. */
export async function tourPopularity(
  engine: SqlEngine,
  args: { since: Date | null; first: number },
  options?: QueryOptions,
): Promise<TourPopularityRow[]> {
  const range = timeRange(engine.dialect, args.since, null);
  const rows = await engine.query(
    `SELECT tour_id, ${VIEWS} AS views, ${BOOKINGS} AS bookings, ${REVENUE} AS revenue,
       ${BOOKINGS} * 10 + ${VIEWS} AS score
     FROM analytics.events
     WHERE tour_id IS NOT NULL AND ${range.sql}
     GROUP BY tour_id
     ORDER BY score DESC, tour_id
     ${limit(args.first)}`,
    range.params,
    options,
  );
  return rows.map((row, i) => ({
    rank: i + 1,
    tourId: String(row['tour_id']),
    views: Number(row['views']),
    bookings: Number(row['bookings']),
    revenue: cents(Number(row['revenue'])),
    score: Number(row['score']),
  }));
}
