import type { estypes } from '@elastic/elasticsearch';
import type { DestinationRow, EventRow, EventTypeName, TourRow } from '../../domain.ts';
import { jsonOrText } from '../lakehouse/rows.ts';

/**
 * The Elasticsearch indices of the search role: their settings, mappings and the document shapes
 * those mappings describe, with the conversions from and to the domain rows. One place, so the
 * adapter's queries, the indexing command and the test fake agree on field names.
 */

/** Index names under a prefix (`nexus-tours`, `nexus-events`, `nexus-destinations`). */
export function indexNames(prefix: string): { tours: string; events: string; destinations: string } {
  return { tours: `${prefix}-tours`, events: `${prefix}-events`, destinations: `${prefix}-destinations` };
}

/**
 * Standard tokenisation, lower case, and accents folded, so "Hoi An" finds "Hội An" and "Male"
 * finds "Malé" (travellers rarely type diacritics).
 */
const ANALYSIS: estypes.IndicesIndexSettingsAnalysis = {
  analyzer: { folding: { type: 'custom', tokenizer: 'standard', filter: ['lowercase', 'asciifolding'] } },
};

const keyword = { type: 'keyword' } as const;
const text = { type: 'text', analyzer: 'folding' } as const;
/** A text field that can also be sorted or aggregated exactly (values longer than 256 are not). */
const textWithKeyword = { ...text, fields: { keyword: { type: 'keyword', ignore_above: 256 } } } as const;
/**
 * An exact field (filters, facets) that is also searchable by words: a keyword field in a
 * multi_match receives the whole query as one term, so "halong cruise" could never match the
 * category "cruise"; the `.text` sub-field gives it the text analysis.
 */
const keywordWithText = { type: 'keyword', fields: { text } } as const;

/** Settings and mappings of an index, as `indices.create` takes them. */
export interface IndexDefinition {
  settings: estypes.IndicesIndexSettings;
  mappings: estypes.MappingTypeMapping;
}

/** Tours: full-text fields for relevance, keyword fields for filters and facets. */
export const TOURS_INDEX: IndexDefinition = {
  settings: { analysis: ANALYSIS },
  mappings: {
    // An unknown field is a bug in the document builder, not data to guess a type for.
    dynamic: 'strict',
    properties: {
      tour_id: keyword,
      name: textWithKeyword,
      description: text,
      destination: textWithKeyword,
      destination_id: keyword,
      region: keyword,
      category: keywordWithText,
      tags: keywordWithText,
      price: { type: 'float' },
      rating: { type: 'float' },
      currency: keyword,
      duration_days: { type: 'short' },
      updated_at: { type: 'date' },
      // When this copy was written: a re-index removes what an earlier run wrote and this one did not.
      indexed_at: { type: 'date' },
    },
  },
};

/** Destinations: names searchable, country and location exact. */
export const DESTINATIONS_INDEX: IndexDefinition = {
  settings: { analysis: ANALYSIS },
  mappings: {
    dynamic: 'strict',
    properties: {
      destination_id: keyword,
      name: textWithKeyword,
      country_code: keyword,
      country: keyword,
      city: textWithKeyword,
      location: { type: 'geo_point' },
      rating: { type: 'float' },
    },
  },
};

/**
 * Events: exact fields for the structured filters, `occurred_at` + `event_id` as the sort key of
 * keyset paging, and one `search_text` field gathering every field the `text` filter looks at.
 */
export const EVENTS_INDEX: IndexDefinition = {
  settings: { analysis: ANALYSIS },
  mappings: {
    dynamic: 'strict',
    properties: {
      event_id: keyword,
      user_id: keyword,
      event_type: { ...keyword, copy_to: 'search_text' },
      tour_id: { ...keyword, copy_to: 'search_text' },
      region: { ...keyword, copy_to: 'search_text' },
      // Money: exact cents, and cheaper than double on disk.
      amount: { type: 'scaled_float', scaling_factor: 100 },
      currency: keyword,
      occurred_at: { type: 'date' },
      source: { ...keyword, copy_to: 'search_text' },
      // The payload as JSON text: searchable by its words, returned as stored.
      payload: { ...text, copy_to: 'search_text' },
      topic: keyword,
      log_offset: keyword,
      search_text: text,
    },
  },
};

/** A tour as indexed. */
export interface TourDocument {
  tour_id: string;
  name: string;
  description: string;
  destination: string;
  destination_id: string | null;
  region: string;
  category: string;
  tags: string[];
  price: number;
  rating: number | null;
  currency: string;
  duration_days: number;
  updated_at: string;
  indexed_at: string;
}

export function tourDocument(tour: TourRow, destinationNames: ReadonlyMap<string, string>, indexedAt: Date): TourDocument {
  return {
    tour_id: tour.id,
    name: tour.name,
    description: tour.description ?? '',
    destination: tour.destinationId ? (destinationNames.get(tour.destinationId) ?? '') : '',
    destination_id: tour.destinationId,
    region: tour.region,
    category: tour.category,
    tags: tour.tags,
    price: tour.price,
    rating: tour.rating,
    currency: tour.currency,
    duration_days: tour.durationDays,
    updated_at: tour.updatedAt.toISOString(),
    indexed_at: indexedAt.toISOString(),
  };
}

/** A destination as indexed. */
export interface DestinationDocument {
  destination_id: string;
  name: string;
  country_code: string;
  country: string;
  city: string;
  location: { lat: number; lon: number } | null;
  rating: number | null;
}

export function destinationDocument(destination: DestinationRow): DestinationDocument {
  const { latitude, longitude } = destination;
  return {
    destination_id: destination.id,
    name: destination.name,
    country_code: destination.countryCode,
    country: destination.country,
    city: destination.city,
    location: latitude === null || longitude === null ? null : { lat: latitude, lon: longitude },
    rating: destination.rating,
  };
}

/** An event as indexed. */
export interface EventDocument {
  event_id: string;
  user_id: string;
  event_type: string;
  tour_id: string | null;
  region: string | null;
  amount: number | null;
  currency: string | null;
  occurred_at: string;
  source: string;
  payload: string | null;
  topic: string | null;
  log_offset: string | null;
}

export function eventDocument(event: EventRow): EventDocument {
  return {
    event_id: event.id,
    user_id: event.userId,
    event_type: event.eventType,
    tour_id: event.tourId,
    region: event.region,
    amount: event.amount,
    currency: event.currency,
    occurred_at: event.occurredAt.toISOString(),
    source: event.source,
    // Always JSON (a string payload too), so reading it back gives the same value.
    payload: event.payload === null || event.payload === undefined ? null : JSON.stringify(event.payload),
    topic: event.topic,
    log_offset: event.offset,
  };
}

/** The domain row of an indexed event; the payload is parsed back the way the lakehouse mapper does. */
export function eventFromDocument(doc: EventDocument): EventRow {
  const payload = jsonOrText(doc.payload);
  return {
    id: doc.event_id,
    userId: doc.user_id,
    eventType: doc.event_type as EventTypeName,
    tourId: doc.tour_id ?? null,
    region: doc.region ?? null,
    amount: doc.amount ?? null,
    currency: doc.currency ?? null,
    occurredAt: new Date(doc.occurred_at),
    source: doc.source,
    payload,
    topic: doc.topic ?? null,
    offset: doc.log_offset ?? null,
  };
}
