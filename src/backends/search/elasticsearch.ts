import { Client, errors, type estypes, type TransportRequestOptions } from '@elastic/elasticsearch';
import { BackendError, backendTimeout } from '../../errors.ts';
import { probeHealth } from '../health.ts';
import type { EventFilterInput, EventPosition, TourFilterInput } from '../lakehouse/queries.ts';
import { ensureIndices, errorType, indexEvents, replaceTours } from './elasticsearch-index.ts';
import { eventFromDocument, indexNames, type EventDocument } from './elasticsearch-mappings.ts';
import { PRICE_BANDS, type EventSearchResult, type FacetCount, type SearchPort, type TourSearchResult } from './port.ts';

/** Options of the Elasticsearch search adapter. */
export interface ElasticsearchSearchOptions {
  /**
   * A ready client (tests wire one to `@elastic/elasticsearch-mock`). Its owner closes it: `close()`
   * closes only a client the adapter built from `node`.
   */
  client?: Client;
  /** `http(s)://[user:password@]host:port` of a node (`ELASTICSEARCH_URL`). Required without `client`. */
  node?: string;
  /** First part of every index name (`<prefix>-tours`, `<prefix>-events`). Default `'nexus'`. */
  indexPrefix?: string;
  /**
   * Budget per search call in ms, retries on another node included; past it the call fails with a
   * timeout `BackendError` (`BACKEND_TIMEOUT`). Indexing gets this budget per bulk request.
   */
  timeoutMs: number;
}

const ADAPTER = 'elasticsearch';

/**
 * Searched tour fields and their boosts, the embedded adapter's (name 3, destination 2, tags and
 * category 1.5). Tags and category are keyword fields searched through their `.text` sub-fields
 * (see the mappings).
 */
const TOUR_FIELDS = ['name^3', 'destination^2', 'tags.text^1.5', 'category.text^1.5', 'description'] as const;
/** Highlighted index field → the port's field name, in the order the embedded adapter reports them. */
const HIGHLIGHT_FIELDS: readonly [string, string][] = [
  ['name', 'name'],
  ['description', 'description'],
  ['destination', 'destination'],
  ['tags.text', 'tags'],
  ['category.text', 'category'],
];
const SNIPPET_LENGTH = 160;
/** More buckets than regions or categories exist, so facet counts always sum to the total. */
const FACET_SIZE = 100;
/**
 * `from + size` may not pass `index.max_result_window` (default 10,000). Relevance pages that deep
 * are not served: the page comes back empty, with the total and facets.
 */
const MAX_RESULT_WINDOW = 10_000;
/** Prefix matching starts at three letters, as in the embedded adapter (shorter prefixes match too much). */
const MIN_PREFIX_LENGTH = 3;

/**
 * The production search role (`ELASTICSEARCH_URL`): tours ranked by BM25 over a boosted
 * `multi_match` with typo tolerance, facets from aggregations in the same request, and events
 * filtered and paged newest first by keyset.
 *
 * Relevance pages use `from`/`size`: the gateway's search cursor is the hit's position (hits are
 * ranked, not keyed), and `search_after` would need the previous hit's sort values (score and
 * tour id), which that cursor does not carry. Ties in score are broken by tour id, so pages never
 * overlap. Event pages use `search_after` on `[occurred_at desc, event_id desc]`: the event cursor
 * is exactly that position, and keyset paging stays cheap however deep it goes. No point in time
 * is held between pages: the unique event id makes the order total, and events arriving meanwhile
 * sort before the cursor, so later pages neither repeat nor skip.
 *
 * The events index is written by the platform's pipeline in production (and by `indexEvents` in
 * a bootstrap); the tours index by `indexTours`, which the gateway calls at start-up.
 */
export function createElasticsearchSearch(options: ElasticsearchSearchOptions): SearchPort {
  const { timeoutMs } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive number of ms, got ${timeoutMs}`);
  if (!options.client && !options.node) throw new TypeError('createElasticsearchSearch needs a `client` or a `node` URL');
  const ownsClient = !options.client;
  const client = options.client ?? new Client({ node: options.node!, requestTimeout: timeoutMs });
  const prefix = options.indexPrefix ?? 'nexus';
  const indices = indexNames(prefix);

  // Index creation runs once per adapter; a failure is forgotten so the next call retries it.
  let toursIndexReady: Promise<unknown> | undefined;
  let eventsIndexReady: Promise<unknown> | undefined;
  // Stale tours are those indexed before a run's start: two runs in one millisecond must still differ.
  let lastIndexedAt = 0;
  let closed: Promise<void> | undefined;

  /**
   * Runs one Elasticsearch call within the budget and maps its failure to a `BackendError`. The
   * deadline aborts the request, and the call answers at the deadline even while the transport is
   * still waiting out a retry backoff (it checks the signal only between attempts).
   */
  async function call<T>(operation: string, work: (transport: TransportRequestOptions) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(timeoutMs);
    let onExpiry: (() => void) | undefined;
    const expired = new Promise<never>((_, reject) => {
      onExpiry = () => reject(deadline.reason);
      deadline.addEventListener('abort', onExpiry, { once: true });
    });
    const request = work({ requestTimeout: timeoutMs, signal: deadline });
    // Whichever loses the race settles unobserved; its outcome is already reported by the winner.
    request.catch(() => undefined);
    expired.catch(() => undefined);
    try {
      return await Promise.race([request, expired]);
    } catch (error) {
      throw toBackendError(error, operation, timeoutMs, deadline);
    } finally {
      if (onExpiry) deadline.removeEventListener('abort', onExpiry);
    }
  }

  return {
    adapter: ADAPTER,

    async indexEvents(events) {
      if (events.length === 0) return;
      eventsIndexReady ??= call('create the events index', (transport) => ensureIndices(client, prefix, { only: ['events'], transport })).catch(
        (error: unknown) => {
          eventsIndexReady = undefined;
          throw error;
        },
      );
      await eventsIndexReady;
      await call('index events', (transport) => indexEvents(client, events, { indexPrefix: prefix, transport }));
    },

    async indexTours(tours, destinationNames) {
      toursIndexReady ??= call('create the tours index', (transport) => ensureIndices(client, prefix, { only: ['tours'], transport })).catch(
        (error: unknown) => {
          toursIndexReady = undefined;
          throw error;
        },
      );
      await toursIndexReady;
      // Each bulk request gets the budget; the whole re-index may take longer.
      try {
        lastIndexedAt = Math.max(Date.now(), lastIndexedAt + 1);
        await replaceTours(client, tours, destinationNames, {
          indexPrefix: prefix,
          startedAt: new Date(lastIndexedAt),
          transport: { requestTimeout: timeoutMs },
        });
      } catch (error) {
        throw toBackendError(error, 'index tours', timeoutMs);
      }
    },

    async searchTours({ query, filter, first, offset }): Promise<TourSearchResult> {
      const size = Math.max(0, Math.min(first, MAX_RESULT_WINDOW - offset));
      const response = await call('search tours', (transport) =>
        client.search<never, TourAggregations>(tourSearchRequest(indices.tours, query, filter, size === 0 ? 0 : offset, size), transport),
      );
      const total = totalOf(response.hits.total);
      return {
        hits: response.hits.hits.map((hit) => ({
          tourId: hit._id ?? '',
          score: Math.round((hit._score ?? 0) * 1000) / 1000,
          highlights: highlightsOf(hit.highlight),
        })),
        total,
        facets: facetsOf(response.aggregations),
        hasNextPage: total > offset + size && offset + size < MAX_RESULT_WINDOW,
      };
    },

    async searchEvents({ filter, first, after }): Promise<EventSearchResult> {
      const response = await call('search events', (transport) =>
        client.search<EventDocument>(eventSearchRequest(indices.events, filter, first, after ?? null), transport),
      );
      const rows = response.hits.hits.flatMap((hit) => (hit._source ? [eventFromDocument(hit._source)] : []));
      return { rows: rows.slice(0, first), total: totalOf(response.hits.total), hasNextPage: rows.length > first };
    },

    health: () =>
      probeHealth('search', ADAPTER, async () => {
        // One attempt with a short budget: a health probe must answer quickly, not retry for long.
        const budget = Math.min(timeoutMs, 2_000);
        const health = await client.cluster.health({}, { requestTimeout: budget, maxRetries: 0, signal: AbortSignal.timeout(budget) });
        // Yellow: every primary shard is assigned, so every document is searchable (replicas are missing).
        return health.status === 'red' ? 'DEGRADED' : 'OK';
      }),

    close() {
      closed ??= ownsClient ? client.close() : Promise.resolve();
      return closed;
    },
  };
}

type TourAggregations = {
  regions: estypes.AggregationsStringTermsAggregate;
  categories: estypes.AggregationsStringTermsAggregate;
  price_ranges: estypes.AggregationsRangeAggregate;
};

/** The tour search request: relevance, filters, highlights and facets in one round trip. */
function tourSearchRequest(index: string, query: string, filter: TourFilterInput | null | undefined, from: number, size: number): estypes.SearchRequest {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const last = words[words.length - 1] ?? '';
  const should: estypes.QueryDslQueryContainer[] = [
    // Any word may match (OR); a word of 3–5 letters may have 1 typo, longer words 2 (AUTO).
    { multi_match: { query, type: 'best_fields', fields: [...TOUR_FIELDS], fuzziness: 'AUTO', operator: 'or' } },
  ];
  // Typeahead: the last word also matches as a prefix ("kyo" finds Kyoto); bool_prefix keeps the
  // other words fuzzy term queries, so a half-typed query ranks like the full one.
  if (last.length >= MIN_PREFIX_LENGTH) {
    should.push({ multi_match: { query, type: 'bool_prefix', fields: [...TOUR_FIELDS], fuzziness: 'AUTO', operator: 'or' } });
  }
  return {
    index,
    from,
    size,
    track_total_hits: true,
    // Hits are resolved to tours by id through the lakehouse; the source is not needed.
    _source: false,
    query: { bool: { should, minimum_should_match: 1, filter: tourFilters(filter) } },
    // Tour id breaks score ties: Lucene's own tie-break (doc id) differs between replicas, which
    // would let consecutive from/size pages overlap or skip hits.
    sort: [{ _score: { order: 'desc' } }, { tour_id: { order: 'asc' } }],
    highlight: {
      pre_tags: ['<em>'],
      post_tags: ['</em>'],
      // Snippets go to clients as HTML: escape the text around the tags.
      encoder: 'html',
      fragment_size: SNIPPET_LENGTH,
      number_of_fragments: 1,
      fields: Object.fromEntries(HIGHLIGHT_FIELDS.map(([field]) => [field, {}])),
    },
    aggs: {
      regions: { terms: { field: 'region', size: FACET_SIZE, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
      categories: { terms: { field: 'category', size: FACET_SIZE, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
      // `from` is included and `to` excluded, as in `priceBand`.
      price_ranges: {
        range: {
          field: 'price',
          ranges: PRICE_BANDS.map((band) => ({ key: band.label, from: band.min, ...(Number.isFinite(band.max) ? { to: band.max } : {}) })),
        },
      },
    },
  };
}

/** Tour filters as non-scoring clauses (cached by Elasticsearch, no effect on relevance). */
function tourFilters(filter: TourFilterInput | null | undefined): estypes.QueryDslQueryContainer[] {
  if (!filter) return [];
  const clauses: estypes.QueryDslQueryContainer[] = [];
  if (filter.regions?.length) clauses.push({ terms: { region: [...filter.regions] } });
  if (filter.categories?.length) clauses.push({ terms: { category: [...filter.categories] } });
  // Every tag is required, hence one term clause each (a `terms` clause would accept any of them).
  for (const tag of filter.tags ?? []) clauses.push({ term: { tags: tag } });
  if (filter.destinationId != null) clauses.push({ term: { destination_id: filter.destinationId } });
  const price = range(filter.minPrice, filter.maxPrice);
  if (price) clauses.push({ range: { price } });
  if (filter.minRating != null) clauses.push({ range: { rating: { gte: filter.minRating } } });
  return clauses;
}

function range(min: number | null | undefined, max: number | null | undefined): estypes.QueryDslNumberRangeQuery | undefined {
  if (min == null && max == null) return undefined;
  return { ...(min == null ? {} : { gte: min }), ...(max == null ? {} : { lte: max }) };
}

/** The event search request: filters, newest first, one look-ahead hit for `hasNextPage`. */
function eventSearchRequest(index: string, filter: EventFilterInput, first: number, after: EventPosition | null): estypes.SearchRequest {
  const clauses: estypes.QueryDslQueryContainer[] = [];
  if (filter.userId != null) clauses.push({ term: { user_id: filter.userId } });
  if (filter.eventTypes?.length) clauses.push({ terms: { event_type: [...filter.eventTypes] } });
  if (filter.regions?.length) clauses.push({ terms: { region: [...filter.regions] } });
  if (filter.tourIds?.length) clauses.push({ terms: { tour_id: [...filter.tourIds] } });
  if (filter.from != null || filter.to != null) {
    // `to` is exclusive, as in the lakehouse query.
    clauses.push({
      range: { occurred_at: { ...(filter.from ? { gte: filter.from.toISOString() } : {}), ...(filter.to ? { lt: filter.to.toISOString() } : {}) } },
    });
  }
  const amount = range(filter.minAmount, filter.maxAmount);
  if (amount) clauses.push({ range: { amount } });
  const must: estypes.QueryDslQueryContainer[] = [];
  const text = filter.text?.trim();
  if (text) {
    // Every word must occur (AND) in the fields copied into search_text. Only whitespace,
    // "phrases" and prefix* are operators: + - | ( ) typed by a user are plain characters.
    must.push({ simple_query_string: { query: text, fields: ['search_text'], default_operator: 'and', flags: 'WHITESPACE|PHRASE|PREFIX' } });
  }
  return {
    index,
    size: first + 1,
    track_total_hits: true,
    query: { bool: { must, filter: clauses } },
    sort: [{ occurred_at: { order: 'desc' } }, { event_id: { order: 'desc' } }],
    ...(after ? { search_after: [after.occurredAtMs, after.id] } : {}),
  };
}

function totalOf(total: estypes.SearchTotalHits | number | undefined): number {
  if (typeof total === 'number') return total;
  return total?.value ?? 0;
}

function highlightsOf(highlight: Record<string, string[]> | undefined): { field: string; snippets: string[] }[] {
  if (!highlight) return [];
  return HIGHLIGHT_FIELDS.flatMap(([indexField, field]) => {
    const snippets = highlight[indexField];
    return snippets && snippets.length > 0 ? [{ field, snippets }] : [];
  });
}

/** Facets in the port's order: values by count, then value; price bands in band order, empty ones included. */
function facetsOf(aggregations: TourAggregations | undefined): TourSearchResult['facets'] {
  const terms = (aggregate: estypes.AggregationsStringTermsAggregate | undefined): FacetCount[] => {
    const buckets = Array.isArray(aggregate?.buckets) ? aggregate.buckets : [];
    return buckets
      .map((bucket) => ({ value: String(bucket.key), count: bucket.doc_count }))
      .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  };
  const rangeBuckets = aggregations?.price_ranges.buckets;
  const counts = new Map((Array.isArray(rangeBuckets) ? rangeBuckets : []).map((bucket) => [bucket.key, bucket.doc_count]));
  return {
    regions: terms(aggregations?.regions),
    categories: terms(aggregations?.categories),
    priceRanges: PRICE_BANDS.map((band) => ({ value: band.label, count: counts.get(band.label) ?? 0 })),
  };
}

/**
 * An Elasticsearch client failure as the gateway's `BackendError`: the client's own timeout, or
 * the call's deadline passing, is a timeout; anything else (error responses, refused connections)
 * makes the backend unavailable.
 */
function toBackendError(error: unknown, operation: string, timeoutMs: number, deadline?: AbortSignal): BackendError {
  if (error instanceof BackendError) return error;
  // Past the deadline the transport reports the abort as whatever it was doing (a connection error,
  // an aborted request); it is a timeout either way.
  if (error instanceof errors.TimeoutError || deadline?.aborted) {
    return Object.assign(backendTimeout('search', ADAPTER, timeoutMs), { cause: error });
  }
  let detail = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.ResponseError) {
    const type = errorType(error);
    const body: unknown = error.meta.body;
    const reason =
      typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'object' && body.error !== null && 'reason' in body.error
        ? String(body.error.reason)
        : undefined;
    detail = `HTTP ${error.statusCode ?? '?'}${type ? ` ${type}` : ''}${reason ? `: ${reason}` : ''}`;
  }
  return new BackendError({ role: 'search', adapter: ADAPTER, message: `${operation} failed: ${detail}`, cause: error });
}
