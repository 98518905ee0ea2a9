import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { loadConfig } from '../src/config.ts';
import { startTestGateway, type GraphQLBody, type TestGateway } from './helpers/gateway.ts';
import { encodeGlobalId } from '../src/global-id.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

/** Counts the statements the gateway sends to its SQL engines while `run` runs. */
async function engineCalls(target: TestGateway, run: () => Promise<void>): Promise<number> {
  const engines = [target.gateway.services.backends.lakehouse, target.gateway.services.backends.analytics];
  const originals = engines.map((engine) => engine.query);
  let calls = 0;
  for (const engine of engines) {
    const original = engine.query;
    (engine as { query: SqlEngine['query'] }).query = ((...args: Parameters<SqlEngine['query']>) => {
      calls += 1;
      return original.apply(engine, args);
    }) as SqlEngine['query'];
  }
  try {
    await run();
  } finally {
    engines.forEach((engine, i) => {
      (engine as { query: SqlEngine['query'] }).query = originals[i]!;
    });
  }
  return calls;
}

/** A refusal as the wire carries it: status 400, one QUERY_TOO_COMPLEX error with the figures. */
function expectRefusal(answer: { status: number; body: GraphQLBody<unknown> }, figures: { limit: string; measured: number; maximum: number }) {
  expect(answer.status).toBe(400);
  expect(answer.body.data).toBeUndefined();
  expect(answer.body.errors).toHaveLength(1);
  const [error] = answer.body.errors!;
  expect(error!.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', ...figures });
  expect(error!.message).toContain(String(figures.maximum));
  // Nothing executed: no per-execution figures either.
  expect((answer.body as { extensions?: unknown }).extensions).toBeUndefined();
}

/** 12 levels: tours → edges → node → destination → tours → … → id. */
const TWELVE_DEEP = `{
  tours(first: 2) { edges { node { destination { tours(first: 2) { edges { node { destination {
    tours(first: 2) { edges { node { id } } }
  } } } } } } } }
}`;

/** 100 tours, each with 100 tours of its destination: 10,000 tour nodes. */
const TEN_THOUSAND_NODES = `query ($outer: Int, $inner: Int) {
  tours(first: $outer) { edges { node { id destination { tours(first: $inner) { edges { node { id name } } } } } } }
}`;

const ORDINARY_PAGE = `{
  tours(first: 20, filter: { regions: ["VN"] }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name destination { name tours(first: 3) { edges { node { id } } } } stats { bookings } } }
  }
}`;

function aliases(count: number): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: ping`).join(' ')} }`;
}

describe('query limits over HTTP', () => {
  it('refuses a 12-level-deep query before anything executes', async () => {
    let answer: Awaited<ReturnType<TestGateway['request']>> | undefined;
    const calls = await engineCalls(gw, async () => {
      answer = await gw.request(TWELVE_DEEP);
    });
    expectRefusal(answer!, { limit: 'depth', measured: 12, maximum: 10 });
    expect(answer!.body.errors![0]!.message).toBe('The operation nests fields 12 levels deep; at most 10 are allowed.');
    expect((answer!.body.errors![0] as { locations?: unknown }).locations).toEqual([{ line: 1, column: 1 }]);
    expect(calls).toBe(0);
  });

  it('refuses 100 × 100 nested tours with the computed cost, and reads the page sizes from the variables', async () => {
    let refused: Awaited<ReturnType<TestGateway['request']>> | undefined;
    const calls = await engineCalls(gw, async () => {
      refused = await gw.request(TEN_THOUSAND_NODES, { outer: 100, inner: 100 });
    });
    // inner connection 1 + 100 × (edges 1 + node 1 + id + name) = 401; outer 1 + 100 × (1 + 1 + 1 + (1 + 401)) = 40501
    expectRefusal(refused!, { limit: 'cost', measured: 40_501, maximum: 10_000 });
    expect(refused!.body.errors![0]!.message).toContain('40501');
    expect(calls).toBe(0);

    const small = await gw.request<{ tours: { edges: unknown[] } }>(TEN_THOUSAND_NODES, { outer: 5, inner: 5 });
    expect(small.status).toBe(200);
    expect(small.body.errors).toBeUndefined();
    expect(small.body.data!.tours.edges).toHaveLength(5);
  });

  it('counts an absent `first` at the schema default', async () => {
    const inner = 'tours { edges { node { id name region price currency rating durationDays category description updatedAt tags stats { bookings revenue views conversion } } } }';
    const answer = await gw.request(`{ tours { edges { node { a: destination { ${inner} } b: destination { ${inner} } } } } }`);
    // tours(first) defaults to 20. inner: 1 + 20 × (edges 1 + node (1 + 11 + stats 5)) = 361;
    // outer: 1 + 20 × (edges 1 + node (1 + 2 × (destination 1 + 361)))
    expectRefusal(answer, { limit: 'cost', measured: 1 + 20 * (1 + (1 + 2 * (1 + 361))), maximum: 10_000 });
  });

  it('answers an ordinary nested page query', async () => {
    let answer: Awaited<ReturnType<TestGateway['request']>> | undefined;
    const calls = await engineCalls(gw, async () => {
      answer = await gw.request(ORDINARY_PAGE);
    });
    expect(answer!.status).toBe(200);
    expect(answer!.body.errors).toBeUndefined();
    const tours = (answer!.body.data as { tours: { totalCount: number; edges: { node: { destination: { tours: { edges: unknown[] } } } }[] } }).tours;
    expect(tours.totalCount).toBeGreaterThan(0);
    expect(tours.edges[0]!.node.destination.tours.edges.length).toBeGreaterThan(0);
    expect(calls).toBeGreaterThan(0);
  });

  it('refuses an alias flood and accepts the allowed number of aliases', async () => {
    expectRefusal(await gw.request(aliases(31)), { limit: 'aliases', measured: 31, maximum: 30 });
    const allowed = await gw.request(aliases(30));
    expect(allowed.status).toBe(200);
    expect(Object.keys(allowed.body.data as object)).toHaveLength(30);
  });

  it('stops parsing past the token limit', async () => {
    const answer = await gw.request(`{ ${'ping '.repeat(5_000)}}`);
    expectRefusal(answer, { limit: 'tokens', measured: 5_001, maximum: 5_000 });
    expect(answer.body.errors![0]!.message).toBe('The operation has more than 5000 tokens; at most 5000 are allowed.');
  });

  it('refuses fragments that fan out into more selections than the estimate evaluates', async () => {
    // F5 spreads F4 ten times, and so on down to F0: 100,000 `ping` selections from a short document.
    const fragments = ['fragment F0 on Query { ping }'];
    for (let level = 1; level <= 5; level += 1) fragments.push(`fragment F${level} on Query { ${`...F${level - 1} `.repeat(10)}}`);
    const answer = await gw.request(`{ ...F5 } ${fragments.join(' ')}`);
    expectRefusal(answer, { limit: 'selections', measured: 20_001, maximum: 20_000 });
  });

  it('leaves a `first` over MAX_PAGE_SIZE to the connection, which refuses it with BAD_USER_INPUT', async () => {
    const answer = await gw.request('{ tours(first: 5000) { edges { node { id } } } }');
    expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'first' });
    expect(answer.body.errors?.[0]?.message).toBe('Argument "first" must be an integer between 0 and 100, got 5000.');
  });

  it('applies to GET requests too', async () => {
    const response = await fetch(`${gw.endpoint}?${new URLSearchParams({ query: TWELVE_DEEP })}`, { headers: { accept: 'application/graphql-response+json' } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as GraphQLBody<unknown>;
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'depth', measured: 12, maximum: 10 });
  });
});

describe('limit configuration', () => {
  it('defaults to depth 10, 30 aliases, cost 10000, 5000 tokens, no batching and 1 MiB bodies', () => {
    expect(loadConfig({})).toMatchObject({ maxQueryDepth: 10, maxQueryAliases: 30, maxQueryCost: 10_000, maxQueryTokens: 5_000, maxBatchOperations: 1, maxBodyBytes: 1_048_576 });
  });

  it('names every limit that is not a positive integer', () => {
    expect(() => loadConfig({ MAX_QUERY_DEPTH: '0', MAX_QUERY_COST: '2.5', MAX_BODY_BYTES: '-1' })).toThrow(/MAX_QUERY_DEPTH[\s\S]*MAX_QUERY_COST[\s\S]*MAX_BODY_BYTES/);
  });
});

/** A raw graphql-transport-ws conversation: messages as they arrive. */
async function wsConversation(endpoint: string) {
  const socket = new WebSocket(endpoint, 'graphql-transport-ws');
  const inbox: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (data) => {
    inbox.push(JSON.parse(String(data)) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const next = async (): Promise<Record<string, unknown>> => {
    while (inbox.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
    return inbox.shift()!;
  };
  socket.send(JSON.stringify({ type: 'connection_init' }));
  expect(await next()).toEqual({ type: 'connection_ack' });
  return {
    next,
    send: (message: Record<string, unknown>) => socket.send(JSON.stringify(message)),
    close: () => socket.close(),
    /** Runs `act` and resolves with the close code the server then sends. */
    closed: (act: () => void) =>
      new Promise<number>((resolve) => {
        socket.once('close', (code) => resolve(code));
        act();
      }),
  };
}

describe('query limits over graphql-ws', () => {
  it('answers a too-deep subscription with an error message, not a stream', async () => {
    const ws = await wsConversation(gw.wsEndpoint);
    try {
      ws.send({
        id: 'deep',
        type: 'subscribe',
        payload: { query: 'subscription { eventIngested { tour { destination { tours { edges { node { destination { tours { edges { node { id } } } } } } } } } } }' },
      });
      expect(await ws.next()).toEqual({
        id: 'deep',
        type: 'error',
        payload: [
          {
            message: 'The operation nests fields 11 levels deep; at most 10 are allowed.',
            locations: [{ line: 1, column: 1 }],
            extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'depth', measured: 11, maximum: 10 },
          },
        ],
      });
      expect(gw.gateway.services.fanout.size).toBe(0);

      // The connection stays usable: a costly subscription (page sizes from its variables) is refused too …
      const wide = Array.from({ length: 9 }, (_, i) => `d${i}`).map((alias) => `${alias}: destination { tours(first: $n) { edges { node { id name region price currency rating durationDays category description updatedAt } } } }`);
      ws.send({ id: 'costly', type: 'subscribe', payload: { query: `subscription ($n: Int) { eventIngested { tour { ${wide.join(' ')} } } }`, variables: { n: 100 } } });
      const costly = await ws.next();
      expect(costly).toMatchObject({ id: 'costly', type: 'error' });
      // eventIngested 1 + (tour 1 + 9 × (destination 1 + (tours 1 + 100 × (edges 1 + node 1 + 10 fields))))
      expect((costly['payload'] as { extensions: unknown }[])[0]!.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'cost', measured: 1 + (1 + 9 * (1 + (1 + 100 * 12))), maximum: 10_000 });

      // … and a syntax error is an error message with BAD_USER_INPUT, not a closed socket.
      ws.send({ id: 'broken', type: 'subscribe', payload: { query: 'subscription { eventIngested {' } });
      const broken = await ws.next();
      expect(broken).toMatchObject({ id: 'broken', type: 'error' });
      expect((broken['payload'] as { extensions: unknown }[])[0]!.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    } finally {
      ws.close();
    }
  });

  it('still streams a subscription within the limits', async () => {
    const ws = await wsConversation(gw.wsEndpoint);
    try {
      ws.send({ id: 'ok', type: 'subscribe', payload: { query: 'subscription { eventIngested(filter: { regions: ["MV"] }) { id region tour { destination { name } } } }' } });
      while (gw.gateway.services.fanout.size === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      const ingest = await gw.request('mutation { ingestEvent(input: { eventType: VIEW, userId: "USER000321", tourId: "TOUR0001", region: "MV" }) { eventId } }');
      expect(ingest.body.errors).toBeUndefined();
      expect(await ws.next()).toMatchObject({ id: 'ok', type: 'next', payload: { data: { eventIngested: { region: 'MV' } } } });
    } finally {
      ws.close();
    }
  });
});

describe('batched requests', () => {
  function postBatch(target: TestGateway, operations: unknown[]) {
    return fetch(target.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(operations),
    });
  }

  it('refuses a JSON array by default', async () => {
    const response = await postBatch(gw, [{ query: '{ ping }' }, { query: '{ ping }' }]);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      errors: [{ message: 'Batched requests are not accepted: send one operation per request (a JSON object, not an array).', extensions: { code: 'BAD_USER_INPUT' } }],
    });
  });

  describe('with MAX_BATCH_OPERATIONS and the other limits configured', () => {
    let small: TestGateway;
    beforeAll(async () => {
      small = await startTestGateway({
        env: { MAX_BATCH_OPERATIONS: '3', MAX_QUERY_DEPTH: '3', MAX_QUERY_ALIASES: '2', MAX_QUERY_COST: '50', MAX_QUERY_TOKENS: '40', MAX_BODY_BYTES: '2048' },
      });
    });
    afterAll(async () => {
      await small?.close();
    });

    it('runs a batch within the cap, never from the response cache', async () => {
      const batch = [{ query: '{ tour(id: "TOUR0001") { id } }' }, { query: '{ tour(id: "TOUR0002") { id name } }' }];
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const response = await postBatch(small, batch);
        expect(response.status).toBe(200);
        expect(response.headers.get('x-cache')).toBeNull();
        const answers = (await response.json()) as GraphQLBody<{ tour: { id: string } }>[];
        expect(answers.map((a) => a.data?.tour.id)).toEqual([encodeGlobalId('Tour', 'TOUR0001'), encodeGlobalId('Tour', 'TOUR0002')]);
      }
    });

    it('holds each operation of a batch to the limits', async () => {
      const response = await postBatch(small, [{ query: '{ tour(id: "TOUR0001") { id } }' }, { query: '{ tour(id: "TOUR0002") { destination { tours { totalCount } } } }' }]);
      const answers = (await response.json()) as GraphQLBody<unknown>[];
      expect(answers).toHaveLength(2);
      expect(answers[0]!.data).toEqual({ tour: { id: encodeGlobalId('Tour', 'TOUR0001') } });
      expect(answers[1]!.errors?.[0]?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'depth', measured: 4, maximum: 3 });
    });

    it('refuses a batch over the cap before running any of it', async () => {
      let response: Response | undefined;
      const calls = await engineCalls(small, async () => {
        response = await postBatch(small, Array.from({ length: 4 }, (_, i) => ({ query: `{ tour(id: "TOUR000${i + 1}") { id } }` })));
      });
      expect(response!.status).toBe(400);
      const body = (await response!.json()) as GraphQLBody<unknown>;
      expect(body.errors?.[0]).toEqual({ message: 'The batch holds 4 operations; at most 3 are accepted per request.', extensions: { code: 'BAD_USER_INPUT' } });
      expect(calls).toBe(0);
      expect((await postBatch(small, [])).status).toBe(400);
    });

    it('takes every limit from the environment', async () => {
      expectRefusal(await small.request('{ a: ping b: ping c: ping }'), { limit: 'aliases', measured: 3, maximum: 2 });
      expectRefusal(await small.request('{ tourPopularity(first: 30) { rank score } }'), { limit: 'cost', measured: 1 + 30 * 2, maximum: 50 });
      expectRefusal(await small.request(`{ ${'ping '.repeat(40)}}`), { limit: 'tokens', measured: 41, maximum: 40 });
      const oversized = await fetch(small.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ ping } #${'x'.repeat(2048)}` }) });
      expect(oversized.status).toBe(413);
      expect(((await oversized.json()) as GraphQLBody<unknown>).errors?.[0]).toEqual({ message: 'The request body exceeds 2048 bytes.', extensions: { code: 'BAD_USER_INPUT' } });
    });

    it('closes a graphql-ws connection whose message is over MAX_BODY_BYTES', async () => {
      const ws = await wsConversation(small.wsEndpoint);
      const code = await ws.closed(() => ws.send({ id: 'big', type: 'subscribe', payload: { query: `subscription { pipelineRunFinished { id } } #${'x'.repeat(2048)}` } }));
      expect(code).toBe(1009);
    });
  });
});
