import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startGateway, type Gateway } from '../src/gateway.ts';
import { startTestGateway, TEST_ANCHOR, type GraphQLBody, type TestGateway } from './helpers/gateway.ts';
import { encodeGlobalId } from '../src/global-id.ts';

const KEYS = {
  /** An app key acting for USER000001 (e.g. a device of that user). */
  app: 'app-key-for-user-one-0123456789abcdef',
  /** An app key acting for no user (an application's backend). */
  service: 'service-key-0123456789abcdef0123456789',
  analyst: 'analyst-key-0123456789abcdef0123456789',
  admin: 'admin-key-0123456789abcdef0123456789ab',
};
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const API_KEYS = JSON.stringify([
  { id: 'mobile-user-one', sha256: sha256(KEYS.app), role: 'app', userId: 'USER000001' },
  { id: 'web-backend', sha256: sha256(KEYS.service), role: 'app' },
  { id: 'analyst-1', sha256: sha256(KEYS.analyst), role: 'analyst' },
  { id: 'ops', sha256: sha256(KEYS.admin), role: 'admin' },
]);
const SECRET = 'hs256-test-secret-of-at-least-32-bytes!';
const ISSUER = 'https://idp.nexus.test/';
const AUDIENCE = 'nexus-gateway';

type Headers = Record<string, string>;
const apiKey = (key: string): Headers => ({ 'x-api-key': key });
const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

/** A token as the identity provider would mint it, with overrides for the case under test. */
async function hs256(claims: JWTPayload, options: { secret?: string; issuer?: string; audience?: string; expires?: string | number | null } = {}): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(options.issuer ?? ISSUER).setAudience(options.audience ?? AUDIENCE).setIssuedAt();
  if (options.expires !== null) jwt = jwt.setExpirationTime(options.expires ?? '5m');
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

/** The identity provider's key set, served over HTTP like a real JWKS endpoint. */
interface Jwks {
  url: string;
  server: Server;
  sign(claims: JWTPayload, key?: CryptoKey): Promise<string>;
  /** A key of the same id that the key set does not hold. */
  impostor: CryptoKey;
}

async function startJwks(): Promise<Jwks> {
  const published = await generateKeyPair('ES256');
  const impostor = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(published.publicKey)), kid: 'signing-1', alg: 'ES256', use: 'sig' };
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/.well-known/jwks.json' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/.well-known/jwks.json' ? JSON.stringify({ keys: [jwk] }) : '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    server,
    impostor: impostor.privateKey,
    sign: (claims, key = published.privateKey) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'signing-1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('5m').sign(key),
  };
}

interface Answer {
  status: number;
  headers: globalThis.Headers;
  body: GraphQLBody<Record<string, unknown>>;
}

async function post(endpoint: string, query: string, headers: Headers = {}, variables?: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLBody<Record<string, unknown>> };
}

const codes = (answer: Answer) => (answer.body.errors ?? []).map((e) => ({ code: e.extensions?.['code'], path: e.path?.join('.') }));

const INGEST = 'mutation ($input: EventInput!, $key: String) { ingestEvent(input: $input, idempotencyKey: $key) { eventId duplicate } }';
const view = (userId: string) => ({ eventType: 'VIEW', userId, tourId: 'TOUR0001', region: 'VN' });
const INTROSPECTION = '{ __schema { queryType { name } } }';
const PLATFORM = '{ platform { dataSources { id } } }';
const USER = 'query ($id: ID!) { user(id: $id) { userId } }';
const LIVE = 'subscription { eventIngested(filter: { eventTypes: [CLICK] }) { id userId } }';

describe('with authentication enforced', () => {
  let gw: TestGateway;
  let jwks: Jwks;
  const ask = (query: string, headers?: Headers, variables?: Record<string, unknown>) => post(gw.endpoint, query, headers, variables);

  beforeAll(async () => {
    jwks = await startJwks();
    gw = await startTestGateway({
      env: { API_KEYS, JWT_SECRET: SECRET, JWT_JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, MEDALLION_INTERVAL_MS: '0' },
    });
  });
  afterAll(async () => {
    await gw?.close();
    jwks?.server.close();
  });

  // First, before anything is ingested: promoting new events would invalidate the answers that read them.
  describe('response cache', () => {
    it('never hands one role an answer cached for another, nor one answer to bad credentials', async () => {
      const query = '{ tour(id: "TOUR0004") { id stats { bookings } } }';
      const first = await ask(query, apiKey(KEYS.analyst));
      expect(first.headers.get('x-cache')).toBe('MISS');
      expect(first.body.data).toMatchObject({ tour: { id: encodeGlobalId('Tour', 'TOUR0004'), stats: { bookings: expect.any(Number) } } });
      expect((await ask(query, apiKey(KEYS.analyst))).headers.get('x-cache')).toBe('HIT');

      const anonymous = await ask(query);
      expect(anonymous.headers.get('x-cache')).not.toBe('HIT');
      expect(anonymous.body.data).toEqual({ tour: { id: encodeGlobalId('Tour', 'TOUR0004'), stats: null } });
      expect(codes(anonymous)).toEqual([{ code: 'UNAUTHENTICATED', path: 'tour.stats' }]);

      const app = await ask(query, apiKey(KEYS.app));
      expect(app.headers.get('x-cache')).not.toBe('HIT');
      expect(codes(app)).toEqual([{ code: 'FORBIDDEN', path: 'tour.stats' }]);

      const forged = await ask(query, apiKey(`${KEYS.analyst}x`));
      expect(forged.status).toBe(401);
      expect(forged.headers.get('x-cache')).toBeNull();
      expect(forged.body).toEqual({ errors: [{ message: 'The API key is not valid.', extensions: { code: 'UNAUTHENTICATED' } }] });
    });

    it('keeps one user’s cached answer from another user of the same role', async () => {
      const own = await ask(USER, apiKey(KEYS.app), { id: 'USER000001' });
      expect(own.body.data).toEqual({ user: { userId: 'USER000001' } });
      expect((await ask(USER, apiKey(KEYS.app), { id: 'USER000001' })).headers.get('x-cache')).toBe('HIT');

      const other = await ask(USER, bearer(await hs256({ sub: 'USER000003' })), { id: 'USER000001' });
      expect(other.headers.get('x-cache')).not.toBe('HIT');
      expect(codes(other)).toEqual([{ code: 'FORBIDDEN', path: 'user' }]);
    });
  });

  describe('anonymous callers', () => {
    it('read tours, destinations, search and health', async () => {
      const answer = await ask('{ tours(first: 2) { edges { node { id name } } } destinations(first: 1) { totalCount } searchTours(query: "cruise", first: 1) { total } health { status } }');
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data?.['tours']).toMatchObject({ edges: [{ node: { id: encodeGlobalId('Tour', 'TOUR0001') } }, { node: { id: encodeGlobalId('Tour', 'TOUR0002') } }] });
    });

    it('cannot read platform metadata, users or analytics', async () => {
      expect(codes(await ask(PLATFORM))).toEqual([{ code: 'UNAUTHENTICATED', path: 'platform' }]);
      expect(codes(await ask(USER, {}, { id: 'USER000001' }))).toEqual([{ code: 'UNAUTHENTICATED', path: 'user' }]);
      expect(codes(await ask('{ regionalStats { region } }'))).toEqual([{ code: 'UNAUTHENTICATED', path: 'regionalStats' }]);
      const message = (await ask(PLATFORM)).body.errors?.[0]?.message;
      expect(message).toContain('Query.platform requires the analyst role');
    });

    it('cannot ingest: nothing is published', async () => {
      const refused = await ask(INGEST, {}, { input: view('USER000001'), key: 'anonymous-attempt-1' });
      expect(refused.body.data).toBeNull();
      expect(codes(refused)).toEqual([{ code: 'UNAUTHENTICATED', path: 'ingestEvent' }]);
      // The same idempotency key is new to the bus: the refused call published nothing.
      const accepted = await ask(INGEST, apiKey(KEYS.app), { input: view('USER000001'), key: 'anonymous-attempt-1' });
      expect(accepted.body.data).toMatchObject({ ingestEvent: { duplicate: false } });
    });

    it('cannot introspect (401 with a challenge)', async () => {
      const answer = await ask(INTROSPECTION);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toContain('ApiKey');
      expect(codes(answer)).toEqual([{ code: 'UNAUTHENTICATED', path: undefined }]);
      expect(answer.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
      // __typename is not introspection of the schema.
      expect((await ask('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
    });
  });

  describe('API keys', () => {
    it('let an app key read its own user and ingest for it, nothing of other users', async () => {
      for (const headers of [apiKey(KEYS.app), { authorization: `ApiKey ${KEYS.app}` }]) {
        expect((await ask(USER, headers, { id: 'USER000001' })).body.data).toEqual({ user: { userId: 'USER000001' } });
      }
      expect(codes(await ask(USER, apiKey(KEYS.app), { id: 'USER000002' }))).toEqual([{ code: 'FORBIDDEN', path: 'user' }]);
      expect(codes(await ask('{ events(filter: { userId: "USER000001" }, first: 1) { edges { node { userId } } } }', apiKey(KEYS.app)))).toEqual([]);
      expect(codes(await ask('{ events(first: 1) { edges { node { userId } } } }', apiKey(KEYS.app)))).toEqual([{ code: 'FORBIDDEN', path: 'events' }]);
      expect(codes(await ask('{ recommendations(userId: "USER000002") { score } }', apiKey(KEYS.app)))).toEqual([{ code: 'FORBIDDEN', path: 'recommendations' }]);

      expect((await ask(INGEST, apiKey(KEYS.app), { input: view('USER000001') })).body.errors).toBeUndefined();
      const forged = await ask(INGEST, apiKey(KEYS.app), { input: view('USER000002') });
      expect(codes(forged)).toEqual([{ code: 'FORBIDDEN', path: 'ingestEvent' }]);
      expect(forged.body.errors?.[0]?.message).toContain('input.userId must be "USER000001", not "USER000002"');
    });

    it('keep app keys from platform metadata and introspection', async () => {
      expect(codes(await ask(PLATFORM, apiKey(KEYS.app)))).toEqual([{ code: 'FORBIDDEN', path: 'platform' }]);
      const introspection = await ask(INTROSPECTION, apiKey(KEYS.app));
      expect(introspection.status).toBe(403);
      expect(codes(introspection)).toEqual([{ code: 'FORBIDDEN', path: undefined }]);
    });

    it('let a service key (no user) ingest for any user but read no user', async () => {
      const batch = await ask('mutation ($inputs: [EventInput!]!) { ingestEvents(inputs: $inputs) { accepted } }', apiKey(KEYS.service), {
        inputs: [view('USER000007'), view('USER000008')],
      });
      expect(batch.body).toEqual({ data: { ingestEvents: { accepted: 2 } } });
      expect(codes(await ask(USER, apiKey(KEYS.service), { id: 'USER000007' }))).toEqual([{ code: 'FORBIDDEN', path: 'user' }]);
    });

    it('let analysts read everything and introspect, but not run the pipeline', async () => {
      const platform = await ask(PLATFORM, apiKey(KEYS.analyst));
      expect(platform.body.errors).toBeUndefined();
      expect((platform.body.data?.['platform'] as { dataSources: unknown[] }).dataSources.length).toBeGreaterThan(0);
      expect((await ask(USER, apiKey(KEYS.analyst), { id: 'USER000002' })).body.data).toEqual({ user: { userId: 'USER000002' } });
      expect((await ask(INTROSPECTION, apiKey(KEYS.analyst))).body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
      expect(codes(await ask('mutation { runPipeline { layer } }', apiKey(KEYS.analyst)))).toEqual([{ code: 'FORBIDDEN', path: 'runPipeline' }]);
    });

    it('let admins run the pipeline', async () => {
      const run = await ask('mutation { runPipeline { layer status } }', apiKey(KEYS.admin));
      expect(run.body.errors).toBeUndefined();
      expect((run.body.data?.['runPipeline'] as unknown[]).length).toBeGreaterThan(0);
    });

    it('answer 401 to an unknown key or to two credentials at once', async () => {
      const unknown = await ask('{ ping }', apiKey('not-a-configured-key'));
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get('www-authenticate')).toContain('ApiKey realm="nexus-gateway"');
      const both = await ask('{ ping }', { ...apiKey(KEYS.app), ...bearer('x.y.z') });
      expect(both.status).toBe(401);
      expect(both.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
      expect((await ask('{ ping }', { authorization: 'Basic dXNlcjpwYXNz' })).status).toBe(401);
    });
  });

  describe('global ids and node(id:)', () => {
    const user = (raw: string) => encodeGlobalId('User', raw);
    const NODE = 'query ($id: ID!) { node(id: $id) { __typename id ... on Event { userId amount } ... on PipelineRun { layer } ... on User { userId } } }';
    /** The global id of one event of `userId`, read as an analyst. */
    async function eventOf(userId: string): Promise<string> {
      const answer = await ask('query ($u: ID!) { events(first: 1, filter: { userId: $u }) { edges { node { id } } } }', apiKey(KEYS.analyst), { u: userId });
      return (answer.body.data?.['events'] as { edges: { node: { id: string } }[] }).edges[0]!.node.id;
    }

    it('accept the global id of the caller’s own user where a raw user id is checked, and refuse another user’s', async () => {
      expect((await ask(USER, apiKey(KEYS.app), { id: user('USER000001') })).body.data).toEqual({ user: { userId: 'USER000001' } });
      expect(codes(await ask(USER, apiKey(KEYS.app), { id: user('USER000002') }))).toEqual([{ code: 'FORBIDDEN', path: 'user' }]);
      const own = await ask('query ($u: ID!) { events(first: 1, filter: { userId: $u }) { edges { node { userId } } } }', apiKey(KEYS.app), { u: user('USER000001') });
      expect(codes(own)).toEqual([]);
      expect(codes(await ask(INGEST, apiKey(KEYS.app), { input: view(user('USER000002')) }))).toEqual([{ code: 'FORBIDDEN', path: 'ingestEvent' }]);
      // A tour's global id cannot name a user.
      const wrongType = await ask(USER, apiKey(KEYS.app), { id: encodeGlobalId('Tour', 'USER000001') });
      expect(wrongType.body.errors?.[0]).toMatchObject({
        message: `Argument "id" must be the id of a User; "${encodeGlobalId('Tour', 'USER000001')}" is the id of a Tour.`,
        extensions: { code: 'BAD_USER_INPUT' },
      });
    });

    it('apply each type’s rules through node and nodes: anonymous callers get tours, not events or pipeline runs', async () => {
      const tour = encodeGlobalId('Tour', 'TOUR0001');
      const event = await eventOf('USER000001');
      const run = encodeGlobalId('PipelineRun', 'any-run');
      expect((await ask(NODE, {}, { id: tour })).body.data).toEqual({ node: { __typename: 'Tour', id: tour } });
      for (const id of [event, run]) {
        const denied = await ask(NODE, {}, { id });
        expect(denied.body.data).toEqual({ node: null });
        expect(codes(denied)).toEqual([{ code: 'UNAUTHENTICATED', path: 'node' }]);
      }
      expect(codes(await ask(NODE, apiKey(KEYS.app), { id: run }))).toEqual([{ code: 'FORBIDDEN', path: 'node' }]);
      const mixed = await ask('query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Event { amount } } }', {}, { ids: [tour, event] });
      expect(mixed.body.data).toEqual({ nodes: [{ id: tour }, null] });
      expect(codes(mixed)).toEqual([{ code: 'UNAUTHENTICATED', path: 'nodes.1' }]);
    });

    it('give a user their own user and events through node, never another user’s', async () => {
      const own = await eventOf('USER000001');
      const other = await eventOf('USER000002');
      expect((await ask(NODE, apiKey(KEYS.app), { id: own })).body.data).toMatchObject({ node: { __typename: 'Event', id: own, userId: 'USER000001' } });
      const refused = await ask(NODE, apiKey(KEYS.app), { id: other });
      expect(refused.body.data).toEqual({ node: null });
      expect(codes(refused)).toEqual([{ code: 'FORBIDDEN', path: 'node' }]);
      expect((await ask(NODE, apiKey(KEYS.app), { id: user('USER000001') })).body.data).toEqual({ node: { __typename: 'User', id: user('USER000001'), userId: 'USER000001' } });
      expect(codes(await ask(NODE, apiKey(KEYS.app), { id: user('USER000002') }))).toEqual([{ code: 'FORBIDDEN', path: 'node' }]);
      // Refused before loading: whether another user exists is not revealed.
      expect(codes(await ask(NODE, apiKey(KEYS.app), { id: user('NO-SUCH-USER') }))).toEqual([{ code: 'FORBIDDEN', path: 'node' }]);
      expect(codes(await ask(NODE, apiKey(KEYS.service), { id: own }))).toEqual([{ code: 'FORBIDDEN', path: 'node' }]);
      expect((await ask(NODE, apiKey(KEYS.analyst), { id: other })).body.data).toMatchObject({ node: { __typename: 'Event', id: other, userId: 'USER000002' } });
    });
  });

  describe('JWT', () => {
    it('takes the role from the role claim, and app with the subject as user when there is none', async () => {
      const user = await hs256({ sub: 'USER000003' });
      expect((await ask(USER, bearer(user), { id: 'USER000003' })).body.data).toEqual({ user: { userId: 'USER000003' } });
      expect(codes(await ask(USER, bearer(user), { id: 'USER000001' }))).toEqual([{ code: 'FORBIDDEN', path: 'user' }]);
      expect(codes(await ask(PLATFORM, bearer(user)))).toEqual([{ code: 'FORBIDDEN', path: 'platform' }]);
      expect(codes(await ask(PLATFORM, bearer(await hs256({ sub: 'analyst@nexus', role: 'analyst' }))))).toEqual([]);
    });

    it.each([
      ['expired', () => hs256({ sub: 'USER000003' }, { expires: Math.floor(Date.now() / 1000) - 3600 }), /"exp" claim timestamp check failed/],
      ['for another audience', () => hs256({ sub: 'USER000003' }, { audience: 'another-service' }), /unexpected "aud" claim value/],
      ['from another issuer', () => hs256({ sub: 'USER000003' }, { issuer: 'https://evil.test/' }), /unexpected "iss" claim value/],
      ['signed with another secret', () => hs256({ sub: 'USER000003' }, { secret: 'another-secret-of-at-least-32-bytes!!!' }), /signature verification failed/],
      ['without an expiry', () => hs256({ sub: 'USER000003' }, { expires: null }), /"exp" claim/],
      ['with an unknown role', () => hs256({ sub: 'USER000003', role: 'superuser' }), /claim "role" is "superuser"/],
      ['unsigned (alg none)', async () => `${b64({ alg: 'none' })}.${b64({ sub: 'x', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: 9999999999 })}.`, /not valid/],
    ])('refuses a token %s with 401, never as public', async (_case, token, reason) => {
      const answer = await ask('{ ping }', bearer(await token()));
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="nexus-gateway", error="invalid_token"/);
      expect(answer.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
      expect(answer.body.errors?.[0]?.message).toMatch(reason);
      expect(answer.body.data).toBeUndefined();
    });

    it('verifies tokens signed by the identity provider against its JWKS', async () => {
      const analyst = await jwks.sign({ sub: 'someone@nexus', role: 'ANALYST' });
      expect(codes(await ask(PLATFORM, bearer(analyst)))).toEqual([]);
      const impostor = await ask(PLATFORM, bearer(await jwks.sign({ sub: 'someone@nexus', role: 'admin' }, jwks.impostor)));
      expect(impostor.status).toBe(401);
      expect(impostor.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
    });
  });

  describe('graphql-ws', () => {
    const clients: Client[] = [];
    afterAll(async () => {
      for (const c of clients.splice(0)) await c.dispose();
    });
    const connect = (connectionParams?: Record<string, unknown>) => {
      const c = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, ...(connectionParams ? { connectionParams } : {}) });
      clients.push(c);
      return c;
    };
    /** The first result of an operation, or the errors of an `error` message (refused before it ran). */
    const first = (c: Client, query: string) =>
      new Promise<FormattedExecutionResult<Record<string, unknown>, unknown>>((resolve, reject) => {
        const dispose = c.subscribe(
          { query },
          {
            next: (result) => (dispose(), resolve(result)),
            error: (error) => (Array.isArray(error) ? resolve({ errors: error as FormattedExecutionResult['errors'] }) : reject(error as Error)),
            complete: () => undefined,
          },
        );
      });
    const liveSubscribers = async (n: number) => {
      while (gw.gateway.services.fanout.size < n) await new Promise((resolve) => setImmediate(resolve));
    };

    it('authenticates connection_init: an analyst key or bearer token subscribes, an anonymous connection cannot', async () => {
      const byKey = first(connect({ apiKey: KEYS.analyst }), LIVE);
      // Another document, so it is a live subscription of its own to count.
      const byToken = first(connect({ authorization: `Bearer ${await hs256({ sub: 'ops@nexus', role: 'analyst' })}` }), LIVE.replace('{ id userId }', '{ userId id }'));
      await liveSubscribers(2);
      // Same document as the analysts' shared execution: it must not be let in.
      const anonymous = await first(connect(), LIVE);
      expect(anonymous.data ?? null).toBeNull();
      expect(anonymous.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toEqual([['UNAUTHENTICATED', 'eventIngested']]);

      const published = await ask(INGEST, apiKey(KEYS.service), { input: { ...view('USER000011'), eventType: 'CLICK' } });
      const eventId = (published.body.data?.['ingestEvent'] as { eventId: string }).eventId;
      for (const result of await Promise.all([byKey, byToken])) expect(result.data).toEqual({ eventIngested: { id: encodeGlobalId('Event', eventId), userId: 'USER000011' } });
    });

    it('applies the role to queries over the socket, introspection included', async () => {
      const app = connect({ 'x-api-key': KEYS.app });
      expect((await first(app, PLATFORM)).errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
      expect((await first(app, INTROSPECTION)).errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
    });

    /** Opens a raw graphql-transport-ws socket, sends `connection_init`, and reports what came back until it closed. */
    async function initialise(payload: Record<string, unknown>) {
      const socket = new WebSocket(gw.wsEndpoint, 'graphql-transport-ws');
      const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
      const messages: unknown[] = [];
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload }));
      return { ...(await closed), messages };
    }

    it.each([
      ['an unknown API key', async () => ({ apiKey: 'not-a-configured-key' })],
      ['an expired token', async () => ({ authorization: `Bearer ${await hs256({ sub: 'u' }, { expires: Math.floor(Date.now() / 1000) - 3600 })}` })],
    ])('closes a connection with %s with 4401, unacknowledged', async (_case, payload) => {
      const { code, reason, messages } = await initialise(await payload());
      expect(code).toBe(4401);
      expect(reason).toMatch(/^Unauthorized: /);
      expect(messages).toEqual([]);
    });

    it('closes a connection when its token expires', async () => {
      // Expired two seconds ago: still inside the clock tolerance, so accepted, then closed at once.
      const token = await hs256({ sub: 'ops@nexus', role: 'analyst' }, { expires: Math.floor(Date.now() / 1000) - 2 });
      const { code, reason, messages } = await initialise({ authorization: `Bearer ${token}` });
      expect(messages).toEqual([{ type: 'connection_ack' }]);
      expect({ code, reason }).toEqual({ code: 4401, reason: 'Unauthorized: the credential expired' });
    });
  });
});

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('in open mode (no credentials configured)', () => {
  let gateway: Gateway;
  let dataDir: string;
  const lines: { level: number; msg: string; authMode?: string }[] = [];
  const ask = (query: string, headers?: Headers) => post(`${gateway.url}/graphql`, query, headers);

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-gateway-open-'));
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR, MEDALLION_DEBOUNCE_MS: '5' });
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    gateway = await startGateway(config, logger);
  });
  afterAll(async () => {
    await gateway?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says so loudly on start', () => {
    const warning = lines.find((l) => l.msg.startsWith('Access is OPEN'));
    expect(warning?.level).toBe(40);
    expect(lines.find((l) => l.msg.startsWith('Nexus Gateway ready'))).toMatchObject({ authMode: 'open', msg: expect.stringContaining('OPEN access') });
  });

  it('lets every caller do everything, credentials or not', async () => {
    expect(codes(await ask(PLATFORM))).toEqual([]);
    expect((await ask(INTROSPECTION)).body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    expect(codes(await ask('{ tour(id: "TOUR0001") { stats { bookings } } }'))).toEqual([]);
    expect(codes(await post(`${gateway.url}/graphql`, INGEST, {}, { input: view('USER000004') }))).toEqual([]);
    expect(codes(await ask(PLATFORM, apiKey('anything')))).toEqual([]);
  });
});

describe('auth configuration', () => {
  const base = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };

  it('enforces when any credential is configured, or when asked to', () => {
    expect(loadConfig({}).auth.mode).toBe('open');
    expect(loadConfig({ API_KEYS: '[]' }).auth.mode).toBe('enforce');
    expect(loadConfig({ JWT_SECRET: SECRET, ...base }).auth.mode).toBe('enforce');
    expect(loadConfig({ AUTH_MODE: 'enforce' }).auth).toEqual({ mode: 'enforce', apiKeys: [], jwt: undefined });
    expect(loadConfig({ AUTH_MODE: 'open', API_KEYS }).auth.mode).toBe('open');
  });

  it('reads API keys from API_KEYS or from a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nexus-keys-'));
    try {
      const file = path.join(dir, 'keys.json');
      writeFileSync(file, API_KEYS);
      const fromFile = loadConfig({ API_KEYS_FILE: file }).auth.apiKeys;
      expect(fromFile).toEqual(loadConfig({ API_KEYS }).auth.apiKeys);
      expect(fromFile[0]).toEqual({ id: 'mobile-user-one', sha256: sha256(KEYS.app), role: 'app', userId: 'USER000001' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every bad entry and setting in one error', () => {
    const bad = JSON.stringify([
      { id: 'ok', sha256: sha256('a'), role: 'app' },
      { id: 'ok', sha256: 'abc', role: 'root', key: 'plain' },
    ]);
    let error: unknown;
    try {
      loadConfig({ API_KEYS: bad, JWT_SECRET: 'short', JWT_AUDIENCE: AUDIENCE });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const part of ['API_KEYS[1]: unknown field(s) key', 'API_KEYS[1].id: "ok" is used twice', 'API_KEYS[1].sha256', 'API_KEYS[1].role', 'JWT_SECRET: must be at least 32 bytes', 'JWT_ISSUER: required']) {
      expect(message).toContain(part);
    }
    expect(() => loadConfig({ API_KEYS: 'not json' })).toThrow(/API_KEYS: not valid JSON/);
    expect(() => loadConfig({ JWT_ISSUER: ISSUER })).toThrow(/JWT_ISSUER: set, but neither JWT_SECRET nor JWT_JWKS_URL/);
  });

  it('prints the entry to configure for a key (hash-key CLI)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['src/security/hash-key.ts', 'my-secret-key', '--id', 'partner', '--role', 'analyst']);
    expect(JSON.parse(stdout)).toEqual({ id: 'partner', sha256: sha256('my-secret-key'), role: 'analyst' });
    expect(loadConfig({ API_KEYS: `[${stdout.trim()}]` }).auth.apiKeys).toHaveLength(1);
  });
});
