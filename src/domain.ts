/**
 * Row shapes the ports return and resolvers shape into GraphQL types. Field names are the
 * domain's, independent of any engine's column names.
 */

import type { UserSegmentName } from './backends/analytics/user-segment.ts';

export interface DestinationRow {
  id: string;
  name: string;
  countryCode: string;
  country: string;
  city: string;
  latitude: number | null;
  longitude: number | null;
  rating: number | null;
}

export interface TourRow {
  id: string;
  name: string;
  region: string;
  destinationId: string | null;
  price: number;
  currency: string;
  rating: number | null;
  durationDays: number;
  category: string;
  tags: string[];
  description: string | null;
  updatedAt: Date;
}

/** Event types as stored (lower case); the GraphQL enum is their upper-case form. */
export const EVENT_TYPES = ['booking', 'view', 'search', 'click', 'cancel', 'review'] as const;
export type EventTypeName = (typeof EVENT_TYPES)[number];

export interface EventRow {
  id: string;
  userId: string;
  eventType: EventTypeName;
  tourId: string | null;
  region: string | null;
  amount: number | null;
  currency: string | null;
  occurredAt: Date;
  source: string;
  payload: unknown;
  topic: string | null;
  /** Cursor into the event log (`Event.offset`); null for events that never went through the bus. */
  offset: string | null;
}

export interface TourStatsRow {
  tourId: string;
  bookings: number;
  revenue: number;
  views: number;
}

export interface UserProfileRow {
  userId: string;
  totalBookings: number;
  totalSpend: number;
  favouriteRegion: string | null;
  lastBookingAt: Date | null;
  lastEventAt: Date | null;
  eventCount: number;
  /** The segment rule's verdict (src/backends/analytics/user-segment.ts), computed by the engine. */
  segment: UserSegmentName;
}

export interface RegionalStatsRow {
  region: string;
  events: number;
  bookings: number;
  revenue: number;
  avgAmount: number;
  uniqueUsers: number;
}

export interface RevenuePointRow {
  bucket: Date;
  bookings: number;
  revenue: number;
}

export interface TourPopularityRow {
  rank: number;
  tourId: string;
  views: number;
  bookings: number;
  revenue: number;
  score: number;
}

export interface RecommendationRow {
  tourId: string;
  score: number;
  reason: string;
}

export interface TourSearchHitRow {
  tourId: string;
  score: number;
  highlights: { field: string; snippets: string[] }[];
}

/** `Query.user` resolves to a reference; its fields load lazily through loaders. */
export interface UserRef {
  id: string;
}

/** `Query.platform` is a namespace; its fields resolve independently. */
export type PlatformRef = Record<string, never>;

/** A lakehouse table as `platform.tables` lists it (its snapshots resolve lazily). */
export interface TableInfoRow {
  name: string;
  layer: string;
  rowCount: number;
}
