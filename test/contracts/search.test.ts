import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors } from '@elastic/elasticsearch';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../src/errors.ts';
import { createElasticsearchSearch } from '../../src/backends/search/elasticsearch.ts';
import { ensureIndices, indexEvents } from '../../src/backends/search/elasticsearch-index.ts';
import { TOURS_INDEX } from '../../src/backends/search/elasticsearch-mappings.ts';
import { createMiniSearch } from '../../src/backends/search/minisearch.ts';
import type { SearchPort } from '../../src/backends/search/port.ts';
import { describeSearchContract } from './search.contract.ts';

import { ClientMock, closeDemoData, demoData, errorResponse, fakeElasticsearch, mockClient, mockErrors, type Demo, type FakeElasticsearch, type Json } from '../helpers/fake-elasticsearch.ts';

afterAll(closeDemoData);

/**
 * The search contract against both adapters: MiniSearch over the demo data, and Elasticsearch over
 * `@elastic/elasticsearch-mock` whose handlers are a small fake Elasticsearch (below). The fake
 * answers from the documents the adapter bulk-indexed, by evaluating the request body the adapter
 * built, in the response shapes Elasticsearch documents; anything outside the subset it knows is
 * answered with a 400, so a change of the adapter's DSL fails here instead of passing silently.
 * Then what only Elasticsearch can get wrong: the request bodies, error and health mapping.
 */
// ---------------------------------------------------------------------------------------------
// The contract, against both adapters.

describeSearchContract('minisearch', async () => {
  const data = await demoData();
  return { search: createMiniSearch({ lakehouse: data.lakehouse }), ...data };
});

describeSearchContract('elasticsearch (mock client, fake computing answers from the indexed demo data)', async () => {
  const data = await demoData();
  const fake = fakeElasticsearch();
  // Events reach the index the way the bootstrap command writes them.
  await ensureIndices(fake.client, 'nexus', { only: ['events'] });
  await indexEvents(fake.client, data.events);
  // A mock client holds no connections (and its connection class cannot close): nothing to release.
  return { search: createElasticsearchSearch({ client: fake.client, timeoutMs: 5_000 }), ...data };
});

// ---------------------------------------------------------------------------------------------
// What only the Elasticsearch adapter can get wrong.

const FIELDS = ['name^3', 'destination^2', 'tags.text^1.5', 'category.text^1.5', 'description'];

describe('elasticsearch adapter', () => {
  let data: Demo;
  beforeAll(async () => {
    data = await demoData();
  });

  /** A fresh fake with the demo tours indexed through the adapter. */
  async function indexed(): Promise<{ fake: FakeElasticsearch; search: SearchPort }> {
    const fake = fakeElasticsearch();
    const search = createElasticsearchSearch({ client: fake.client, indexPrefix: 'nexus', timeoutMs: 5_000 });
    await search.indexTours(data.tours, data.destinationNames);
    await ensureIndices(fake.client, 'nexus', { only: ['events'] });
    fake.requests.length = 0;
    return { fake, search };
  }

  describe('request bodies', () => {
    it('tour search: boosted fuzzy multi_match, typeahead clause, filters, highlight, facets, stable sort, from/size', async () => {
      const { fake, search } = await indexed();
      await search.searchTours({
        query: 'halong cruise',
        filter: { regions: ['VN'], categories: ['cruise'], tags: ['water', 'scenic'], destinationId: 'DEST001', minPrice: 100, maxPrice: 500, minRating: 4 },
        first: 5,
        offset: 10,
      });
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/nexus-tours/_search' });
      expect(fake.requests[0]!.body).toEqual({
        from: 10,
        size: 5,
        track_total_hits: true,
        _source: false,
        query: {
          bool: {
            should: [
              { multi_match: { query: 'halong cruise', type: 'best_fields', fields: FIELDS, fuzziness: 'AUTO', operator: 'or' } },
              { multi_match: { query: 'halong cruise', type: 'bool_prefix', fields: FIELDS, fuzziness: 'AUTO', operator: 'or' } },
            ],
            minimum_should_match: 1,
            filter: [
              { terms: { region: ['VN'] } },
              { terms: { category: ['cruise'] } },
              { term: { tags: 'water' } },
              { term: { tags: 'scenic' } },
              { term: { destination_id: 'DEST001' } },
              { range: { price: { gte: 100, lte: 500 } } },
              { range: { rating: { gte: 4 } } },
            ],
          },
        },
        sort: [{ _score: { order: 'desc' } }, { tour_id: { order: 'asc' } }],
        highlight: {
          pre_tags: ['<em>'],
          post_tags: ['</em>'],
          encoder: 'html',
          fragment_size: 160,
          number_of_fragments: 1,
          fields: { name: {}, description: {}, destination: {}, 'tags.text': {}, 'category.text': {} },
        },
        aggs: {
          regions: { terms: { field: 'region', size: 100, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
          categories: { terms: { field: 'category', size: 100, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
          price_ranges: {
            range: {
              field: 'price',
              ranges: [
                { key: '0-100', from: 0, to: 100 },
                { key: '100-250', from: 100, to: 250 },
                { key: '250-500', from: 250, to: 500 },
                { key: '500-1000', from: 500, to: 1000 },
                { key: '1000+', from: 1000 },
              ],
            },
          },
        },
      });
    });

    it('tour search: no prefix clause for a last word under three letters, no filter clauses without a filter', async () => {
      const { fake, search } = await indexed();
      await search.searchTours({ query: 'bay ha', first: 3, offset: 0 });
      const body = fake.requests[0]!.body as { query: { bool: Json } };
      expect(body.query.bool).toEqual({
        should: [{ multi_match: { query: 'bay ha', type: 'best_fields', fields: FIELDS, fuzziness: 'AUTO', operator: 'or' } }],
        minimum_should_match: 1,
        filter: [],
      });
    });

    it('tour search past max_result_window: the window is clamped, then an empty page with total and facets', async () => {
      const { fake, search } = await indexed();
      const near = await search.searchTours({ query: 'tour', first: 10, offset: 9_995 });
      expect(fake.requests[0]!.body).toMatchObject({ from: 9_995, size: 5 });
      expect(near).toMatchObject({ hits: [], total: data.tours.length, hasNextPage: false });
      const beyond = await search.searchTours({ query: 'tour', first: 10, offset: 10_000 });
      expect(fake.requests[1]!.body).toMatchObject({ from: 0, size: 0 });
      expect(beyond).toMatchObject({ hits: [], total: data.tours.length, hasNextPage: false });
      expect(beyond.facets.regions.reduce((sum, facet) => sum + facet.count, 0)).toBe(data.tours.length);
    });

    it('event search: a filter clause per field, AND text query, newest-first sort, search_after, look-ahead size', async () => {
      const { fake, search } = await indexed();
      await search.searchEvents({
        filter: {
          userId: 'USER000001',
          eventTypes: ['booking', 'view'],
          regions: ['VN'],
          tourIds: ['TOUR0001'],
          from: new Date('2026-01-01T00:00:00Z'),
          to: new Date('2026-02-01T00:00:00Z'),
          minAmount: 10,
          maxAmount: 500,
          text: ' cruise  VN ',
        },
        first: 10,
        after: { occurredAtMs: Date.parse('2026-01-15T08:00:00Z'), id: 'EVT000000123' },
      });
      expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/nexus-events/_search' });
      expect(fake.requests[0]!.body).toEqual({
        size: 11,
        track_total_hits: true,
        query: {
          bool: {
            must: [{ simple_query_string: { query: 'cruise  VN', fields: ['search_text'], default_operator: 'and', flags: 'WHITESPACE|PHRASE|PREFIX' } }],
            filter: [
              { term: { user_id: 'USER000001' } },
              { terms: { event_type: ['booking', 'view'] } },
              { terms: { region: ['VN'] } },
              { terms: { tour_id: ['TOUR0001'] } },
              { range: { occurred_at: { gte: '2026-01-01T00:00:00.000Z', lt: '2026-02-01T00:00:00.000Z' } } },
              { range: { amount: { gte: 10, lte: 500 } } },
            ],
          },
        },
        sort: [{ occurred_at: { order: 'desc' } }, { event_id: { order: 'desc' } }],
        search_after: [Date.parse('2026-01-15T08:00:00Z'), 'EVT000000123'],
      });
      await search.searchEvents({ filter: {}, first: 5, after: null });
      expect(fake.requests[1]!.body).toEqual({
        size: 6,
        track_total_hits: true,
        query: { bool: { must: [], filter: [] } },
        sort: [{ occurred_at: { order: 'desc' } }, { event_id: { order: 'desc' } }],
      });
    });

    it('indexTours: creates the index with the mappings once, bulk-writes by tour id, refreshes, drops stale tours', async () => {
      const fake = fakeElasticsearch();
      const search = createElasticsearchSearch({ client: fake.client, indexPrefix: 'acme', timeoutMs: 5_000 });
      await search.indexTours(data.tours.slice(0, 3), data.destinationNames);
      await search.indexTours(data.tours.slice(0, 2), data.destinationNames);
      const calls = fake.requests.map((request) => `${request.method} ${request.path}`);
      expect(calls).toEqual([
        'HEAD /acme-tours',
        'PUT /acme-tours',
        'POST /_bulk',
        'GET /acme-tours/_refresh',
        'POST /acme-tours/_delete_by_query',
        'POST /_bulk',
        'GET /acme-tours/_refresh',
        'POST /acme-tours/_delete_by_query',
      ]);
      expect(fake.requests[1]!.body).toEqual(JSON.parse(JSON.stringify(TOURS_INDEX)));
      const bulk = fake.requests[2]!.body as Json[];
      const [tour] = data.tours;
      expect(bulk).toHaveLength(6);
      expect(bulk[0]).toEqual({ index: { _index: 'acme-tours', _id: tour!.id } });
      expect(bulk[1]).toMatchObject({
        tour_id: tour!.id,
        name: tour!.name,
        destination: data.destinationNames.get(tour!.destinationId!),
        category: tour!.category,
        tags: tour!.tags,
        price: tour!.price,
      });
      expect(fake.requests[4]).toMatchObject({ querystring: { conflicts: 'proceed', refresh: 'true' } });
      expect(fake.requests[4]!.body).toEqual({ query: { range: { indexed_at: { lt: expect.any(String) } } } });
      expect([...fake.indices.get('acme-tours')!.docs.keys()].sort()).toEqual(data.tours.slice(0, 2).map((t) => t.id).sort());
    });

    it('indexEvents: bulk requests of 5,000 by event id into a strictly mapped index, then a refresh', async () => {
      const fake = fakeElasticsearch();
      await ensureIndices(fake.client, 'nexus', { only: ['events'] });
      await indexEvents(fake.client, data.events.slice(0, 7_000));
      expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['HEAD /nexus-events', 'PUT /nexus-events', 'POST /_bulk', 'POST /_bulk', 'GET /nexus-events/_refresh']);
      expect((fake.requests[2]!.body as Json[]).length).toBe(10_000);
      expect(fake.indices.get('nexus-events')!.docs.size).toBe(7_000);
    });
  });

  describe('error mapping', () => {
    const servers: Server[] = [];
    afterEach(async () => {
      for (const server of servers.splice(0)) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    /** An adapter over a mock whose every search answers `answer`. */
    function failing(answer: () => unknown, timeoutMs = 5_000): SearchPort {
      const mock = new ClientMock();
      mock.add({ method: ['GET', 'POST'], path: ['/:index/_search', '/_bulk', '/:index', '/_cluster/health'] }, answer as () => Json);
      mock.add({ method: 'HEAD', path: '/:index' }, () => ({}));
      return createElasticsearchSearch({ client: mockClient(mock, { maxRetries: 0 }), timeoutMs });
    }

    it('an error response becomes a BackendError naming role, adapter and the Elasticsearch error type', async () => {
      const search = failing(() => errorResponse(500, 'search_phase_execution_exception', 'all shards failed'));
      const failure = await search.searchTours({ query: 'x', first: 1, offset: 0 }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(BackendError);
      expect(failure).toMatchObject({ role: 'search', adapter: 'elasticsearch', timedOut: false });
      expect((failure as Error).message).toContain('HTTP 500 search_phase_execution_exception: all shards failed');
      expect((failure as Error).cause).toBeInstanceOf(errors.ResponseError);

      const missing = failing(() => errorResponse(404, 'index_not_found_exception', 'no such index [nexus-events]'));
      const notFound = await missing.searchEvents({ filter: {}, first: 1 }).catch((error: unknown) => error);
      expect(notFound).toMatchObject({ role: 'search', timedOut: false });
      expect((notFound as Error).message).toContain('index_not_found_exception');
    });

    it("the client's timeout becomes a timeout BackendError (BACKEND_TIMEOUT)", async () => {
      const search = failing(() => new mockErrors.TimeoutError('Request timed out'));
      const failure = await search.searchTours({ query: 'x', first: 1, offset: 0 }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(BackendError);
      expect(failure).toMatchObject({ role: 'search', adapter: 'elasticsearch', timedOut: true });
      expect((failure as Error).cause).toBeInstanceOf(errors.TimeoutError);
    });

    it('a node that never answers fails within the budget as a timeout', async () => {
      const server = createServer(() => undefined);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const search = createElasticsearchSearch({ node: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 150 });
      const started = performance.now();
      const failure = await search.searchEvents({ filter: {}, first: 1 }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ role: 'search', timedOut: true });
      expect(performance.now() - started).toBeLessThan(2_000);
      await search.close();
    });

    it('a refused connection becomes an unavailable BackendError', async () => {
      const search = failing(() => new mockErrors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200'));
      const failure = await search.searchEvents({ filter: {}, first: 1 }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ role: 'search', adapter: 'elasticsearch', timedOut: false });
      expect((failure as Error).cause).toBeInstanceOf(errors.ConnectionError);
    });

    it('a bulk answer with failed items fails indexTours, naming the first failures', async () => {
      const fake = fakeElasticsearch();
      // An index mapped by someone else, without the fields the adapter writes.
      await fake.client.indices.create({ index: 'nexus-tours', mappings: { dynamic: 'strict', properties: { tour_id: { type: 'keyword' } } } });
      const search = createElasticsearchSearch({ client: fake.client, timeoutMs: 5_000 });
      const failure = await search.indexTours(data.tours.slice(0, 2), data.destinationNames).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(BackendError);
      expect((failure as Error).message).toMatch(/bulk indexing into nexus-tours failed for 2 of 2 documents \(TOUR\d+: strict_dynamic_mapping_exception/);
    });
  });

  describe('health', () => {
    it.each([
      ['green', 'OK'],
      ['yellow', 'OK'],
      ['red', 'DEGRADED'],
    ] as const)('cluster status %s → %s', async (clusterStatus, status) => {
      const fake = fakeElasticsearch();
      fake.clusterStatus = clusterStatus;
      const search = createElasticsearchSearch({ client: fake.client, timeoutMs: 5_000 });
      expect(await search.health()).toMatchObject({ role: 'search', adapter: 'elasticsearch', status, error: null });
      expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /_cluster/health']);
    });

    it('an error answer or an unreachable node → DOWN with the reason', async () => {
      const mock = new ClientMock();
      mock.add({ method: 'GET', path: '/_cluster/health' }, () => errorResponse(503, 'master_not_discovered_exception', 'no master'));
      const failing = createElasticsearchSearch({ client: mockClient(mock), timeoutMs: 5_000 });
      expect(await failing.health()).toMatchObject({ status: 'DOWN', error: expect.stringContaining('master_not_discovered_exception') });

      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise((resolve) => closed.close(resolve));
      const unreachable = createElasticsearchSearch({ node: `http://127.0.0.1:${port}`, timeoutMs: 5_000 });
      const started = performance.now();
      expect(await unreachable.health()).toMatchObject({ status: 'DOWN', error: expect.any(String) });
      expect(performance.now() - started).toBeLessThan(2_500);
      await unreachable.close();
    });
  });

  describe('lifecycle', () => {
    it('needs a client or a node, and a positive budget', () => {
      expect(() => createElasticsearchSearch({ timeoutMs: 1_000 })).toThrow(/client.*node/);
      expect(() => createElasticsearchSearch({ node: 'http://localhost:9200', timeoutMs: 0 })).toThrow(/timeoutMs/);
    });

    it('close() leaves a client it was given open (its owner closes it), and is idempotent', async () => {
      const fake = fakeElasticsearch();
      const search = createElasticsearchSearch({ client: fake.client, timeoutMs: 5_000 });
      await Promise.all([search.close(), search.close()]);
      expect(await fake.client.cluster.health()).toMatchObject({ status: 'green' });
    });

    it('retries index creation after a failure instead of remembering it', async () => {
      const fake = fakeElasticsearch();
      const search = createElasticsearchSearch({ client: fake.client, timeoutMs: 5_000 });
      fake.failures.set('PUT /nexus-tours', errorResponse(500, 'cluster_block_exception', 'blocked'));
      await expect(search.indexTours(data.tours.slice(0, 1), data.destinationNames)).rejects.toBeInstanceOf(BackendError);
      await search.indexTours(data.tours.slice(0, 1), data.destinationNames);
      expect(fake.requests.filter((request) => request.method === 'PUT').length).toBe(2);
      expect(fake.indices.get('nexus-tours')!.docs.size).toBe(1);
    });
  });
});
