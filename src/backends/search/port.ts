import type { EventRow, TourRow, TourSearchHitRow } from '../../domain.ts';
import type { EventFilterInput, EventPosition, TourFilterInput } from '../lakehouse/queries.ts';
import type { Lifecycle } from '../health.ts';

export interface FacetCount {
  value: string;
  count: number;
}

export interface TourSearchResult {
  hits: TourSearchHitRow[];
  total: number;
  facets: { regions: FacetCount[]; categories: FacetCount[]; priceRanges: FacetCount[] };
  hasNextPage: boolean;
}

export interface EventSearchResult {
  rows: EventRow[];
  total: number;
  hasNextPage: boolean;
}

/** The search role: full-text tour search with facets, and filtered event search. */
export interface SearchPort extends Lifecycle {
  readonly adapter: string;
  /** Relevance-ranked tours; `offset` pages through hits (cursor-encoded by the caller). */
  searchTours(request: { query: string; filter?: TourFilterInput | null; first: number; offset: number }): Promise<TourSearchResult>;
  /** Events newest first matching text and filters. */
  searchEvents(request: { filter: EventFilterInput; first: number; after?: EventPosition | null }): Promise<EventSearchResult>;
  /** (Re)indexes tours; called at start-up and when tours change. */
  indexTours(tours: readonly TourRow[], destinationNames: ReadonlyMap<string, string>): Promise<void>;
  /**
   * Adds events to an event index of the adapter's own (Elasticsearch). Absent where event search
   * reads the lakehouse directly (the embedded adapter), so there is nothing to keep current.
   */
  indexEvents?(events: readonly EventRow[]): Promise<void>;
}

/** Price bands of the `priceRanges` facet. */
export const PRICE_BANDS: readonly { label: string; min: number; max: number }[] = [
  { label: '0-100', min: 0, max: 100 },
  { label: '100-250', min: 100, max: 250 },
  { label: '250-500', min: 250, max: 500 },
  { label: '500-1000', min: 500, max: 1000 },
  { label: '1000+', min: 1000, max: Number.POSITIVE_INFINITY },
];

export function priceBand(price: number): string {
  return (PRICE_BANDS.find((band) => price >= band.min && price < band.max) ?? PRICE_BANDS[PRICE_BANDS.length - 1]!).label;
}
