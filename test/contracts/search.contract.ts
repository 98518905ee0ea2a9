import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow, TourRow } from '../../src/domain.ts';
import type { EventFilterInput, TourFilterInput } from '../../src/backends/lakehouse/queries.ts';
import { PRICE_BANDS, priceBand, type SearchPort, type TourSearchResult } from '../../src/backends/search/port.ts';

/** What a search adapter under contract needs: the port, and the data it can search as ground truth. */
export interface SearchContractFixture {
  search: SearchPort;
  /** Every tour; the contract indexes them through the port. */
  tours: readonly TourRow[];
  destinationNames: ReadonlyMap<string, string>;
  /** Every event the adapter searches (already in its event store). */
  events: readonly EventRow[];
  close?(): Promise<void>;
}

const SEARCH_FIELDS = ['name', 'description', 'destination', 'tags', 'category'];

/**
 * The search role's behaviour, written once and run against every adapter: typo-tolerant,
 * filtered, faceted and highlighted tour search with stable paging, and filtered newest-first event
 * search with keyset paging. Scores are only compared within one adapter (ordering, positivity):
 * their scale is the engine's.
 */
export function describeSearchContract(name: string, make: () => Promise<SearchContractFixture>): void {
  describe(`search contract: ${name}`, () => {
    let fixture: SearchContractFixture;
    let search: SearchPort;
    let tourById: Map<string, TourRow>;

    beforeAll(async () => {
      fixture = await make();
      search = fixture.search;
      tourById = new Map(fixture.tours.map((tour) => [tour.id, tour]));
      await search.indexTours(fixture.tours, fixture.destinationNames);
    });
    afterAll(async () => {
      await fixture?.search.close();
      await fixture?.close?.();
    });

    /** Every hit of a query, in one page. */
    const allHits = async (query: string, filter?: TourFilterInput) =>
      search.searchTours({ query, filter: filter ?? null, first: fixture.tours.length + 1, offset: 0 });
    const toursAt = (destinationName: string) =>
      fixture.tours.filter((tour) => tour.destinationId && fixture.destinationNames.get(tour.destinationId) === destinationName);
    const destinationOf = (tourId: string | undefined) => {
      const destinationId = tourId === undefined ? undefined : tourById.get(tourId)?.destinationId;
      return destinationId ? fixture.destinationNames.get(destinationId) : undefined;
    };

    describe('tours', () => {
      it('finds every tour of a destination and ranks them first', async () => {
        const result = await allHits('Kyoto');
        const kyoto = toursAt('Kyoto');
        expect(kyoto.length).toBeGreaterThan(0);
        expect(new Set(result.hits.slice(0, kyoto.length).map((hit) => destinationOf(hit.tourId)))).toEqual(new Set(['Kyoto']));
        expect(result.total).toBe(result.hits.length);
      });

      it('tolerates typos (one edit in short words, two in longer ones) and completes prefixes', async () => {
        for (const query of ['Kyotto', 'Kioto', 'kyo']) {
          const result = await allHits(query);
          expect(destinationOf(result.hits[0]?.tourId), query).toBe('Kyoto');
          const ids = new Set(result.hits.map((hit) => hit.tourId));
          for (const tour of toursAt('Kyoto')) expect(ids.has(tour.id), `${query} finds ${tour.id}`).toBe(true);
        }
        const cruises = fixture.tours.filter((tour) => tour.category === 'cruise');
        const ids = new Set((await allHits('cruize')).hits.map((hit) => hit.tourId));
        for (const tour of cruises) expect(ids.has(tour.id), `cruize finds ${tour.id}`).toBe(true);
      });

      it('matches any word of the query (OR), ranking tours that match more words higher', async () => {
        const either = await allHits('Kyoto Bangkok');
        const destinations = new Set(either.hits.map((hit) => destinationOf(hit.tourId)));
        expect(destinations.has('Kyoto') && destinations.has('Bangkok')).toBe(true);
        const kyotoTemples = await allHits('Kyoto temples');
        const top = tourById.get(kyotoTemples.hits[0]?.tourId ?? '');
        expect(destinationOf(top?.id)).toBe('Kyoto');
      });

      it('honours every filter exactly: the filtered hits are the unfiltered hits that pass the filter', async () => {
        // Every demo tour's description says "tour", so the unfiltered query matches all of them.
        const unfiltered = await allHits('tour');
        expect(unfiltered.total).toBe(fixture.tours.length);
        const filters: TourFilterInput[] = [
          { regions: ['VN', 'TH'] },
          { categories: ['cruise', 'beach'], minPrice: 100, maxPrice: 500 },
          // Every tag is required: some tours have only one of these (any-of would return them too).
          { tags: ['water', 'scenic'] },
          { minRating: 4, tags: ['food', 'evening'] },
          { destinationId: fixture.tours[0]!.destinationId },
          { regions: ['JP'], categories: ['culture'], maxPrice: 120, minRating: 3.5 },
        ];
        for (const filter of filters) {
          const result = await allHits('tour', filter);
          const expected = unfiltered.hits.map((hit) => hit.tourId).filter((id) => passes(tourById.get(id)!, filter));
          expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
          expect(new Set(result.hits.map((hit) => hit.tourId)), JSON.stringify(filter)).toEqual(new Set(expected));
          expect(result.total).toBe(expected.length);
        }
      });

      it('counts facets over every match, in the port order, summing to the total', async () => {
        for (const [query, filter] of [['cruise', undefined], ['tour', { regions: ['VN', 'ID'] }], ['Kyoto', undefined]] as const) {
          const result = await allHits(query, filter);
          const tours = result.hits.map((hit) => tourById.get(hit.tourId)!);
          expect(result.facets).toEqual(expectedFacets(tours));
          const sum = (facets: { count: number }[]) => facets.reduce((total, facet) => total + facet.count, 0);
          expect(sum(result.facets.regions)).toBe(result.total);
          expect(sum(result.facets.categories)).toBe(result.total);
          expect(sum(result.facets.priceRanges)).toBe(result.total);
          expect(result.facets.priceRanges.map((facet) => facet.value)).toEqual(PRICE_BANDS.map((band) => band.label));
        }
        // Facets describe all matches, not just the page.
        const page = await search.searchTours({ query: 'tour', first: 3, offset: 0 });
        expect(page.facets).toEqual(expectedFacets([...fixture.tours]));
      });

      it('wraps the matched words, typos corrected, in <em> in the fields they matched', async () => {
        for (const query of ['Kyoto', 'Kyotto']) {
          const result = await search.searchTours({ query, first: 10, offset: 0 });
          expect(result.hits.length).toBeGreaterThan(0);
          for (const hit of result.hits) {
            expect(hit.highlights.length, hit.tourId).toBeGreaterThan(0);
            for (const { field, snippets } of hit.highlights) {
              expect(SEARCH_FIELDS).toContain(field);
              for (const snippet of snippets) {
                const marked = [...snippet.matchAll(/<em>(.*?)<\/em>/g)].map((match) => match[1]!.toLowerCase());
                expect(marked.length, snippet).toBeGreaterThan(0);
                expect(new Set(marked), snippet).toEqual(new Set(['kyoto']));
              }
            }
          }
          expect(result.hits[0]!.highlights.map((h) => h.field)).toContain('destination');
        }
      });

      it('pages without overlap or gaps, scores never increasing, hasNextPage exact', async () => {
        const whole = await search.searchTours({ query: 'Kyoto temple tour', first: 30, offset: 0 });
        const pages: TourSearchResult[] = [];
        for (const offset of [0, 10, 20]) pages.push(await search.searchTours({ query: 'Kyoto temple tour', first: 10, offset }));
        expect(pages.flatMap((page) => page.hits.map((hit) => hit.tourId))).toEqual(whole.hits.map((hit) => hit.tourId));
        expect(new Set(pages.flatMap((page) => page.hits.map((hit) => hit.tourId))).size).toBe(30);
        expect(pages.every((page) => page.hasNextPage && page.total === whole.total)).toBe(true);
        const scores = whole.hits.map((hit) => hit.score);
        expect(scores.every((score, i) => score > 0 && (i === 0 || score <= scores[i - 1]!))).toBe(true);

        const last = await search.searchTours({ query: 'Kyoto temple tour', first: 10, offset: whole.total - 4 });
        expect(last.hits).toHaveLength(4);
        expect(last.hasNextPage).toBe(false);
        const beyond = await search.searchTours({ query: 'Kyoto temple tour', first: 10, offset: whole.total });
        expect(beyond).toMatchObject({ hits: [], total: whole.total, hasNextPage: false });
      });

      it('re-indexing replaces the index: a tour gone from the lakehouse is no longer found', async () => {
        const [gone, ...rest] = fixture.tours;
        await search.indexTours(rest, fixture.destinationNames);
        try {
          const result = await allHits('tour');
          expect(result.total).toBe(rest.length);
          expect(result.hits.map((hit) => hit.tourId)).not.toContain(gone!.id);
        } finally {
          await search.indexTours(fixture.tours, fixture.destinationNames);
        }
        expect((await allHits('tour')).total).toBe(fixture.tours.length);
      });
    });

    describe('events', () => {
      const byNewest = (a: EventRow, b: EventRow) => b.occurredAt.getTime() - a.occurredAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
      const expectedEvents = (filter: EventFilterInput) => fixture.events.filter((event) => eventPasses(event, filter)).sort(byNewest);

      it('returns the events that pass every filter, newest first, with the exact total', async () => {
        const sorted = [...fixture.events].sort(byNewest);
        const middle = sorted[Math.floor(sorted.length / 2)]!.occurredAt;
        const busiestUser = mostFrequent(fixture.events.map((event) => event.userId));
        const tours = [...new Set(fixture.events.flatMap((event) => (event.tourId ? [event.tourId] : [])))].slice(0, 2);
        const filters: EventFilterInput[] = [
          {},
          { eventTypes: ['booking'], regions: ['VN'] },
          { minAmount: 100, maxAmount: 300, from: new Date(middle.getTime() - 30 * 86_400_000), to: middle },
          { userId: busiestUser },
          { tourIds: tours, eventTypes: ['view', 'click'] },
          { text: 'partner review' },
          { text: 'cruise VN' },
        ];
        for (const filter of filters) {
          const expected = expectedEvents(filter);
          const result = await search.searchEvents({ filter, first: 25, after: null });
          expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
          expect(result.total, JSON.stringify(filter)).toBe(expected.length);
          expect(result.rows.map((row) => row.id), JSON.stringify(filter)).toEqual(expected.slice(0, 25).map((event) => event.id));
          expect(result.hasNextPage).toBe(expected.length > 25);
        }
      });

      it('returns rows in the port shape, payload parsed', async () => {
        const expected = expectedEvents({ eventTypes: ['review'] }).slice(0, 5);
        const result = await search.searchEvents({ filter: { eventTypes: ['review'] }, first: 5, after: null });
        expect(result.rows).toEqual(expected);
      });

      it('pages by keyset without overlap or gaps', async () => {
        const filter: EventFilterInput = { eventTypes: ['booking', 'cancel'] };
        const whole = await search.searchEvents({ filter, first: 60, after: null });
        const ids: string[] = [];
        let after = null;
        for (let page = 0; page < 3; page += 1) {
          const result: Awaited<ReturnType<SearchPort['searchEvents']>> = await search.searchEvents({ filter, first: 20, after });
          expect(result.total).toBe(whole.total);
          expect(result.hasNextPage).toBe(true);
          ids.push(...result.rows.map((row) => row.id));
          const last = result.rows[result.rows.length - 1]!;
          after = { occurredAtMs: last.occurredAt.getTime(), id: last.id };
        }
        expect(ids).toEqual(whole.rows.map((row) => row.id));
        expect(new Set(ids).size).toBe(60);

        const oldest = expectedEvents(filter).at(-2)!;
        const end = await search.searchEvents({ filter, first: 20, after: { occurredAtMs: oldest.occurredAt.getTime(), id: oldest.id } });
        expect(end.rows).toHaveLength(1);
        expect(end.hasNextPage).toBe(false);
        expect(end.total).toBe(whole.total);
      });

      it('answers an empty page when nothing matches', async () => {
        expect(await search.searchEvents({ filter: { userId: 'NOBODY' }, first: 10, after: null })).toEqual({ rows: [], total: 0, hasNextPage: false });
      });
    });

    it('reports its health', async () => {
      expect(await search.health()).toMatchObject({ role: 'search', adapter: search.adapter, status: 'OK', error: null });
    });
  });
}

/** The tour filter's meaning, as the lakehouse query states it. */
function passes(tour: TourRow, filter: TourFilterInput): boolean {
  if (filter.regions?.length && !filter.regions.includes(tour.region)) return false;
  if (filter.categories?.length && !filter.categories.includes(tour.category)) return false;
  if (filter.destinationId != null && tour.destinationId !== filter.destinationId) return false;
  if (filter.minPrice != null && tour.price < filter.minPrice) return false;
  if (filter.maxPrice != null && tour.price > filter.maxPrice) return false;
  if (filter.minRating != null && (tour.rating ?? 0) < filter.minRating) return false;
  return (filter.tags ?? []).every((tag) => tour.tags.includes(tag));
}

/**
 * The event filter's meaning. `text`: every word occurs as a word of the event's type, region,
 * source, tour id or payload (the lakehouse matches substrings, the index whole words; the words
 * the contract uses are whole words either way).
 */
function eventPasses(event: EventRow, filter: EventFilterInput): boolean {
  if (filter.userId != null && event.userId !== filter.userId) return false;
  if (filter.eventTypes?.length && !filter.eventTypes.includes(event.eventType)) return false;
  if (filter.regions?.length && !filter.regions.includes(event.region ?? '')) return false;
  if (filter.tourIds?.length && !filter.tourIds.includes(event.tourId ?? '')) return false;
  if (filter.from && event.occurredAt < filter.from) return false;
  if (filter.to && event.occurredAt >= filter.to) return false;
  if (filter.minAmount != null && (event.amount === null || event.amount < filter.minAmount)) return false;
  if (filter.maxAmount != null && (event.amount === null || event.amount > filter.maxAmount)) return false;
  if (filter.text) {
    const words = new Set(
      [event.eventType, event.region, event.source, event.tourId, event.payload === null ? null : JSON.stringify(event.payload)]
        .flatMap((value) => (value ?? '').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []),
    );
    if (!filter.text.toLowerCase().split(/\s+/).every((word) => words.has(word))) return false;
  }
  return true;
}

function expectedFacets(tours: TourRow[]): TourSearchResult['facets'] {
  const count = (values: string[]) =>
    [...values.reduce((counts, value) => counts.set(value, (counts.get(value) ?? 0) + 1), new Map<string, number>())]
      .map(([value, n]) => ({ value, count: n }))
      .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  return {
    regions: count(tours.map((tour) => tour.region)),
    categories: count(tours.map((tour) => tour.category)),
    priceRanges: PRICE_BANDS.map((band) => ({ value: band.label, count: tours.filter((tour) => priceBand(tour.price) === band.label).length })),
  };
}

function mostFrequent(values: string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]![0];
}
