import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerQuestion } from '../../src/analytics/answer.ts';
import { analyticsModel } from '../../src/analytics/default-model.ts';
import { questionOf } from '../../src/analytics/question.ts';
import type { GraphQLBody, TestGateway } from '../helpers/gateway.ts';

/** Which adapter each role is expected to run on. */
export interface ExpectedAdapters {
  lakehouse: string;
  analytics: string;
  search: string;
  cache: string;
  bus: string;
  /** The adapter catalogue reads (tours, destinations) come from: default the in-process replica. */
  catalogue?: string;
}

/**
 * The gateway's read API, written once and run against every engine configuration (embedded,
 * and production adapters over real peers): the same operations must give the same behaviour.
 */
export function describeQuerySuite(label: string, start: () => Promise<TestGateway>, adapters: ExpectedAdapters): void {
  describe(`queries: ${label}`, () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await start();
    }, 120_000);
    afterAll(async () => {
      await gw?.close();
    });

    interface TourPage {
      tours: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        edges: { cursor: string; node: { tourId: string; region: string; price: number; category: string } }[];
      };
    }

    interface PageInfo {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      startCursor: string | null;
      endCursor: string | null;
    }
    type KeyedPage = { pageInfo: PageInfo; edges: { node: Record<string, string> }[] };

    /**
     * Every key of a connection read forward (`first`/`after`) and backward (`last`/`before`, from
     * the end), in list order, with the page infos seen. `select` picks the connection out of `data`.
     */
    async function walk(query: string, select: (data: Record<string, unknown>) => KeyedPage, key: string, size: number, backward: boolean) {
      const keys: string[] = [];
      const infos: PageInfo[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 200; i += 1) {
        const variables = backward ? { l: size, b: cursor } : { f: size, a: cursor };
        const { body } = await gw.request<Record<string, unknown>>(query, variables);
        expect(body.errors).toBeUndefined();
        const page = select(body.data!);
        infos.push(page.pageInfo);
        const pageKeys = page.edges.map((e) => e.node[key]!);
        if (backward) keys.unshift(...pageKeys);
        else keys.push(...pageKeys);
        if (!(backward ? page.pageInfo.hasPreviousPage : page.pageInfo.hasNextPage)) break;
        cursor = backward ? page.pageInfo.startCursor : page.pageInfo.endCursor;
      }
      return { keys, infos };
    }

    describe('backward pagination', () => {
      const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
      const cases = [
        {
          name: 'tours (by id, filtered)',
          query: `query ($f: Int, $a: String, $l: Int, $b: String) { tours(first: $f, after: $a, last: $l, before: $b, filter: { regions: ["VN", "TH"] }) { ${PAGE_INFO} edges { node { tourId } } } }`,
          select: (d: Record<string, unknown>) => d['tours'] as KeyedPage,
          key: 'tourId',
        },
        {
          name: 'destinations (by id)',
          query: `query ($f: Int, $a: String, $l: Int, $b: String) { destinations(first: $f, after: $a, last: $l, before: $b) { ${PAGE_INFO} edges { node { destinationId } } } }`,
          select: (d: Record<string, unknown>) => d['destinations'] as KeyedPage,
          key: 'destinationId',
        },
        {
          name: 'events (newest first)',
          query: `query ($f: Int, $a: String, $l: Int, $b: String) { events(first: $f, after: $a, last: $l, before: $b, filter: { userId: "USER000001" }) { ${PAGE_INFO} edges { node { eventId } } } }`,
          select: (d: Record<string, unknown>) => d['events'] as KeyedPage,
          key: 'eventId',
          size: 15,
        },
        {
          name: "a destination's tours",
          query: `query ($f: Int, $a: String, $l: Int, $b: String) { destination(id: "DEST001") { tours(first: $f, after: $a, last: $l, before: $b) { ${PAGE_INFO} edges { node { tourId } } } } }`,
          select: (d: Record<string, unknown>) => (d['destination'] as { tours: KeyedPage }).tours,
          key: 'tourId',
        },
        {
          name: "a user's bookings",
          query: `query ($f: Int, $a: String, $l: Int, $b: String) { user(id: "USER000001") { bookings(first: $f, after: $a, last: $l, before: $b) { ${PAGE_INFO} edges { node { eventId } } } } }`,
          select: (d: Record<string, unknown>) => (d['user'] as { bookings: KeyedPage }).bookings,
          key: 'eventId',
          size: 4,
        },
      ];

      for (const { name, query, select, key, size = 3 } of cases) {
        it(`reads ${name} backward as the forward pages reversed, with page infos for each direction`, async () => {
          const forward = await walk(query, select, key, size, false);
          const backward = await walk(query, select, key, size, true);
          expect(forward.keys.length).toBeGreaterThan(size);
          expect(backward.keys).toEqual(forward.keys);
          // Backward from the end: nothing after the first page read, something before all but the last.
          expect(backward.infos[0]).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
          expect(backward.infos.at(-1)).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
          expect(forward.infos[0]).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
          expect(forward.infos.at(-1)).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
        });
      }

      it('refuses paging both ways at once with BAD_USER_INPUT naming the arguments', async () => {
        const { body } = await gw.request('{ tours(first: 2, last: 2) { totalCount } }');
        expect(body.errors).toMatchObject([
          { message: 'Page forward with "first"/"after" or backward with "last"/"before", not both; got "first", "last".', extensions: { code: 'BAD_USER_INPUT' } },
        ]);
        const mixed = await gw.request('{ events(after: "x", last: 2) { edges { cursor } } }');
        expect(mixed.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      });

      it('refuses a forged `before` cursor naming that argument', async () => {
        const { body } = await gw.request('{ destinations(last: 2, before: "bm90LWEtY3Vyc29y") { totalCount } }');
        expect(body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'before' } });
      });
    });

    describe('tours', () => {
      it('pages through every tour exactly once with cursors', async () => {
        const seen: string[] = [];
        let after: string | null = null;
        let total = 0;
        for (let i = 0; i < 100; i += 1) {
          const { body }: { body: GraphQLBody<TourPage> } = await gw.request<TourPage>(
            'query ($after: String) { tours(first: 40, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { tourId region price category } } } }',
            { after },
          );
          expect(body.errors).toBeUndefined();
          const tours: TourPage['tours'] = body.data!.tours;
          total = tours.totalCount;
          seen.push(...tours.edges.map((e) => e.node.tourId));
          if (!tours.pageInfo.hasNextPage) break;
          after = tours.pageInfo.endCursor;
        }
        expect(total).toBeGreaterThan(100);
        expect(seen).toHaveLength(total);
        expect(new Set(seen).size).toBe(total);
        expect([...seen].sort()).toEqual(seen);
      });

      it('filters by region, category and price, and counts the matches', async () => {
        const { body } = await gw.request<TourPage>(
          '{ tours(first: 100, filter: { regions: ["JP"], maxPrice: 300 }) { totalCount edges { node { id region price category } } } }',
        );
        const tours = body.data!.tours;
        expect(tours.totalCount).toBeGreaterThan(0);
        expect(tours.edges).toHaveLength(Math.min(100, tours.totalCount));
        for (const { node } of tours.edges) {
          expect(node.region).toBe('JP');
          expect(node.price).toBeLessThanOrEqual(300);
        }
      });

      it('keeps the total on a page past the end', async () => {
        const first = await gw.request<TourPage>('{ tours(first: 100, filter: { regions: ["MV"] }) { totalCount pageInfo { endCursor } edges { node { id } } } }');
        const { totalCount, pageInfo } = first.body.data!.tours;
        const past = await gw.request<TourPage>('query ($a: String) { tours(first: 5, filter: { regions: ["MV"] }, after: $a) { totalCount pageInfo { hasNextPage } edges { node { id } } } }', {
          a: pageInfo.endCursor,
        });
        expect(past.body.data!.tours).toMatchObject({ totalCount, pageInfo: { hasNextPage: false }, edges: [] });
      });

      it('resolves one tour with its destination and analytics stats', async () => {
        const { body } = await gw.request<{ tour: { tourId: string; destination: { name: string; countryCode: string }; region: string; stats: { bookings: number; views: number; conversion: number } } }>(
          '{ tour(id: "TOUR0001") { tourId region destination { name countryCode } stats { bookings views conversion } } }',
        );
        const tour = body.data!.tour;
        expect(tour.tourId).toBe('TOUR0001');
        expect(tour.destination.countryCode).toBe(tour.region);
        expect(tour.stats.views).toBeGreaterThan(0);
        expect(tour.stats.conversion).toBeCloseTo(tour.stats.bookings / tour.stats.views, 3);
      });

      it('answers null for an unknown tour', async () => {
        const { body } = await gw.request('{ tour(id: "NOPE") { id } }');
        expect(body.data).toEqual({ tour: null });
        expect(body.errors).toBeUndefined();
      });

      it('refuses a page larger than the maximum with BAD_USER_INPUT', async () => {
        const { body } = await gw.request('{ tours(first: 5000) { totalCount } }');
        expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
        expect(body.errors?.[0]?.message).toMatch(/between 0 and 100/);
      });

      it('refuses a forged cursor with BAD_USER_INPUT', async () => {
        const { body } = await gw.request('{ tours(after: "not-a-cursor") { totalCount } }');
        expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      });

      it('refuses time travel on the embedded lakehouse with a clear reason', async () => {
        const { body } = await gw.request('{ tours(first: 1, asOf: "2026-01-01T00:00:00Z") { totalCount } }');
        expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
        expect(body.errors?.[0]?.message).toMatch(/snapshots/);
      });

      it('treats injection strings in filters as plain values', async () => {
        const { body } = await gw.request<TourPage>(`{ tours(filter: { regions: ["VN' OR '1'='1"], categories: ["x); DROP TABLE silver.tours; --"] }) { totalCount } }`);
        expect(body.data?.tours.totalCount).toBe(0);
        const again = await gw.request<TourPage>('{ tours(first: 1) { totalCount } }');
        expect(again.body.data!.tours.totalCount).toBeGreaterThan(0);
      });
    });

    describe('destinations', () => {
      it('lists destinations with their own tours', async () => {
        const { body } = await gw.request<{
          destinations: { totalCount: number; edges: { node: { id: string; coordinates: { latitude: number }; tours: { totalCount: number; edges: { node: { id: string; destination: { id: string } } }[] } } }[] };
        }>('{ destinations(first: 50) { totalCount edges { node { id coordinates { latitude } tours(first: 3) { totalCount edges { node { id destination { id } } } } } } } }');
        const destinations = body.data!.destinations;
        expect(destinations.totalCount).toBe(destinations.edges.length);
        for (const { node } of destinations.edges) {
          expect(node.tours.totalCount).toBeGreaterThan(0);
          expect(node.tours.edges.length).toBe(Math.min(3, node.tours.totalCount));
          for (const tour of node.tours.edges) expect(tour.node.destination.id).toBe(node.id);
        }
      });

      it('filters by country code', async () => {
        const { body } = await gw.request<{ destinations: { edges: { node: { countryCode: string } }[] } }>(
          '{ destinations(filter: { countryCodes: ["TH"] }) { edges { node { countryCode } } } }',
        );
        expect(body.data!.destinations.edges.length).toBeGreaterThan(1);
        expect(new Set(body.data!.destinations.edges.map((e) => e.node.countryCode))).toEqual(new Set(['TH']));
      });
    });

    describe('events and users', () => {
      it('lists events newest first, filtered by type, paging without overlap', async () => {
        const query = 'query ($a: String) { events(first: 25, after: $a, filter: { eventTypes: [BOOKING] }) { pageInfo { endCursor hasNextPage } edges { node { id eventType occurredAt amount } } } }';
        const one = await gw.request<{ events: { pageInfo: { endCursor: string }; edges: { node: { id: string; eventType: string; occurredAt: string; amount: number } }[] } }>(query);
        const two = await gw.request<typeof one.body.data & object>(query, { a: one.body.data!.events.pageInfo.endCursor });
        const all = [...one.body.data!.events.edges, ...two.body.data!.events.edges].map((e) => e.node);
        expect(all).toHaveLength(50);
        expect(new Set(all.map((e) => e.id)).size).toBe(50);
        for (let i = 1; i < all.length; i += 1) expect(all[i - 1]!.occurredAt >= all[i]!.occurredAt).toBe(true);
        for (const event of all) {
          expect(event.eventType).toBe('BOOKING');
          expect(event.amount).toBeGreaterThan(0);
        }
      });

      it('shows a user 360 consistent with their bookings', async () => {
        const { body } = await gw.request<{
          user: { id: string; profile: { totalBookings: number; totalSpend: number; averageBookingValue: number; favouriteRegion: string; segment: string }; bookings: { edges: { node: { userId: string; eventType: string; amount: number } }[] }; recommendations: { tour: { tourId: string }; score: number; reason: string }[] };
        }>('{ user(id: "USER000001") { id profile { totalBookings totalSpend averageBookingValue favouriteRegion segment } bookings(first: 100) { edges { node { userId eventType amount } } } recommendations(first: 3) { tour { tourId } score reason } } }');
        const user = body.data!.user;
        expect(user.profile.totalBookings).toBeGreaterThan(0);
        expect(user.bookings.edges.length).toBe(Math.min(100, user.profile.totalBookings));
        const spend = user.bookings.edges.reduce((sum, e) => sum + e.node.amount, 0);
        if (user.profile.totalBookings <= 100) expect(user.profile.totalSpend).toBeCloseTo(spend, 1);
        expect(user.profile.averageBookingValue).toBeCloseTo(user.profile.totalSpend / user.profile.totalBookings, 1);
        expect(user.profile.favouriteRegion).toMatch(/^[A-Z]{2}$/);
        expect(user.recommendations).toHaveLength(3);
        for (const r of user.recommendations) expect(r.reason.length).toBeGreaterThan(10);
        const booked = new Set((await gw.request<{ events: { edges: { node: { tourId: string } }[] } }>('{ events(first: 100, filter: { userId: "USER000001", eventTypes: [BOOKING] }) { edges { node { tourId } } } }')).body.data!.events.edges.map((e) => e.node.tourId));
        for (const r of user.recommendations) expect(booked.has(r.tour.tourId)).toBe(false);
      });

      it('answers null for a user who never produced an event', async () => {
        const { body } = await gw.request('{ user(id: "NOBODY") { id } }');
        expect(body.data).toEqual({ user: null });
        expect(body.errors).toBeUndefined();
      });
    });

    describe('search', () => {
      it('finds tours despite a typo, with highlights and facets over all matches', async () => {
        const { body } = await gw.request<{
          searchTours: { total: number; edges: { node: { score: number; tour: { name: string; category: string }; highlights: { field: string; snippets: string[] }[] } }[]; facets: { categories: { value: string; count: number }[]; regions: { count: number }[]; priceRanges: { count: number }[] } };
        }>('{ searchTours(query: "crusie", first: 5) { total edges { node { score tour { name category } highlights { field snippets } } } facets { categories { value count } regions { count } priceRanges { count } } } }');
        const result = body.data!.searchTours;
        expect(result.total).toBeGreaterThan(0);
        expect(result.edges[0]!.node.tour.category).toBe('cruise');
        expect(result.edges[0]!.node.highlights.some((h) => h.snippets.some((s) => /<em>cruise/i.test(s)))).toBe(true);
        const scores = result.edges.map((e) => e.node.score);
        expect([...scores].sort((a, b) => b - a)).toEqual(scores);
        expect(result.facets.regions.reduce((n, b) => n + b.count, 0)).toBe(result.total);
        expect(result.facets.priceRanges.reduce((n, b) => n + b.count, 0)).toBe(result.total);
      });

      it('applies filters to search hits', async () => {
        const { body } = await gw.request<{ searchTours: { total: number; edges: { node: { tour: { region: string } } }[] } }>(
          '{ searchTours(query: "tour", filter: { regions: ["VN"] }, first: 50) { total edges { node { tour { region } } } } }',
        );
        expect(body.data!.searchTours.total).toBeGreaterThan(0);
        for (const edge of body.data!.searchTours.edges) expect(edge.node.tour.region).toBe('VN');
      });

      it('searches events by text and filters', async () => {
        const { body } = await gw.request<{ searchEvents: { total: number; edges: { node: { eventType: string; region: string; amount: number } }[] } }>(
          '{ searchEvents(filters: { text: "booking", regions: ["TH"], minAmount: 100 }, first: 10) { total edges { node { eventType region amount } } } }',
        );
        const result = body.data!.searchEvents;
        expect(result.total).toBeGreaterThan(0);
        for (const { node } of result.edges) {
          expect(node).toMatchObject({ eventType: 'BOOKING', region: 'TH' });
          expect(node.amount).toBeGreaterThanOrEqual(100);
        }
      });

      it('rejects an empty search', async () => {
        const { body } = await gw.request('{ searchTours(query: "   ") { total } }');
        expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      });
    });

    describe('analytics', () => {
      it('reports regional stats whose bookings add up to the events', async () => {
        const { body } = await gw.request<{ regionalStats: { region: string; events: number; bookings: number; revenue: number; avgAmount: number; uniqueUsers: number }[]; events: { edges: unknown[] } }>(
          '{ regionalStats(from: "2026-01-01T00:00:00Z", to: "2026-11-01T00:00:00Z", regions: ["VN", "JP"]) { region events bookings revenue avgAmount uniqueUsers } }',
        );
        const stats = body.data!.regionalStats;
        expect(stats.map((s) => s.region)).toEqual(['JP', 'VN']);
        for (const s of stats) {
          expect(s.bookings).toBeLessThan(s.events);
          expect(s.avgAmount).toBeCloseTo(s.revenue / s.bookings, 1);
          expect(s.uniqueUsers).toBeGreaterThan(0);
        }
      });

      it('returns a gap-free revenue series that sums to the regional revenue', async () => {
        const range = 'from: "2026-03-01T00:00:00Z", to: "2026-06-01T00:00:00Z"';
        const { body } = await gw.request<{ revenueSeries: { bucket: string; revenue: number }[]; regionalStats: { revenue: number }[] }>(
          `{ revenueSeries(interval: MONTH, ${range}, region: "VN") { bucket revenue } regionalStats(${range}, regions: ["VN"]) { revenue } }`,
        );
        const series = body.data!.revenueSeries;
        expect(series.map((p) => p.bucket)).toEqual(['2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', '2026-05-01T00:00:00.000Z']);
        expect(series.reduce((n, p) => n + p.revenue, 0)).toBeCloseTo(body.data!.regionalStats[0]!.revenue, 0);
      });

      it('ranks popular tours by score', async () => {
        const { body } = await gw.request<{ tourPopularity: { rank: number; score: number; bookings: number; views: number; tour: { id: string } }[] }>(
          '{ tourPopularity(window: ALL_TIME, first: 5) { rank score bookings views tour { id } } }',
        );
        const rows = body.data!.tourPopularity;
        expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
        for (const r of rows) expect(r.score).toBe(r.bookings * 10 + r.views);
        for (let i = 1; i < rows.length; i += 1) expect(rows[i - 1]!.score).toBeGreaterThanOrEqual(rows[i]!.score);
      });

      it('answers "bookings and revenue by destination country per month for 2026, top 10" with the numbers of the lakehouse events', async () => {
        const { body } = await gw.request<{ analytics: { rows: Record<string, unknown>[]; estimate: { engine: string; rows: number } } }>(
          `query BookingsByCountry { analytics(query: {
            measures: [BOOKINGS, REVENUE], dimensions: [DESTINATION_COUNTRY], orderBy: [{ member: BOOKINGS, direction: DESC }], limit: 10
            timeDimension: { dimension: OCCURRED_AT, granularity: MONTH, from: "2026-01-01T00:00:00Z", to: "2027-01-01T00:00:00Z" }
          }) { rows { time destinationCountry bookings revenue } estimate { engine rows } } }`,
        );
        const answer = body.data!.analytics;
        expect(answer.estimate.engine).toBe(adapters.analytics);
        expect(answer.rows).toHaveLength(10);
        // The same question asked of the lakehouse engine directly (its analytics views), whichever engine answered the gateway.
        const question = questionOf(analyticsModel, {
          measures: ['BOOKINGS', 'REVENUE'],
          dimensions: ['DESTINATION_COUNTRY'],
          orderBy: [{ member: 'BOOKINGS', direction: 'DESC' }],
          limit: 10,
          timeDimension: { dimension: 'OCCURRED_AT', granularity: 'MONTH', from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') },
        }, { kind: 'open', id: 'suite', role: 'analyst', userId: null });
        const lakehouse = gw.gateway.services.backends.lakehouse;
        const expected = await answerQuestion(lakehouse, analyticsModel, question, { maxRows: Number.MAX_SAFE_INTEGER, engineKey: lakehouse });
        expect(answer.rows).toEqual(JSON.parse(JSON.stringify(expected.rows)));
      });

      it('rejects an inverted time range', async () => {
        const { body } = await gw.request('{ regionalStats(from: "2026-06-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { region } }');
        expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      });
    });

    describe('backend extensions', () => {
      it('says per role which adapter answered, how many calls it made and how long they took', async () => {
        const response = await fetch(gw.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ tours(first: 7) { edges { node { id destination { name } stats { views } } } } }' }),
        });
        const body = (await response.json()) as { extensions: { backends: Record<string, { adapter: string; calls: number; totalMs: number }> } };
        // The page, then the destinations (a loader's batch, or the replica's lookups, which count as one call).
        expect(body.extensions.backends['lakehouse']).toMatchObject({ adapter: adapters.catalogue ?? 'catalogue-replica', calls: 2 });
        expect(body.extensions.backends['analytics']).toMatchObject({ adapter: adapters.analytics, calls: 1 });
        expect(body.extensions.backends['lakehouse']!.totalMs).toBeGreaterThan(0);
      });
    });

    describe('platform and health', () => {
      it('exposes sources, lineage, tables and quality', async () => {
        const { body } = await gw.request<{
          platform: { dataSources: { sourceId: string; topic: string }[]; lineage: { from: string; to: string }[]; tables: { name: string; rowCount: number }[]; dataQuality: { table: string; overallScore: number }[] };
        }>('{ platform { dataSources { sourceId topic } lineage { from to } tables { name rowCount } dataQuality { table overallScore } } }');
        const platform = body.data!.platform;
        expect(platform.dataSources.map((s) => s.sourceId)).toEqual(['gateway_bookings', 'gateway_user_events', 'mobile_app_events', 'web_clickstream', 'oltp_cdc', 'weather_api', 'tourism_info_api', 'tour_catalogue']);
        expect(platform.dataSources.map((s) => s.topic)).toContain('topic_cdc_changes');
        expect(platform.lineage).toContainEqual({ from: 'topic:topic_booking_events', to: 'table:bronze.booking_events' });
        expect(platform.tables.find((t) => t.name === 'silver.tours')?.rowCount).toBeGreaterThan(0);
        for (const q of platform.dataQuality) expect(q.overallScore).toBeGreaterThan(0.9);
      });

      it('reports every backend in health', async () => {
        const { body } = await gw.request<{ health: { status: string; backends: { role: string; adapter: string; status: string }[] } }>(
          '{ health { status backends { role adapter status } } }',
        );
        expect(body.data!.health.status).toBe('OK');
        expect(body.data!.health.backends.map((b) => `${b.role}:${b.adapter}`)).toEqual([
          `LAKEHOUSE:${adapters.lakehouse}`,
          `ANALYTICS:${adapters.analytics}`,
          `SEARCH:${adapters.search}`,
          `CACHE:${adapters.cache}`,
          `BUS:${adapters.bus}`,
        ]);
      });
    });
  });
}
