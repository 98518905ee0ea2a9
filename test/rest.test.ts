/**
 * The platform's REST API served by the gateway: each of the nine routes called as the platform's
 * apps call them (method, path, parameters, body), answering the same data as GraphQL in the REST
 * shape, through the same pipeline: authentication, rate limits, the response cache and error
 * codes turned into HTTP statuses. The generated OpenAPI document describes every route, and
 * every answer here is checked against its response schema.
 */
import { createHash } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.ts';
import { httpStatusOf } from '../src/http/rest/status.ts';
import { buildSchema } from '../src/schema.ts';
import { compileRestRoutes, loadRestRoutes } from '../src/http/rest/routes.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEYS = {
  /** An app key acting for USER000001 (the mobile app of that user). */
  app: 'rest-app-key-user-one-0123456789abcdef',
  /** An app key acting for no user (an application's backend). */
  service: 'rest-service-key-0123456789abcdef012345',
  analyst: 'rest-analyst-key-0123456789abcdef01234',
  /** Only the rate-limit test uses it: the admin budget is 2 a minute here. */
  admin: 'rest-admin-key-0123456789abcdef0123456',
};
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const USER = 'USER000001';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    env: {
      API_KEYS: JSON.stringify([
        { id: 'mobile-user-one', sha256: sha256(KEYS.app), role: 'app', userId: USER },
        { id: 'web-backend', sha256: sha256(KEYS.service), role: 'app' },
        { id: 'analyst-1', sha256: sha256(KEYS.analyst), role: 'analyst' },
        { id: 'ops', sha256: sha256(KEYS.admin), role: 'admin' },
      ]),
      RATE_LIMIT_PUBLIC: 'off',
      RATE_LIMIT_APP: 'off',
      RATE_LIMIT_ANALYST: 'off',
      RATE_LIMIT_ADMIN: '2/m burst 2',
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
});

interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Calls a REST route as an app would: JSON in, JSON out. */
async function call<T = any>(method: string, path: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  const response = await fetch(`${gw.url}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(options.key ? { 'x-api-key': options.key } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const answer = { status: response.status, headers: response.headers, body: (await response.json()) as T };
  checkAgainstOpenApi(method, path, answer);
  return answer;
}

/** GraphQL over HTTP with the analyst key: what REST answers must agree with. */
async function graphql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEYS.analyst },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data;
}

let openapi: any;
const ajv = new Ajv2020({ strict: false });
// ajv-formats is CommonJS; under Node's ESM loader its default export is the plugin function.
(addFormatsModule as unknown as (ajv: Ajv2020) => void)(ajv);

/** Every answer matches the response schema the OpenAPI document gives for its route and status. */
function checkAgainstOpenApi(method: string, path: string, answer: Answer): void {
  if (!openapi) return;
  const pathname = path.split('?')[0] ?? path;
  const template = Object.keys(openapi.paths).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname));
  if (!template) return;
  const operation = openapi.paths[template][method.toLowerCase()];
  if (!operation) return;
  let response = operation.responses[String(answer.status)];
  if (response?.$ref) response = openapi.components.responses[response.$ref.split('/').pop()];
  expect(response, `${method} ${template} documents status ${answer.status}`).toBeDefined();
  let schema = response.content['application/json'].schema;
  if (schema.$ref) schema = openapi.components.schemas[schema.$ref.split('/').pop()];
  const validate = ajv.compile(schema);
  expect(validate(answer.body), `${method} ${path} ${answer.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

describe('the OpenAPI document and docs page', () => {
  it('lists every route of the mapping with its parameters, as OpenAPI 3.1', async () => {
    const response = await fetch(`${gw.url}/openapi.json`);
    expect(response.status).toBe(200);
    openapi = await response.json();
    expect(openapi.openapi).toBe('3.1.0');
    const operations = Object.entries(openapi.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /api/v1/tours listTours',
        'GET /api/v1/tours/{id} getTour',
        'GET /api/v1/analytics/regional-stats regionalStats',
        'GET /api/v1/recommendations recommendations',
        'POST /api/v1/events createEvent',
        'GET /api/events listEvents',
        'GET /api/events/{id} getEvent',
        'GET /api/destinations listDestinations',
        'POST /api/search searchEvents',
      ].sort(),
    );
    const tours = openapi.paths['/api/v1/tours'].get;
    expect(tours.parameters.find((p: any) => p.name === 'region')).toMatchObject({ in: 'query', required: false, schema: { type: 'array', items: { type: 'string' } } });
    expect(tours.parameters.find((p: any) => p.name === 'limit')).toMatchObject({ in: 'query', schema: { type: 'integer' } });
    expect(openapi.paths['/api/v1/tours/{id}'].get.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true, schema: { type: 'string' } })]);
    expect(openapi.paths['/api/v1/recommendations'].get.parameters.find((p: any) => p.name === 'user_id')).toMatchObject({ required: true });
    const createEvent = openapi.paths['/api/v1/events'].post;
    expect(createEvent.requestBody.content['application/json'].schema).toMatchObject({
      required: ['event_type', 'user_id'],
      properties: { event_type: { type: 'string', enum: ['booking', 'view', 'search', 'click', 'cancel', 'review'] }, amount: { type: ['number', 'null'] } },
    });
    expect(createEvent.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]);
    expect(Object.keys(createEvent.responses)).toContain('201');
    // Every schema in it compiles as JSON Schema 2020-12, OpenAPI 3.1's dialect.
    for (const methods of Object.values(openapi.paths as Record<string, Record<string, any>>)) {
      for (const operation of Object.values(methods)) {
        for (const response of Object.values(operation.responses as Record<string, any>)) {
          if (response.content) expect(() => ajv.compile(response.content['application/json'].schema)).not.toThrow();
        }
        for (const parameter of operation.parameters) expect(() => ajv.compile(parameter.schema)).not.toThrow();
      }
    }
  });

  it('serves Swagger UI at /docs from the installed package, under a same-origin policy', async () => {
    const page = await fetch(`${gw.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(sources).toEqual(expect.arrayContaining(['/docs/swagger-ui-bundle.js', '/docs/init.js', '/docs/swagger-ui.css']));
    for (const source of sources) {
      expect(source.startsWith('/docs/'), `${source} is served by the gateway`).toBe(true);
      expect((await fetch(`${gw.url}${source}`)).status, source).toBe(200);
    }
    const init = await (await fetch(`${gw.url}/docs/init.js`)).text();
    expect(init).toContain('"url":"/openapi.json"');
    expect((await fetch(`${gw.url}/docs/missing.js`)).status).toBe(404);
  });
});

describe('tours', () => {
  it('GET /api/v1/tours?region=VN lists the region\'s tours in the REST shape', async () => {
    const { status, body } = await call('GET', '/api/v1/tours?region=VN');
    expect(status).toBe(200);
    const expected = await graphql('{ tours(filter: { regions: ["VN"] }) { totalCount edges { node { id: tourId durationDays } } } }');
    expect(body.total).toBe(expected.tours.totalCount);
    expect(body.items.map((t: any) => t.id)).toEqual(expected.tours.edges.map((e: any) => e.node.id));
    expect(body.items.length).toBeGreaterThan(0);
    for (const tour of body.items) expect(tour.region).toBe('VN');
    const [first] = body.items;
    expect(first.duration_days).toBe(expected.tours.edges[0].node.durationDays);
    expect(Object.keys(first)).toEqual(expect.arrayContaining(['id', 'name', 'price', 'currency', 'rating', 'duration_days', 'category', 'tags', 'updated_at', 'destination']));
    expect(first.destination.country_code).toBe('VN');
  });

  it('pages with limit and cursor, and takes several regions', async () => {
    const page1 = await call('GET', '/api/v1/tours?limit=2');
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.has_more).toBe(true);
    const page2 = await call('GET', `/api/v1/tours?limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`);
    expect(page2.body.items[0].id > page1.body.items[1].id).toBe(true);

    const both = await call('GET', '/api/v1/tours?region=VN,TH&limit=100');
    const repeated = await call('GET', '/api/v1/tours?region=VN&region=TH&limit=100');
    expect(new Set(both.body.items.map((t: any) => t.region))).toEqual(new Set(['VN', 'TH']));
    expect(repeated.body).toEqual(both.body);
  });

  it('GET /api/v1/tours/{id} answers the tour, 404 for an unknown id, and from the response cache when repeated', async () => {
    const list = await call('GET', '/api/v1/tours?limit=1');
    const id = list.body.items[0].id;
    const first = await call('GET', `/api/v1/tours/${encodeURIComponent(id)}`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual(list.body.items[0]);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const again = await call('GET', `/api/v1/tours/${encodeURIComponent(id)}`);
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(again.body).toEqual(first.body);

    const missing = await call('GET', '/api/v1/tours/no-such-tour');
    expect(missing).toMatchObject({ status: 404, body: { detail: 'No tour has id "no-such-tour".', code: 'NOT_FOUND' } });
  });
});

describe('analytics and recommendations', () => {
  it('GET /api/v1/analytics/regional-stats needs the analyst role: 401 anonymous, 403 for an app', async () => {
    const anonymous = await call('GET', '/api/v1/analytics/regional-stats');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('UNAUTHENTICATED');
    expect(anonymous.headers.get('www-authenticate')).toBe('ApiKey realm="nexus-gateway"');
    const app = await call('GET', '/api/v1/analytics/regional-stats', { key: KEYS.app });
    expect(app.status).toBe(403);
    expect(app.body).toMatchObject({ code: 'FORBIDDEN', detail: expect.stringContaining('analyst') });

    const { status, body } = await call('GET', '/api/v1/analytics/regional-stats', { key: KEYS.analyst });
    expect(status).toBe(200);
    const expected = await graphql('{ regionalStats { region events revenue avgAmount uniqueUsers } }');
    expect(body.items).toEqual(
      expected.regionalStats.map((r: any) => expect.objectContaining({ region: r.region, events: r.events, total_revenue: r.revenue, avg_amount: r.avgAmount, unique_users: r.uniqueUsers })),
    );
    const vn = await call('GET', '/api/v1/analytics/regional-stats?region=VN', { key: KEYS.analyst });
    expect(vn.body.items.map((r: any) => r.region)).toEqual(['VN']);
  });

  it('GET /api/v1/recommendations?user_id= answers a user\'s own recommendations, refuses another\'s', async () => {
    const { status, body } = await call('GET', `/api/v1/recommendations?user_id=${USER}`, { key: KEYS.app });
    expect(status).toBe(200);
    const expected = await graphql('query ($u: ID!) { recommendations(userId: $u) { score reason tour { id: tourId } } }', { u: USER });
    expect(body.items.map((r: any) => [r.tour.id, r.score, r.reason])).toEqual(expected.recommendations.map((r: any) => [r.tour.id, r.score, r.reason]));

    const other = await call('GET', '/api/v1/recommendations?user_id=USER000002', { key: KEYS.app });
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('FORBIDDEN');
  });

  it('a missing or malformed parameter is a 400 naming it', async () => {
    const missing = await call('GET', '/api/v1/recommendations', { key: KEYS.app });
    expect(missing).toMatchObject({ status: 400, body: { detail: 'Query parameter "user_id" is required.', code: 'BAD_USER_INPUT', loc: ['query', 'user_id'] } });
    const notInt = await call('GET', '/api/v1/tours?limit=ten');
    expect(notInt).toMatchObject({ status: 400, body: { detail: 'Query parameter "limit" must be an integer, got "ten".', loc: ['query', 'limit'] } });
    // Checked by GraphQL (the DateTime scalar, the page-size limit): still named as the REST parameter.
    const badDate = await call('GET', '/api/v1/analytics/regional-stats?from=yesterday', { key: KEYS.analyst });
    expect(badDate.status).toBe(400);
    expect(badDate.body.code).toBe('BAD_USER_INPUT');
    expect(badDate.body.detail).toMatch(/^Query parameter "from" got invalid value "yesterday"/);
    const tooMany = await call('GET', '/api/v1/tours?limit=1000');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toEqual({ detail: 'Query parameter "limit" must be an integer between 0 and 100, got 1000.', code: 'BAD_USER_INPUT' });
  });
});

describe('events', () => {
  it('POST /api/v1/events publishes the app\'s event: 201 with the receipt; the same Idempotency-Key publishes once', async () => {
    const event = { user_id: 101, event_type: 'booking', tour_id: 'T0001', amount: 999.99, currency: 'USD', region: 'VN' };
    const created = await call('POST', '/api/v1/events', { key: KEYS.service, body: event, headers: { 'idempotency-key': 'rest-booking-1' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ event_id: expect.any(String), topic: 'topic_booking_events', partition: expect.any(Number), offset: expect.any(String), duplicate: false });
    const retried = await call('POST', '/api/v1/events', { key: KEYS.service, body: event, headers: { 'idempotency-key': 'rest-booking-1' } });
    expect(retried.status).toBe(201);
    expect(retried.body).toEqual({ ...created.body, duplicate: true });

    const view = await call('POST', '/api/v1/events', { key: KEYS.app, body: { user_id: USER, event_type: 'VIEW', tour_id: 'T0001' } });
    expect(view).toMatchObject({ status: 201, body: { topic: 'topic_user_events' } });
  });

  it('POST /api/v1/events refuses what it cannot publish, with 400 or 401', async () => {
    const badType = await call('POST', '/api/v1/events', { key: KEYS.service, body: { user_id: 101, event_type: 'purchase' } });
    expect(badType).toMatchObject({
      status: 400,
      body: { detail: 'Body field "event_type" must be one of booking, view, search, click, cancel, review, got "purchase".', loc: ['body', 'event_type'] },
    });
    const unknown = await call('POST', '/api/v1/events', { key: KEYS.service, body: { user_id: 101, event_type: 'view', colour: 'red' } });
    expect(unknown).toMatchObject({ status: 400, body: { loc: ['body', 'colour'] } });
    // The booking contract wants a tour and a currency: the contract's message, as for GraphQL.
    const incomplete = await call('POST', '/api/v1/events', { key: KEYS.service, body: { user_id: 101, event_type: 'booking', amount: 999.99, region: 'VN' } });
    expect(incomplete.status).toBe(400);
    expect(incomplete.body.code).toBe('BAD_USER_INPUT');
    const notJson = await fetch(`${gw.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEYS.service }, body: '[1, 2' });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({ detail: 'The request body must be a JSON object.', code: 'BAD_USER_INPUT', loc: ['body'] });
    const anonymous = await call('POST', '/api/v1/events', { body: { user_id: 101, event_type: 'view' } });
    expect(anonymous.status).toBe(401);
  });

  it('GET /api/events lists a user\'s events newest first; GET /api/events/{id} answers one of them', async () => {
    const { status, body } = await call('GET', `/api/events?user_id=${USER}&limit=5`, { key: KEYS.app });
    expect(status).toBe(200);
    const expected = await graphql('query ($u: ID!) { events(filter: { userId: $u }, first: 5) { edges { node { id: eventId eventType occurredAt } } } }', { u: USER });
    expect(body.items.map((e: any) => e.id)).toEqual(expected.events.edges.map((e: any) => e.node.id));
    expect(body.items.length).toBeGreaterThan(0);
    const [first] = body.items;
    expect(first).toMatchObject({ user_id: USER, event_type: expected.events.edges[0].node.eventType.toLowerCase(), timestamp: expected.events.edges[0].node.occurredAt });

    const one = await call('GET', `/api/events/${encodeURIComponent(first.id)}`, { key: KEYS.app });
    expect(one).toMatchObject({ status: 200, body: first });
    const bookings = await call('GET', `/api/events?user_id=${USER}&event_type=booking&limit=100`, { key: KEYS.app });
    for (const event of bookings.body.items) expect(event.event_type).toBe('booking');

    // Another user's events: the list is refused, one event is not found (as an unknown id).
    expect((await call('GET', '/api/events?user_id=USER000002', { key: KEYS.app })).status).toBe(403);
    expect((await call('GET', '/api/events', { key: KEYS.app })).status).toBe(403);
    const others = await call('GET', '/api/events?user_id=USER000002&limit=1', { key: KEYS.analyst });
    const foreign = await call('GET', `/api/events/${encodeURIComponent(others.body.items[0].id)}`, { key: KEYS.app });
    expect(foreign).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect((await call('GET', `/api/events/${encodeURIComponent(others.body.items[0].id)}`, { key: KEYS.analyst })).status).toBe(200);
  });

  it('POST /api/search finds events by text and filters', async () => {
    const { status, body } = await call('POST', '/api/search', { key: KEYS.analyst, body: { query: 'booking', regions: ['VN'], limit: 5 } });
    expect(status).toBe(200);
    expect(body.total).toBeGreaterThan(0);
    expect(body.items.length).toBeGreaterThan(0);
    for (const event of body.items) expect(event).toMatchObject({ event_type: 'booking', region: 'VN' });
    const own = await call('POST', '/api/search', { key: KEYS.app, body: { user_id: USER, event_types: 'BOOKING' } });
    expect(own.status).toBe(200);
    for (const event of own.body.items) expect(event).toMatchObject({ user_id: USER, event_type: 'booking' });
  });
});

describe('destinations, routing and limits', () => {
  it('GET /api/destinations lists destinations, by country', async () => {
    const { status, body } = await call('GET', '/api/destinations?country=VN');
    expect(status).toBe(200);
    expect(body.items.length).toBeGreaterThan(0);
    for (const destination of body.items) expect(destination).toMatchObject({ country_code: 'VN', id: expect.any(String), name: expect.any(String) });
    const expected = await graphql('{ destinations(filter: { countryCodes: ["VN"] }) { totalCount } }');
    expect(body.total).toBe(expected.destinations.totalCount);
  });

  it('answers 404 for an unknown path under /api/ and 405 for a wrong method', async () => {
    const missing = await call('GET', '/api/v1/bookings');
    expect(missing).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const wrong = await call('DELETE', '/api/v1/tours');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
  });

  it('counts REST calls against the caller\'s rate limit: 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 3; i += 1) {
      last = await call('GET', '/api/v1/tours?limit=1', { key: KEYS.admin });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last?.body.code).toBe('RATE_LIMITED');
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('the mapping is checked at start-up', () => {
  const schema = buildSchema();
  const route = (overrides: Record<string, unknown>) => ({
    name: 'probe',
    method: 'GET',
    path: '/api/probe/{id}',
    operation: 'query Probe($id: ID!) { tour(id: $id) { id name } }',
    parameters: [{ name: 'id', in: 'path' }],
    response: { body: 'tour' },
    ...overrides,
  });
  const compile = (entry: Record<string, unknown>) => () => compileRestRoutes(schema, [entry], '', 'routes.yaml');

  it('accepts a good route and the shipped mapping', async () => {
    expect(compile(route({}))()).toHaveLength(1);
    expect(await loadRestRoutes(schema)).toHaveLength(9);
  });

  it('names the route and what is wrong', () => {
    expect(compile(route({ operation: 'query Probe($id: ID!) { tour(id: $id) { id colour } }' }))).toThrow(
      'routes.yaml: routes[0] (probe): field "operation": Cannot query field "colour" on type "Tour".',
    );
    expect(compile(route({ parameters: [{ name: 'id', in: 'path', variable: 'tourId' }] }))).toThrow('routes.yaml: routes[0] (probe): parameter "id": the operation declares no $tourId');
    expect(compile(route({ parameters: [] }))).toThrow('routes.yaml: routes[0] (probe): $id is required by the operation but no parameter sets it');
    expect(compile(route({ response: { body: 'tour.title' } }))).toThrow('routes.yaml: routes[0] (probe): field "response.body": "tour.title": the operation selects no "title" there (it has id, name)');
    expect(compile(route({ method: 'GET', operation: 'mutation Probe($id: ID!) { ingestEvent(input: { eventType: VIEW, userId: $id }) { eventId } }', response: { body: 'ingestEvent' } }))).toThrow(
      'field "method": a mutation is served by POST only',
    );
    expect(compile(route({ path: 'api/probe' }))).toThrow(/routes\[0\] \(probe\): field "path" must match pattern/);
  });
});

describe('HTTP status from extensions.code', () => {
  it('maps every code of the closed set, and NOT_FOUND', () => {
    expect(Object.fromEntries([...ERROR_CODES, 'NOT_FOUND', 'SOMETHING_ELSE'].map((code) => [code, httpStatusOf(code)]))).toEqual({
      BAD_USER_INPUT: 400,
      QUERY_TOO_COMPLEX: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      RATE_LIMITED: 429,
      INTERNAL: 500,
      SOMETHING_ELSE: 500,
      BACKEND_UNAVAILABLE: 503,
      BACKEND_TIMEOUT: 504,
    });
  });
});
