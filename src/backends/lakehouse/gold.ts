import type { UserProfileRow } from '../../domain.ts';
import { placeholders, type QueryOptions, type SqlEngine } from '../sql/port.ts';
import { USER_SEGMENT_SQL, userSegment } from '../analytics/user-segment.ts';

/** User 360 figures and segment per user id from `gold.user_360`, one statement for any number of users. */
export async function userProfilesFromGold(engine: SqlEngine, userIds: readonly string[], options?: QueryOptions): Promise<UserProfileRow[]> {
  const rows = await engine.query(
    `SELECT user_id, total_events, total_bookings, total_spend, favourite_region, last_booking_at, last_event_at,
       ${USER_SEGMENT_SQL} AS segment
     FROM gold.user_360 WHERE user_id IN (${placeholders(userIds.length)})`,
    userIds,
    options,
  );
  return rows.map((row) => ({
    userId: String(row['user_id']),
    totalBookings: Number(row['total_bookings']),
    totalSpend: Number(row['total_spend']),
    favouriteRegion: row['favourite_region'] == null ? null : String(row['favourite_region']),
    lastBookingAt: row['last_booking_at'] instanceof Date ? row['last_booking_at'] : null,
    lastEventAt: row['last_event_at'] instanceof Date ? row['last_event_at'] : null,
    eventCount: Number(row['total_events']),
    segment: userSegment(row['segment']),
  }));
}
