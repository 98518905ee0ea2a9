import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/security/hash-key.ts';
import { buildManifest, parseManifest, sha256Hex, type PersistedQueryManifest } from '../src/security/persisted-manifest.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { describeWithPeer } from './helpers/peers.ts';
import { startRedis, type RedisPeer } from './helpers/redis-server.ts';
import { encodeGlobalId } from '../src/global-id.ts';

interface Answer {
  status: number;
  cache: string | null;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

async function answer(response: Response): Promise<Answer> {
  return { status: response.status, cache: response.headers.get('x-cache'), body: (await response.json()) as Answer['body'] };
}

/** GET /graphql with the given parameters (objects are sent as JSON, as GraphQL over HTTP says). */
async function get(gw: TestGateway, params: { query?: string; variables?: unknown; extensions?: unknown }, apiKey?: string): Promise<Answer> {
  const search = new URLSearchParams();
  if (params.query !== undefined) search.set('query', params.query);
  if (params.variables !== undefined) search.set('variables', JSON.stringify(params.variables));
  if (params.extensions !== undefined) search.set('extensions', JSON.stringify(params.extensions));
  return answer(await fetch(`${gw.endpoint}?${search}`, { headers: { accept: 'application/json', ...(apiKey ? { 'x-api-key': apiKey } : {}) } }));
}

async function post(gw: TestGateway, body: unknown, apiKey?: string): Promise<Answer> {
  return answer(
    await fetch(gw.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(apiKey ? { 'x-api-key': apiKey } : {}) },
      body: JSON.stringify(body),
    }),
  );
}

describe('automatic persisted queries', () => {
  let gw: TestGateway;
  let dir: string;
  // A manifest without allow-list mode: its operations run by hash with nothing registered.
  const shipped = buildManifest([{ name: 'app.graphql', text: 'query ShippedPing { ping }' }]).operations[0]!;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nexus-apq-'));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [shipped] }));
    gw = await startTestGateway({ env: { PERSISTED_QUERIES_FILE: path.join(dir, 'manifest.json') } });
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const QUERY = 'query TourName($id: ID!) { tour(id: $id) { id name } }';
  const HASH = sha256Hex(QUERY);
  const variables = { id: 'TOUR0006' };

  it('asks for the text of an unknown hash, and never caches that answer', async () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const missing = await get(gw, { extensions: persisted(HASH), variables });
      // Apollo's protocol code, kept as is: APQ clients react to it by sending the text.
      expect(missing).toEqual({
        status: 200,
        cache: null,
        body: { errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] },
      });
    }
  });

  it('registers a text sent with its hash; then the hash alone runs as a GET, served from the response cache the second time', async () => {
    const registered = await get(gw, { query: QUERY, extensions: persisted(HASH), variables });
    expect(registered.status).toBe(200);
    expect(registered.body.data).toEqual({ tour: { id: encodeGlobalId('Tour', 'TOUR0006'), name: expect.any(String) } });

    const first = await get(gw, { extensions: persisted(HASH), variables });
    expect(first.status).toBe(200);
    expect(first.cache).toBe('MISS');
    expect(first.body.data).toEqual(registered.body.data);
    const second = await get(gw, { extensions: persisted(HASH), variables });
    expect(second).toMatchObject({ status: 200, cache: 'HIT', body: { data: registered.body.data } });
    // POST carries the hash alone too.
    expect((await post(gw, { extensions: persisted(HASH), variables })).body.data).toEqual(registered.body.data);
  });

  it('runs the hash of a manifest operation without registration, and anything else as usual', async () => {
    expect(await get(gw, { extensions: persisted(shipped.id) })).toMatchObject({ status: 200, body: { data: { ping: true } } });
    expect((await post(gw, { query: '{ destinations(first: 1) { totalCount } }' })).status).toBe(200);
  });

  it('answers a hash that does not match its text with 400 BAD_USER_INPUT', async () => {
    const wrong = await get(gw, { query: QUERY, extensions: persisted('0'.repeat(64)), variables });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors?.[0]).toMatchObject({ message: 'provided sha does not match query', extensions: { code: 'BAD_USER_INPUT', reason: 'BAD_REQUEST' } });
  });
});

describeWithPeer('automatic persisted queries shared through Redis', 'redis-server', 'redis-server', () => {
  let redis: RedisPeer;
  let first: TestGateway;
  let second: TestGateway;
  beforeAll(async () => {
    redis = await startRedis();
    [first, second] = await Promise.all([startTestGateway({ env: { REDIS_URL: redis.url } }), startTestGateway({ env: { REDIS_URL: redis.url } })]);
  }, 120_000);
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await redis?.stop();
  });

  it('runs on one instance a hash registered on another', async () => {
    const query = 'query DestinationName($id: ID!) { destination(id: $id) { id name } }';
    const hash = sha256Hex(query);
    const variables = { id: 'DEST003' };
    expect((await get(second, { extensions: persisted(hash), variables })).body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_FOUND');
    const registered = await post(first, { query, extensions: persisted(hash), variables });
    expect(registered.body.data).toEqual({ destination: { id: encodeGlobalId('Destination', 'DEST003'), name: expect.any(String) } });
    // Apollo stores the registration without waiting for it; poll the other instance until it is there.
    let fromSecond = await get(second, { extensions: persisted(hash), variables });
    for (let attempt = 0; fromSecond.body.errors && attempt < 50; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      fromSecond = await get(second, { extensions: persisted(hash), variables });
    }
    expect(fromSecond.body.errors).toBeUndefined();
    expect(fromSecond.body.data).toEqual(registered.body.data);
  });
});

describe('persisted-query manifest builder', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nexus-manifest-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function build(...args: string[]) {
    return spawnSync(process.execPath, ['src/security/persisted-manifest.ts', ...args], { encoding: 'utf8' });
  }

  it('prints every named operation with the fragments it uses, hashed, in Apollo’s manifest format', () => {
    writeFileSync(path.join(dir, 'fragments.graphql'), 'fragment TourCard on Tour { id name price }\n');
    writeFileSync(path.join(dir, 'tours.gql'), 'query TourById($id: ID!) { tour(id: $id) { ...TourCard } }\nquery Ping { ping }\n');
    const run = build(dir);
    expect(run.stderr).toContain('2 operations from 2 files');
    expect(run.status).toBe(0);
    const manifest = parseManifest(JSON.parse(run.stdout), 'stdout');
    expect(manifest.operations.map((op) => [op.name, op.type])).toEqual([
      ['Ping', 'query'],
      ['TourById', 'query'],
    ]);
    const tourById = manifest.operations[1]!;
    expect(tourById.body).toContain('fragment TourCard on Tour');
    expect(tourById.id).toBe(sha256Hex(tourById.body));
    expect(manifest.operations[0]?.body).not.toContain('fragment');
  });

  it('refuses operations that do not validate against the schema, naming file and operation', () => {
    const bad = path.join(dir, 'bad.graphql');
    writeFileSync(bad, 'query Broken { tour(id: "TOUR0001") { secretColumn } }\n');
    const run = build(bad);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`${bad}: operation Broken: Cannot query field "secretColumn"`);
  });

  it('refuses a manifest whose id is not the hash of its body', () => {
    const manifest = { format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: sha256Hex('{ ping }'), name: 'Ping', type: 'query', body: '{ ping }\n' }] };
    expect(() => parseManifest(manifest, 'manifest.json')).toThrow(/operations\[0\]\.id: is not the SHA-256 of its body \(Ping\)/);
  });
});

describe('allow-list mode', () => {
  const APP_KEY = 'allow-list-test-app-key-00001';
  const ANALYST_KEY = 'allow-list-test-analyst-key-01';
  const ADMIN_KEY = 'allow-list-test-admin-key-0001';
  let dir: string;
  let manifest: PersistedQueryManifest;
  let gw: TestGateway;
  const byName = (name: string) => {
    const op = manifest.operations.find((o) => o.name === name);
    if (!op) throw new Error(`${name} not in the manifest`);
    return op;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nexus-allow-list-'));
    writeFileSync(
      path.join(dir, 'app.graphql'),
      [
        'fragment TourCard on Tour { id name price }',
        'query TourById($id: ID!) { tour(id: $id) { ...TourCard } }',
        'subscription LiveBookings { eventIngested(filter: { eventTypes: [BOOKING] }) { id eventType tourId } }',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, ['src/security/persisted-manifest.ts', dir], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(run.stderr);
    writeFileSync(path.join(dir, 'manifest.json'), run.stdout);
    manifest = parseManifest(JSON.parse(run.stdout), 'manifest');
    gw = await startTestGateway({
      env: {
        AUTH_MODE: 'enforce',
        API_KEYS: JSON.stringify([
          { id: 'mobile-app', sha256: hashApiKey(APP_KEY), role: 'app' },
          { id: 'analyst', sha256: hashApiKey(ANALYST_KEY), role: 'analyst' },
          { id: 'operator', sha256: hashApiKey(ADMIN_KEY), role: 'admin' },
        ]),
        PERSISTED_QUERIES_MODE: 'allow-list',
        PERSISTED_QUERIES_FILE: path.join(dir, 'manifest.json'),
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const notListed = (result: Answer) => {
    expect(result.status).toBe(403);
    expect(result.body.data).toBeUndefined();
    expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'PERSISTED_QUERY_NOT_IN_ALLOW_LIST' });
  };

  it('runs a listed operation sent as its hash alone, with nothing registered before', async () => {
    const request = { extensions: persisted(byName('TourById').id), variables: { id: 'TOUR0007' } };
    const first = await get(gw, request, APP_KEY);
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({ tour: { id: encodeGlobalId('Tour', 'TOUR0007'), name: expect.any(String), price: expect.any(Number) } });
    expect((await get(gw, request, APP_KEY)).cache).toBe('HIT');
  });

  it('runs a listed operation sent as its text', async () => {
    const result = await post(gw, { query: byName('TourById').body, variables: { id: 'TOUR0008' } }, APP_KEY);
    expect(result.body.data).toEqual({ tour: { id: encodeGlobalId('Tour', 'TOUR0008'), name: expect.any(String), price: expect.any(Number) } });
  });

  it('refuses an unlisted text before executing it', async () => {
    const mutation = `mutation { ingestEvent(input: { eventType: BOOKING, userId: "USER000001", tourId: "TOUR0001", region: "VN", amount: 250, currency: "USD" },
      idempotencyKey: "allow-list-refused-1") { duplicate } }`;
    notListed(await post(gw, { query: mutation }, APP_KEY));
    // Had it run, this would be a duplicate of it.
    expect((await post(gw, { query: mutation }, ADMIN_KEY)).body).toEqual({ data: { ingestEvent: { duplicate: false } } });
  });

  it('refuses an unlisted hash outright, and a listed hash sent with another text', async () => {
    notListed(await get(gw, { extensions: persisted(sha256Hex('{ ping }')) }, APP_KEY));
    // The text is what would run, so its own hash is what must be listed.
    notListed(await post(gw, { query: '{ tour(id: "TOUR0001") { id name price description } }', extensions: persisted(byName('TourById').id) }, APP_KEY));
  });

  it('lets analysts and admins run anything, and never hands their answers to others', async () => {
    const query = '{ destinations(first: 1) { totalCount } }';
    for (const key of [ANALYST_KEY, ADMIN_KEY]) expect((await get(gw, { query }, key)).body.data).toEqual({ destinations: { totalCount: expect.any(Number) } });
    notListed(await get(gw, { query }, APP_KEY));
    // Registered through APQ by an analyst, the hash stays unlisted for the app.
    const hash = sha256Hex(query);
    expect((await post(gw, { query, extensions: persisted(hash) }, ANALYST_KEY)).status).toBe(200);
    notListed(await post(gw, { extensions: persisted(hash) }, APP_KEY));
  });

  it('holds graphql-ws operations to the list too', async () => {
    const client: Client = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { apiKey: APP_KEY } });
    const run = async (payload: { query: string; variables?: Record<string, unknown> }) => {
      try {
        for await (const result of client.iterate(payload)) return result;
        return undefined;
      } catch (errors) {
        return { errors: errors as { extensions?: Record<string, unknown> }[] };
      }
    };
    try {
      const refused = await run({ query: 'subscription { eventIngested { id } }' });
      expect(refused?.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'PERSISTED_QUERY_NOT_IN_ALLOW_LIST' });
      expect((await run({ query: '{ ping }' }))?.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
      const listed = await run({ query: byName('TourById').body, variables: { id: 'TOUR0010' } });
      expect(listed).toEqual({
        data: { tour: { id: encodeGlobalId('Tour', 'TOUR0010'), name: expect.any(String), price: expect.any(Number) } },
        extensions: { freshness: expect.any(Object) },
      });
    } finally {
      await client.dispose();
    }
  });
});
