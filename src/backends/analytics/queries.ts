import type { RegionalStatsRow, RevenuePointRow, TourPopularityRow, TourStatsRow, UserProfileRow } from '../../domain.ts';
import { cents, runQuestion } from '../../analytics/answer.ts';
import type { Question } from '../../analytics/compile.ts';
import { analyticsModel } from '../../analytics/default-model.ts';
import type { Dimension, Measure, TimeDimension } from '../../analytics/model.ts';
import { placeholders, type QueryOptions, type SqlEngine } from '../sql/port.ts';

/**
 * Analytics reads over `analytics.events`. `regionalStats`, `revenueSeries` and `tourPopularity`
 * are named questions over the analytics model (src/analytics/model.yaml), compiled like any
 * `Query.analytics` question; `tourStats` and `userProfiles` are the loaders' batch reads. The SQL
 * is the subset DuckDB, Trino and ClickHouse share (CASE inside aggregates instead of
 * FILTER/countIf, count(DISTINCT), `1 = 1` rather than TRUE, unknown to ClickHouse 18.16).
 */

export type BucketInterval = 'day' | 'week' | 'month';

// Kept here for existing importers.
export { bucketExpression, timestampParameter } from '../../analytics/dialect.ts';

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

/** A user's activity figures from the events (the user 360 without its segment, which gold's rule gives). */
export type UserActivityRow = Omit<UserProfileRow, 'segment'>;

/** User 360 figures per user id, one statement for any number of users (folded per region in JS). */
export async function userProfiles(engine: SqlEngine, userIds: readonly string[], options?: QueryOptions): Promise<UserActivityRow[]> {
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
  const profiles = new Map<string, UserActivityRow & { regionEvents: number }>();
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

/** Activity per region in a time range: a named question over the analytics model. */
export async function regionalStats(
  engine: SqlEngine,
  args: { from?: Date | null; to?: Date | null; regions?: readonly string[] | null },
  options?: QueryOptions,
): Promise<RegionalStatsRow[]> {
  const region = dimension('region');
  const regions = args.regions && args.regions.length > 0 ? args.regions : null;
  const rows = await runQuestion(engine, analyticsModel, {
    ...EMPTY,
    measures: ['events', 'bookings', 'revenue', 'avgAmount', 'uniqueUsers'].map(measure),
    dimensions: [region],
    time: args.from || args.to ? { dimension: timeDimension('occurredAt'), granularity: null, from: args.from ?? null, to: args.to ?? null } : null,
    filters: [{ member: region, set: true }, ...(regions ? [{ member: region, in: regions }] : [])],
    limit: UNLIMITED,
  }, options);
  return rows.map((row) => ({
    region: String(row['region']),
    events: Number(row['events']),
    bookings: Number(row['bookings']),
    revenue: Number(row['revenue']),
    avgAmount: Number(row['avgAmount'] ?? 0),
    uniqueUsers: Number(row['uniqueUsers']),
  }));
}

/** Booking revenue per bucket; buckets without bookings are present with zeros. */
export async function revenueSeries(
  engine: SqlEngine,
  args: { interval: BucketInterval; from: Date; to: Date; region?: string | null },
  options?: QueryOptions,
): Promise<RevenuePointRow[]> {
  const rows = await runQuestion(engine, analyticsModel, {
    ...EMPTY,
    measures: [measure('bookings'), measure('revenue')],
    time: { dimension: timeDimension('occurredAt'), granularity: args.interval, from: args.from, to: args.to },
    filters: [{ member: dimension('eventType'), equals: 'booking' }, ...(args.region ? [{ member: dimension('region'), equals: args.region }] : [])],
    limit: UNLIMITED,
  }, options);
  const found = new Map(rows.map((row) => [new Date(row['time'] as Date).getTime(), row]));
  const points: RevenuePointRow[] = [];
  for (let at = bucketStart(args.from, args.interval); at < args.to; at = nextBucket(at, args.interval)) {
    const row = found.get(at.getTime());
    points.push({ bucket: at, bookings: Number(row?.['bookings'] ?? 0), revenue: Number(row?.['revenue'] ?? 0) });
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

/** Tours ranked by `bookings * 10 + views` (the model's popularity) since `since`. */
export async function tourPopularity(
  engine: SqlEngine,
  args: { since: Date | null; first: number },
  options?: QueryOptions,
): Promise<TourPopularityRow[]> {
  const tour = dimension('tour');
  const popularity = measure('popularity');
  const rows = await runQuestion(engine, analyticsModel, {
    ...EMPTY,
    measures: [measure('views'), measure('bookings'), measure('revenue'), popularity],
    dimensions: [tour],
    time: args.since ? { dimension: timeDimension('occurredAt'), granularity: null, from: args.since, to: null } : null,
    filters: [{ member: tour, set: true }],
    orderBy: [{ member: popularity, direction: 'DESC' }],
    limit: args.first,
  }, options);
  return rows.map((row, i) => ({
    rank: i + 1,
    tourId: String(row['tour']),
    views: Number(row['views']),
    bookings: Number(row['bookings']),
    revenue: Number(row['revenue']),
    score: Number(row['popularity']),
  }));
}

/** Rows enough for any named question without a row limit of its own (regions, buckets). */
const UNLIMITED = 1_000_000;

const EMPTY: Question = { measures: [], dimensions: [], time: null, filters: [], orderBy: [], limit: UNLIMITED, userId: null };

function named<T extends { name: string }>(list: readonly T[], kind: string, name: string): T {
  const found = list.find((m) => m.name === name);
  if (!found) throw new Error(`the analytics model has no ${kind} ${name}, which the named questions need`);
  return found;
}
const measure = (name: string): Measure => named(analyticsModel.measures, 'measure', name);
const dimension = (name: string): Dimension => named(analyticsModel.dimensions, 'dimension', name);
const timeDimension = (name: string): TimeDimension => named(analyticsModel.timeDimensions, 'time dimension', name);
