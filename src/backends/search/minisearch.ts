import MiniSearch, { type SearchResult } from 'minisearch';
import type { TourRow } from '../../domain.ts';
import { probeHealth } from '../health.ts';
import { eventsPage, type TourFilterInput } from '../lakehouse/queries.ts';
import type { SqlEngine } from '../sql/port.ts';
import { PRICE_BANDS, priceBand, type FacetCount, type SearchPort, type TourSearchResult } from './port.ts';

/** Options of the embedded search adapter. */
export interface MiniSearchOptions {
  /**
   * The lakehouse, which answers event search: events are append-heavy and filtered by
   * structured fields, which the embedded SQL engine scans faster than an in-memory text index
   * could be kept current.
   */
  lakehouse: SqlEngine;
}

interface TourDocument {
  id: string;
  name: string;
  description: string;
  destination: string;
  tags: string;
  category: string;
  region: string;
  price: number;
  rating: number;
  tagList: string[];
  destinationId: string | null;
}

const SEARCH_FIELDS = ['name', 'description', 'destination', 'tags', 'category'] as const;

/**
 * The embedded search role: MiniSearch, a small dependency-free in-memory index with BM25
 * ranking, prefix and fuzzy matching. Chosen over Orama for its size and predictable memory
 * (a few hundred to a few thousand tours); facets are counted over the matching set here.
 */
export function createMiniSearch(options: MiniSearchOptions): SearchPort {
  let index = newIndex();
  let documents = new Map<string, TourDocument>();

  return {
    adapter: 'minisearch',
    async indexTours(tours, destinationNames) {
      const next = newIndex();
      const docs = new Map<string, TourDocument>();
      for (const tour of tours) {
        const doc = toDocument(tour, destinationNames);
        docs.set(doc.id, doc);
      }
      next.addAll([...docs.values()]);
      index = next;
      documents = docs;
    },

    async searchTours({ query, filter, first, offset }): Promise<TourSearchResult> {
      const results = index.search(query, {
        prefix: (term) => term.length >= 3,
        // Elasticsearch's AUTO fuzziness: 1 edit for 3–5 letters, 2 beyond (a transposition costs 2 here).
        fuzzy: (term) => (term.length > 5 ? 2 : term.length >= 3 ? 1 : false),
        boost: { name: 3, destination: 2, tags: 1.5, category: 1.5 },
        // Any term may match (Elasticsearch's multi_match default); tours matching more terms rank higher.
        combineWith: 'OR',
        filter: (result) => matchesFilter(documents.get(String(result.id)), filter),
      });
      const page = results.slice(offset, offset + first);
      return {
        hits: page.map((result) => ({
          tourId: String(result.id),
          score: Math.round(result.score * 1000) / 1000,
          highlights: highlightsOf(result, documents.get(String(result.id))),
        })),
        total: results.length,
        facets: facetsOf(results.map((r) => documents.get(String(r.id))).filter((d): d is TourDocument => d !== undefined)),
        hasNextPage: results.length > offset + first,
      };
    },

    async searchEvents({ filter, first, after }) {
      const page = await eventsPage(options.lakehouse, { filter, first, after: after ?? null, withTotal: true });
      return { rows: page.rows, total: page.totalCount, hasNextPage: page.hasNextPage };
    },

    health: () =>
      probeHealth('search', 'minisearch', async () => {
        if (documents.size === 0) throw new Error('the tour index is empty');
      }),
    close: async () => {
      index = newIndex();
      documents = new Map();
    },
  };
}

function newIndex(): MiniSearch<TourDocument> {
  return new MiniSearch<TourDocument>({
    fields: [...SEARCH_FIELDS],
    idField: 'id',
  });
}

function toDocument(tour: TourRow, destinationNames: ReadonlyMap<string, string>): TourDocument {
  return {
    id: tour.id,
    name: tour.name,
    description: tour.description ?? '',
    destination: tour.destinationId ? (destinationNames.get(tour.destinationId) ?? '') : '',
    tags: tour.tags.join(' '),
    category: tour.category,
    region: tour.region,
    price: tour.price,
    rating: tour.rating ?? 0,
    tagList: tour.tags,
    destinationId: tour.destinationId,
  };
}

function matchesFilter(doc: TourDocument | undefined, filter: TourFilterInput | null | undefined): boolean {
  if (!doc) return false;
  if (!filter) return true;
  if (filter.regions?.length && !filter.regions.includes(doc.region)) return false;
  if (filter.categories?.length && !filter.categories.includes(doc.category)) return false;
  if (filter.minPrice != null && doc.price < filter.minPrice) return false;
  if (filter.maxPrice != null && doc.price > filter.maxPrice) return false;
  if (filter.minRating != null && doc.rating < filter.minRating) return false;
  if (filter.tags?.length && !filter.tags.every((tag) => doc.tagList.includes(tag))) return false;
  if (filter.destinationId != null && doc.destinationId !== filter.destinationId) return false;
  return true;
}

function facetsOf(docs: readonly TourDocument[]): TourSearchResult['facets'] {
  const count = (values: string[]): FacetCount[] => {
    const counts = new Map<string, number>();
    for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
    return [...counts].map(([value, n]) => ({ value, count: n })).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  };
  const bands = new Map(PRICE_BANDS.map((band) => [band.label, 0]));
  for (const doc of docs) bands.set(priceBand(doc.price), (bands.get(priceBand(doc.price)) ?? 0) + 1);
  return {
    regions: count(docs.map((d) => d.region)),
    categories: count(docs.map((d) => d.category)),
    priceRanges: [...bands].map(([value, n]) => ({ value, count: n })),
  };
}

const SNIPPET_LENGTH = 160;

/** Field snippets with every matched term wrapped in `<em>`, for the fields the terms matched. */
function highlightsOf(result: SearchResult, doc: TourDocument | undefined): { field: string; snippets: string[] }[] {
  if (!doc) return [];
  const termsByField = new Map<string, string[]>();
  for (const [term, fields] of Object.entries(result.match)) {
    for (const field of fields) termsByField.set(field, [...(termsByField.get(field) ?? []), term]);
  }
  const highlights: { field: string; snippets: string[] }[] = [];
  for (const field of SEARCH_FIELDS) {
    const terms = termsByField.get(field);
    if (!terms) continue;
    const text = String(doc[field]);
    const pattern = new RegExp(`\\b(${terms.map(escapeRegExp).join('|')})\\w*`, 'gi');
    const first = text.search(pattern);
    if (first < 0) continue;
    const start = Math.max(0, Math.min(first - 40, text.length - SNIPPET_LENGTH));
    let snippet = text.slice(start, start + SNIPPET_LENGTH);
    snippet = escapeHtml(snippet).replace(new RegExp(pattern.source, 'gi'), (match) => `<em>${match}</em>`);
    highlights.push({ field, snippets: [`${start > 0 ? '…' : ''}${snippet}${start + SNIPPET_LENGTH < text.length ? '…' : ''}`] });
  }
  return highlights;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
