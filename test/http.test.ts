import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { encodeGlobalId } from '../src/global-id.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

function get(query: string, variables?: Record<string, unknown>, accept = `${GRAPHQL_RESPONSE}, application/json;q=0.9`) {
  const params = new URLSearchParams({ query });
  if (variables) params.set('variables', JSON.stringify(variables));
  return fetch(`${gw.endpoint}?${params}`, { headers: { accept } });
}

function post(body: string, contentType = 'application/json', accept = GRAPHQL_RESPONSE) {
  return fetch(gw.endpoint, { method: 'POST', headers: { 'content-type': contentType, accept }, body });
}

describe('GraphQL over HTTP', () => {
  it('runs a query sent with GET, in the media type the client accepts', async () => {
    const response = await get('query ($id: ID!) { tour(id: $id) { id } }', { id: 'TOUR0002' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain(GRAPHQL_RESPONSE);
    expect(((await response.json()) as { data: unknown }).data).toEqual({ tour: { id: encodeGlobalId('Tour', 'TOUR0002') } });
  });

  it('answers legacy clients in application/json', async () => {
    const response = await post(JSON.stringify({ query: '{ ping }' }), 'application/json', 'application/json');
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toEqual({ data: { ping: true } });
  });

  it('refuses a mutation sent with GET with 405 and publishes nothing', async () => {
    const response = await get('mutation { ingestEvent(input: { eventType: VIEW, userId: "U", tourId: "TOUR0001" }) { offset } }');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('POST');
  });

  it('answers malformed JSON with 400 and a GraphQL error', async () => {
    const response = await post('{"query": "{ ping }"');
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('answers a syntax error with 400 and BAD_USER_INPUT', async () => {
    const response = await post(JSON.stringify({ query: '{ tours(first: ) }' }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string; reason: string } }[] };
    expect(body.errors[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'GRAPHQL_PARSE_FAILED' });
  });

  it('answers an unknown field with 400 naming it', async () => {
    const response = await post(JSON.stringify({ query: '{ tours { edges { node { secretColumn } } } }' }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]?.message).toContain('secretColumn');
    expect(body.errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('answers a wrongly typed variable with 400', async () => {
    const response = await post(JSON.stringify({ query: 'query ($n: Int) { tours(first: $n) { totalCount } }', variables: { n: 'ten' } }));
    expect(response.status).toBe(400);
  });

  it('refuses an oversized body with 413', async () => {
    const response = await post(JSON.stringify({ query: `{ ping } # ${'x'.repeat(1_100_000)}` }));
    expect(response.status).toBe(413);
  });

  it('answers other methods with 405', async () => {
    const response = await fetch(gw.endpoint, { method: 'PUT', body: '{}' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
  });

  it('answers unknown paths with 404', async () => {
    expect((await fetch(`${gw.url}/nope`)).status).toBe(404);
  });
});

describe('response cache', () => {
  it('serves a repeated query from the cache and forgets it when new data lands', async () => {
    const query = '{ regionalStats(regions: ["KH"]) { region bookings } }';
    const first = await get(query);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const firstBody = await first.text();
    const second = await get(query);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(((await second.json()) as { data: unknown }).data).toEqual((JSON.parse(firstBody) as { data: unknown }).data);

    await gw.request('mutation ($i: EventInput!) { ingestEvent(input: $i) { offset } }', {
      i: { eventType: 'BOOKING', userId: 'USER000001', tourId: 'TOUR0020', region: 'KH', amount: 10, currency: 'USD' },
    });
    await gw.gateway.services.pipeline!.settle();
    const third = await get(query);
    expect(third.headers.get('x-cache')).toBe('MISS');
    const before = JSON.parse(firstBody) as { data: { regionalStats: { bookings: number }[] } };
    const after = (await third.json()) as typeof before;
    expect(after.data.regionalStats[0]!.bookings).toBe(before.data.regionalStats[0]!.bookings + 1);
  });

  it('never caches errors, mutations or uncacheable fields', async () => {
    await get('{ tours(first: 1000) { totalCount } }');
    expect((await get('{ tours(first: 1000) { totalCount } }')).headers.get('x-cache')).toBeNull();
    await get('{ health { status } }');
    expect((await get('{ health { status } }')).headers.get('x-cache')).toBeNull();
    await get('{ tour(id: "TOUR0001") { id } health { status } }');
    expect((await get('{ tour(id: "TOUR0001") { id } health { status } }')).headers.get('x-cache')).toBeNull();
  });

  it('keeps separate entries per accepted media type', async () => {
    const query = '{ tour(id: "TOUR0003") { id } }';
    await get(query, undefined, 'application/json');
    const other = await get(query, undefined, GRAPHQL_RESPONSE);
    expect(other.headers.get('x-cache')).toBe('MISS');
    expect(other.headers.get('content-type')).toContain(GRAPHQL_RESPONSE);
  });
});

describe('health endpoints', () => {
  it('reports each backend at /health and readiness at /ready', async () => {
    const health = await fetch(`${gw.url}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; backends: { role: string; status: string }[] };
    expect(body.status).toBe('OK');
    expect(body.backends.map((b) => b.role)).toEqual(['lakehouse', 'analytics', 'search', 'cache', 'bus']);
    const ready = await fetch(`${gw.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, status: 'OK' });
  });

  it('answers liveness at /live without asking any backend', async () => {
    const backends = gw.gateway.services.backends as { health: () => Promise<unknown> };
    const health = backends.health;
    let asked = 0;
    // A health probe that would never answer: liveness must not wait for it.
    backends.health = () => {
      asked += 1;
      return new Promise(() => undefined);
    };
    try {
      const live = await fetch(`${gw.url}/live`, { signal: AbortSignal.timeout(5_000) });
      expect(live.status).toBe(200);
      expect(live.headers.get('cache-control')).toBe('no-store');
      expect(await live.json()).toEqual({ live: true });
      expect(asked).toBe(0);
    } finally {
      backends.health = health;
    }
  });
});

describe('stampede protection', () => {
  it('executes identical concurrent cache misses once and shares the answer', async () => {
    const lakehouse = gw.gateway.services.backends.lakehouse;
    const realQuery = lakehouse.query;
    let calls = 0;
    (lakehouse as { query: typeof realQuery }).query = async (...args) => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return realQuery(...args);
    };
    try {
      // A lakehouse read (the catalogue is answered in process, without statements).
      const query = '{ event(id: "no-such-event") { id } }';
      const answers = await Promise.all(Array.from({ length: 10 }, () => get(query)));
      const bodies = await Promise.all(answers.map((a) => a.text()));
      expect(calls).toBe(1);
      expect(new Set(bodies.map((b) => JSON.stringify((JSON.parse(b) as { data: unknown }).data))).size).toBe(1);
      expect(answers.map((a) => a.headers.get('x-cache')).sort()).toEqual([...Array.from({ length: 9 }, () => 'COALESCED'), 'MISS']);
    } finally {
      (lakehouse as { query: typeof realQuery }).query = realQuery;
    }
  });

  it('never shares an answer that may not be cached', async () => {
    const answers = await Promise.all(Array.from({ length: 3 }, () => get('{ health { status } }')));
    expect(answers.map((a) => a.headers.get('x-cache'))).toEqual([null, null, null]);
  });
});

describe('cached answers and execution figures', () => {
  it('replays a cached answer without the figures of the execution that produced it', async () => {
    const query = '{ tour(id: "TOUR0013") { id } }';
    const miss = (await (await get(query)).json()) as { extensions?: { backends?: unknown } };
    expect(miss.extensions?.backends).toBeDefined();
    const hit = await get(query);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    const body = (await hit.json()) as { data: unknown; extensions?: Record<string, unknown> };
    expect(body.data).toEqual({ tour: { id: encodeGlobalId('Tour', 'TOUR0013') } });
    // What the answer reflects and how old it is stay; the execution's calls and timings do not.
    expect(Object.keys(body.extensions ?? {})).toEqual(['freshness']);
    expect(body.extensions?.['freshness']).toMatchObject({ cache: { hit: true } });
  });
});
