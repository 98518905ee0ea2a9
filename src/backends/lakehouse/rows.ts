import type { DestinationRow, EventRow, EventTypeName, TourRow } from '../../domain.ts';
import type { SqlRow } from '../sql/port.ts';

/** Column lists and row mappers of the lakehouse tables (engines return snake_case, lower-case columns). */
export const TOUR_COLUMNS =
  'tour_id, name, destination_id, region, price, currency, rating, duration_days, category, tags, description, updated_at';
export const DESTINATION_COLUMNS = 'destination_id, name, country_code, country, city, latitude, longitude, rating';
export const EVENT_COLUMNS =
  'event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source, payload, topic, log_offset, log_cursor';

const text = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
const optionalText = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const optionalNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const timestamp = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));

export function tourFromRow(row: SqlRow): TourRow {
  return {
    id: text(row['tour_id']),
    name: text(row['name']),
    destinationId: optionalText(row['destination_id']),
    region: text(row['region']),
    price: Number(row['price']),
    currency: text(row['currency']),
    rating: optionalNumber(row['rating']),
    durationDays: Number(row['duration_days']),
    category: text(row['category']),
    tags: Array.isArray(row['tags']) ? row['tags'].map(String) : [],
    description: optionalText(row['description']),
    updatedAt: timestamp(row['updated_at']),
  };
}

export function destinationFromRow(row: SqlRow): DestinationRow {
  return {
    id: text(row['destination_id']),
    name: text(row['name']),
    countryCode: text(row['country_code']),
    country: text(row['country']),
    city: text(row['city']),
    latitude: optionalNumber(row['latitude']),
    longitude: optionalNumber(row['longitude']),
    rating: optionalNumber(row['rating']),
  };
}

/** Stored JSON text as a value: null when empty, the text itself when it is not JSON. */
export function jsonOrText(text: unknown): unknown {
  if (typeof text !== 'string' || text.length === 0) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function eventFromRow(row: SqlRow): EventRow {
  const parsed = jsonOrText(row['payload']);
  return {
    id: text(row['event_id']),
    userId: text(row['user_id']),
    eventType: text(row['event_type']) as EventTypeName,
    tourId: optionalText(row['tour_id']),
    region: optionalText(row['region']),
    amount: optionalNumber(row['amount']),
    currency: optionalText(row['currency']),
    occurredAt: timestamp(row['occurred_at']),
    source: text(row['source']),
    payload: parsed,
    topic: optionalText(row['topic']),
    // The bus position it was read at: a resume cursor on any bus (older rows carry only the log offset).
    offset: optionalText(row['log_cursor']) ?? optionalText(row['log_offset']),
  };
}
