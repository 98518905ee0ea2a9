import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { BackendError, backendTimeout } from '../src/errors.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { encodeGlobalId } from '../src/global-id.ts';

let gw: TestGateway;
let analytics: SqlEngine;
let realQuery: SqlEngine['query'];
beforeAll(async () => {
  gw = await startTestGateway({ env: { RESPONSE_CACHE: 'false' } });
  analytics = gw.gateway.services.backends.analytics;
  realQuery = analytics.query;
});
afterEach(() => {
  (analytics as { query: SqlEngine['query'] }).query = realQuery;
});
afterAll(async () => {
  await gw?.close();
});

/** Makes the analytics role fail every call the way an adapter reports it. */
function failAnalytics(error: () => Error): void {
  (analytics as { query: SqlEngine['query'] }).query = async () => {
    throw error();
  };
}

const QUERY = '{ tours(first: 3) { edges { node { id name stats { bookings } } } } }';

describe('a failing backend fails only its own fields', () => {
  it('answers lakehouse fields and marks analytics fields BACKEND_UNAVAILABLE', async () => {
    failAnalytics(() => new BackendError({ role: 'analytics', adapter: 'duckdb', message: 'connection refused', cause: new Error('ECONNREFUSED 10.0.0.7:8123') }));
    const { status, body } = await gw.request<{ tours: { edges: { node: { id: string; name: string; stats: null } }[] } }>(QUERY);
    expect(status).toBe(200);
    expect(body.data!.tours.edges).toHaveLength(3);
    for (const edge of body.data!.tours.edges) {
      expect(edge.node.name.length).toBeGreaterThan(0);
      expect(edge.node.stats).toBeNull();
    }
    expect(body.errors).toHaveLength(3);
    expect(body.errors![0]).toMatchObject({
      message: 'The analytics backend is unavailable.',
      path: ['tours', 'edges', 0, 'node', 'stats'],
      extensions: { code: 'BACKEND_UNAVAILABLE', backend: 'analytics' },
    });
    // The engine's own words (addresses, SQL) stay in the logs.
    expect(JSON.stringify(body)).not.toContain('10.0.0.7');
  });

  it('reports a timeout as BACKEND_TIMEOUT', async () => {
    failAnalytics(() => backendTimeout('analytics', 'duckdb', 10_000));
    const { body } = await gw.request(QUERY);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BACKEND_TIMEOUT', backend: 'analytics' });
  });

  it('masks unexpected errors as INTERNAL without their message', async () => {
    failAnalytics(() => new TypeError("Cannot read properties of undefined (reading 'secret_column')"));
    const { body } = await gw.request(QUERY);
    expect(body.errors?.[0]).toMatchObject({ message: 'Internal error.', extensions: { code: 'INTERNAL' } });
    expect(JSON.stringify(body)).not.toContain('secret_column');
  });

  it('recovers as soon as the backend answers again', async () => {
    const { body } = await gw.request<{ tours: { edges: { node: { stats: { bookings: number } } }[] } }>(QUERY);
    expect(body.errors).toBeUndefined();
    expect(body.data!.tours.edges[0]!.node.stats.bookings).toBeGreaterThanOrEqual(0);
  });

  it('fails a whole root field whose backend is down, keeping sibling roots', async () => {
    failAnalytics(() => new BackendError({ role: 'analytics', adapter: 'duckdb', message: 'down' }));
    const { body } = await gw.request<{ regionalStats: null; tour: { id: string } }>('{ regionalStats { region } tour(id: "TOUR0001") { id } }');
    expect(body.data).toEqual({ regionalStats: null, tour: { id: encodeGlobalId('Tour', 'TOUR0001') } });
    expect(body.errors?.[0]).toMatchObject({ path: ['regionalStats'], extensions: { code: 'BACKEND_UNAVAILABLE' } });
  });
});
