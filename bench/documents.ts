/** The GraphQL operations the benchmark sends, and the HTTP requests that carry them. */
import { CATEGORIES, DESTINATIONS } from '../ingest/demo/catalogue.ts';

/** One HTTP request, as the load generator repeats it. */
export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  /** Path and query string, e.g. `/graphql?query=…`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export const GRAPHQL_PATH = '/graphql';

export const PING = '{ ping }';
export const HELLO = '{ hello }';
export const SINGLE_TOUR = 'query Tour($id: ID!) { tour(id: $id) { id name price destination { name } } }';
export const TOUR_LIST_50 = '{ tours(first: 50) { edges { node { id name region price currency rating } } } }';
export const NESTED_TOURS_50 =
  '{ tours(first: 50) { edges { node { id name destination { name } stats { bookings revenue } } } } }';
export const INGEST_ONE = 'mutation Ingest($input: EventInput!) { ingestEvent(input: $input) { offset } }';
export const INGEST_MANY =
  'mutation IngestMany($inputs: [EventInput!]!) { ingestEvents(inputs: $inputs) { accepted rejected } }';
export const EVENT_INGESTED =
  'subscription Bookings { eventIngested(filter: { eventTypes: [BOOKING] }) { id eventType offset payload } }';

/** A POST with a JSON body, as GraphQL clients send it. */
export function postRequest(query: string, variables?: Record<string, unknown>): HttpRequestSpec {
  return {
    method: 'POST',
    path: GRAPHQL_PATH,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(variables === undefined ? { query } : { query, variables }),
  };
}

/** A GET with `query` and `variables` in the query string (cacheable by URL). */
export function getRequest(query: string, variables: Record<string, unknown>): HttpRequestSpec {
  const search = new URLSearchParams({ query, variables: JSON.stringify(variables) });
  return { method: 'GET', path: `${GRAPHQL_PATH}?${search.toString()}`, headers: {} };
}

/** A valid booking for `ingestEvent`, carrying `payload` through to subscribers. */
export function bookingInput(seq: number, payload: Record<string, unknown>): Record<string, unknown> {
  return {
    eventType: 'BOOKING',
    userId: userId(seq),
    tourId: tourId(seq),
    region: 'VN',
    amount: 250,
    currency: 'USD',
    payload,
  };
}

/** `size` valid events for `ingestEvents`: three views for every booking, spread over users and tours. */
export function ingestBatch(size: number): Record<string, unknown>[] {
  const regions = ['VN', 'TH', 'JP', 'ID', 'KH'];
  return Array.from({ length: size }, (_, i) =>
    i % 4 === 0
      ? { eventType: 'BOOKING', userId: userId(i), tourId: tourId(i), region: regions[i % regions.length], amount: 100 + (i % 400), currency: 'USD', source: 'bench' }
      : { eventType: 'VIEW', userId: userId(i), tourId: tourId(i), region: regions[i % regions.length], source: 'bench' },
  );
}

/** The demo data's anchor the bench's gateways use unless DEMO_ANCHOR says otherwise: its events end there. */
export const DEMO_ANCHOR = '2026-11-01T00:00:00.000Z';

/** Activity per region over the last quarter of the demo data: the analytics dashboard's query. */
export const REGIONAL_STATS =
  'query RegionalStats($from: DateTime, $to: DateTime) { regionalStats(from: $from, to: $to) { region events bookings revenue avgAmount uniqueUsers } }';

/** `REGIONAL_STATS`'s variables: the 90 days before `anchor` (the demo's anchor), all regions. */
export function lastQuarter(anchor: string): { from: string; to: string } {
  const to = new Date(anchor);
  return { from: new Date(to.getTime() - 90 * 86_400_000).toISOString(), to: to.toISOString() };
}

// The demo data has users USER000001… (5,000 at scale 1) and tours TOUR0001… (300).
const userId = (i: number) => `USER${String((i % 5_000) + 1).padStart(6, '0')}`;
const tourId = (i: number) => `TOUR${String((i % 300) + 1).padStart(4, '0')}`;

/** One user's latest events: what the soak scenario sends, for a different user each time. */
export const USER_EVENTS =
  'query UserEvents($userId: ID!) { events(filter: { userId: $userId }, first: 20) { edges { node { id eventType tourId amount occurredAt } } pageInfo { hasNextPage } } }';

/** The `i`-th user of the demo data, cycling through all of them. */
export const soakUser = (i: number) => userId(i);

/** A catalogue page: tours with a filter, their destination, a cursor and the count (what a listing screen asks). */
export const CATALOGUE_PAGE = `query CataloguePage($first: Int!, $filter: TourFilter) {
  tours(first: $first, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id tourId name region price currency rating durationDays category tags destination { name city } } }
  }
}`;

/**
 * `count` different catalogue pages (filters over regions, categories, destinations, price,
 * rating and tags; page sizes 10–50), the same list on every run: varied enough that no cache of
 * one request absorbs them.
 */
export function catalogueVariants(count: number): Record<string, unknown>[] {
  let state = 7;
  const next = () => ((state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const regions = [...new Set(DESTINATIONS.map((d) => d.countryCode))];
  return Array.from({ length: count }, () => {
    const filter: Record<string, unknown> = {};
    if (next() < 0.5) filter['regions'] = [...new Set([pick(regions), pick(regions)])];
    if (next() < 0.4) filter['categories'] = [pick(CATEGORIES).name];
    if (next() < 0.15) filter['destinationId'] = pick(DESTINATIONS).id;
    if (next() < 0.4) filter['minPrice'] = Math.round(next() * 200);
    if (next() < 0.3) filter['maxPrice'] = 200 + Math.round(next() * 600);
    if (next() < 0.3) filter['minRating'] = pick([3.5, 4, 4.5]);
    if (next() < 0.2) filter['tags'] = [pick(pick(CATEGORIES).tags)];
    return { first: pick([10, 20, 50]), filter };
  });
}
