import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { assertCompositionSuccess, composeServices } from '@theguild/federation-composition';
import { buildASTSchema, execute, isObjectType, parse, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { createHandler } from 'graphql-http/lib/use/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { buildSubgraph } from '../src/federation/subgraph.ts';
import { encodeGlobalId, type NodeType } from '../src/global-id.ts';
import { createRequestContext } from '../src/request-context.ts';
import { buildSchema } from '../src/schema.ts';
import { authRuleOf } from '../src/security/auth-directive.ts';
import type { Principal } from '../src/security/principal.ts';
import { startTestGateway, type GraphQLBody, type TestGateway } from './helpers/gateway.ts';

const KEYS = { analyst: 'analyst-key-0123456789abcdef0123456789', public: 'public-key-0123456789abcdef0123456789a' };
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

const subgraph = buildSubgraph();
let nexus: TestGateway;
/** Demo ids read from the gateway: events of two users, a pipeline run, a data source. */
let ids: { events: { id: string; userId: string }[]; run: string; source: string };

beforeAll(async () => {
  nexus = await startTestGateway({
    env: {
      FEDERATION: 'true',
      // Batching alone: the shared row cache would turn repeated lookups into hits.
      LOADER_CACHE_TTL_MS: '0',
      RATE_LIMITS: 'off',
      API_KEYS: JSON.stringify([
        { id: 'analyst-1', sha256: sha256(KEYS.analyst), role: 'analyst' },
        { id: 'kiosk', sha256: sha256(KEYS.public), role: 'public' },
      ]),
    },
  });
  const data = await run(
    `{ events(first: 50) { edges { node { id: eventId userId } } } platform { pipelineRuns(first: 1) { id: runId } dataSources { id: sourceId } } }`,
    {},
    analyst,
  );
  expect(data.errors).toBeUndefined();
  const result = data.data as {
    events: { edges: { node: { id: string; userId: string } }[] };
    platform: { pipelineRuns: { id: string }[]; dataSources: { id: string }[] };
  };
  const events = result.events.edges.map((e) => e.node);
  const other = events.find((e) => e.userId !== events[0]!.userId)!;
  ids = { events: [events[0]!, other], run: result.platform.pipelineRuns[0]!.id, source: result.platform.dataSources[0]!.id };
}, 60_000);
afterAll(async () => {
  await nexus?.close();
});

const analyst: Principal = { kind: 'apiKey', id: 'analyst-1', role: 'analyst', userId: null };
const kiosk: Principal = { kind: 'apiKey', id: 'kiosk', role: 'public', userId: null };
const appFor = (userId: string): Principal => ({ kind: 'apiKey', id: `app-${userId}`, role: 'app', userId });

/** Runs an operation on the subgraph schema in-process, as `principal`, with a fresh request context. */
async function run(query: string, variables: Record<string, unknown>, principal: Principal) {
  const context = createRequestContext(nexus.gateway.services, undefined, principal);
  const result = await execute({ schema: subgraph.schema, document: parse(query), variableValues: variables, contextValue: context });
  return { data: result.data, errors: result.errors?.map((e) => ({ message: e.message, path: e.path, code: e.extensions['code'] })), calls: context.calls };
}

/** POSTs an operation to the Nexus gateway over HTTP, with an API key when given. */
async function post<T>(query: string, variables: Record<string, unknown>, key?: string) {
  const response = await fetch(nexus.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLBody<T> };
}

const ENTITIES = `query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Tour { id name destination { name } }
    ... on Destination { id name }
    ... on User { id profile { totalBookings } }
    ... on Event { id userId eventType }
    ... on DataSource { id topic }
    ... on PipelineRun { id layer }
  }
}`;
/** An entity's key as the router sends it: the type's `id`, a global id. */
const gid = (typeName: string, raw: string) => encodeGlobalId(typeName as NodeType, raw);
/** Representations of entities by raw key. */
const refs = (typeName: string, ...keys: string[]) => keys.map((raw) => ({ __typename: typeName, id: gid(typeName, raw) }));

describe('the subgraph schema', () => {
  it('prints a federation v2 SDL with a key on each entity and without the gateway’s own directives (update on purpose with --update)', async () => {
    expect(subgraph.sdl).toMatch(/^extend schema @link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.3", import: \["@key", "@shareable"\]\)/);
    for (const type of ['Tour', 'Destination', 'User', 'Event', 'DataSource', 'PipelineRun']) {
      expect(subgraph.sdl).toMatch(new RegExp(`^type ${type} implements Node @key\\(fields: "id"\\) \\{`, 'm'));
    }
    expect(subgraph.sdl).not.toMatch(/@auth|@cached|enum Role /);
    await expect(subgraph.sdl).toMatchFileSnapshot('./__snapshots__/subgraph.graphql');
  });

  it('composes with another Relay-style subgraph that defines PageInfo too', () => {
    const composed = composeServices([
      { name: 'nexus', typeDefs: parse(subgraph.sdl) },
      {
        name: 'bookings',
        typeDefs: parse(`
          extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@shareable"])
          type PageInfo @shareable { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
          type Query { partnerBookings(first: Int): PageInfo }
        `),
      },
    ]);
    expect(composed.errors).toBeUndefined();
  });

  it('is off by default: the public schema has no federation fields', () => {
    expect(loadConfig({}).federation).toBe(false);
    const fields = Object.keys(buildSchema().getQueryType()!.getFields());
    expect(fields.filter((f) => f.startsWith('_'))).toEqual([]);
  });

  it('gives every field an @auth rule, federation’s own included', () => {
    const { schema } = subgraph;
    const uncovered = Object.values(schema.getTypeMap())
      .filter((type): type is GraphQLObjectType => isObjectType(type) && !type.name.startsWith('__'))
      .flatMap((type) => Object.keys(type.getFields()).filter((field) => authRuleOf(schema, type, field) === undefined).map((field) => `${type.name}.${field}`));
    expect(uncovered).toEqual([]);
    const query = schema.getQueryType()!;
    expect(authRuleOf(schema, query, '_entities')?.requires).toBe('public');
    expect(authRuleOf(schema, query, '_service')?.requires).toBe('analyst');
  });

  it('answers `_service { sdl }` at the wire to analysts, and refuses it to public callers', async () => {
    const query = '{ _service { sdl } }';
    expect((await post<{ _service: { sdl: string } }>(query, {}, KEYS.analyst)).body.data?._service.sdl).toBe(subgraph.sdl);
    const { body: refused } = await post(query, {}, KEYS.public);
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(refused.errors?.[0]?.message).toBe('Query._service requires the analyst role; this request has the public role.');
  });
});

describe('_entities', () => {
  it('resolves 30 tours with their destinations in one statement per level, like a list does', async () => {
    const tours = Array.from({ length: 30 }, (_, i) => `TOUR${String(i + 1).padStart(4, '0')}`);
    const { data, errors, calls } = await run(ENTITIES, { representations: [...refs('Tour', ...tours), ...refs('Tour', 'TOUR9999')] }, kiosk);
    expect(errors).toBeUndefined();
    const entities = (data as { _entities: ({ id: string; name: string; destination: { name: string } } | null)[] })._entities;
    expect(entities.slice(0, 30).map((t) => t?.id)).toEqual(tours.map((t) => gid('Tour', t)));
    expect(entities[0]?.name).toEqual(expect.any(String));
    expect(entities[0]?.destination.name).toEqual(expect.any(String));
    // An unknown key is null, as `tour(id:)` is.
    expect(entities[30]).toBeNull();
    // The tours, then their destinations.
    expect(calls.count('lakehouse')).toBe(2);
    expect(calls.count()).toBe(2);
  });

  it('reads every entity type, each in one backend call at most', async () => {
    const representations = [
      ...refs('Destination', 'DEST001', 'DEST002'),
      ...refs('User', ids.events[0]!.userId, ids.events[1]!.userId),
      ...refs('Event', ids.events[0]!.id, ids.events[1]!.id),
      ...refs('DataSource', ids.source),
      ...refs('PipelineRun', ids.run),
    ];
    const { data, errors, calls } = await run(ENTITIES, { representations }, analyst);
    expect(errors).toBeUndefined();
    const entities = (data as { _entities: { __typename: string; id: string }[] })._entities;
    expect(entities.map((e) => [e.__typename, e.id])).toEqual(representations.map((r) => [r.__typename, r.id]));
    // Destinations, user existence, user profiles, events, pipeline runs; data sources are in memory.
    expect(calls.count()).toBe(5);
  });

  it('refuses Event and PipelineRun entities to a public caller with FORBIDDEN and reads nothing for them', async () => {
    const { data, errors, calls } = await run(ENTITIES, { representations: [...refs('Event', ids.events[0]!.id), ...refs('PipelineRun', ids.run), ...refs('Tour', 'TOUR0001')] }, kiosk);
    expect((data as { _entities: unknown[] })._entities).toEqual([null, null, expect.objectContaining({ __typename: 'Tour', id: gid('Tour', 'TOUR0001') })]);
    expect(errors).toEqual([
      { message: '_entities(Event) requires the app role; this request has the public role.', path: ['_entities', 0], code: 'FORBIDDEN' },
      { message: '_entities(PipelineRun) requires the analyst role; this request has the public role.', path: ['_entities', 1], code: 'FORBIDDEN' },
    ]);
    // Only the tour (and its destination) were read.
    expect(calls.count()).toBe(2);
  });

  it('keeps field rules on what `_entities` returns: a public caller gets a tour but not its analytics', async () => {
    const { data, errors } = await run(`{ _entities(representations: [{ __typename: "Tour", id: "TOUR0001" }]) { ... on Tour { name stats { bookings } } } }`, {}, kiosk);
    expect(data).toEqual({ _entities: [{ name: expect.any(String), stats: null }] });
    expect(errors).toEqual([{ message: 'Tour.stats requires the analyst role; this request has the public role.', path: ['_entities', 0, 'stats'], code: 'FORBIDDEN' }]);
  });

  it('serves an app only its own user and its own user’s events, as `user(id:)` and `events` do', async () => {
    const [own, others] = ids.events as [{ id: string; userId: string }, { id: string; userId: string }];
    const { data, errors } = await run(
      ENTITIES,
      { representations: [...refs('User', own.userId, others.userId), ...refs('Event', own.id, others.id)] },
      appFor(own.userId),
    );
    const entities = (data as { _entities: ({ id: string } | null)[] })._entities;
    expect(entities.map((e) => e?.id ?? null)).toEqual([gid('User', own.userId), null, gid('Event', own.id), null]);
    expect(errors).toEqual([
      {
        message: `_entities(User) serves only your own user's data: id must be "${own.userId}", not "${others.userId}".`,
        path: ['_entities', 1],
        code: 'FORBIDDEN',
      },
      {
        message: `_entities(Event) serves only your own user's data: filter.userId must be "${own.userId}", not "${others.userId}".`,
        path: ['_entities', 3],
        code: 'FORBIDDEN',
      },
    ]);
  });

  it('counts the selection once per representation against MAX_QUERY_COST', async () => {
    const query = `query ($representations: [_Any!]!) {
      _entities(representations: $representations) { ... on Tour { name destination { tours(first: 10) { edges { node { id } } } } } }
    }`;
    const tours = (n: number) => refs('Tour', ...Array.from({ length: n }, (_, i) => `TOUR${String(i + 1).padStart(4, '0')}`));
    // Per tour: name 1, destination 1 + tours (1 + 10 × (edges, node, id)) = 33; 1 for `_entities`.
    const refused = await post(query, { representations: tours(400) }, KEYS.analyst);
    expect(refused.status).toBe(400);
    expect(refused.body.errors?.[0]?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'cost', measured: 1 + 400 * 33, maximum: 10_000 });
    const allowed = await post<{ _entities: unknown[] }>(query, { representations: tours(20) }, KEYS.analyst);
    expect(allowed.body.errors).toBeUndefined();
    expect(allowed.body.data?._entities).toHaveLength(20);
  });

  it('refuses a representation without a string id with BAD_USER_INPUT', async () => {
    const { errors } = await run(ENTITIES, { representations: [{ __typename: 'Tour', tourId: 'TOUR0001' }] }, analyst);
    expect(errors).toEqual([
      { message: 'A Tour representation needs its key "id" as a non-empty string; it has none.', path: ['_entities', 0], code: 'BAD_USER_INPUT' },
    ]);
  });
});

/** A second subgraph, as another team would run it: reviews of tours, keyed by the tour's id. */
const REVIEWS = [
  { id: 'R1', tourId: gid('Tour', 'TOUR0001'), rating: 5, text: 'Unforgettable' },
  { id: 'R2', tourId: gid('Tour', 'TOUR0001'), rating: 4, text: 'Good value' },
  { id: 'R3', tourId: gid('Tour', 'TOUR0002'), rating: 3, text: 'Rainy' },
];
const reviewsSchema = buildSubgraphSchema({
  typeDefs: parse(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
    type Tour @key(fields: "id") { id: ID! reviews: [Review!]! }
    type Review { id: ID! rating: Int! text: String! tour: Tour! }
    type Query { latestReviews: [Review!]! }
  `),
  resolvers: {
    Query: { latestReviews: () => REVIEWS },
    Review: { tour: (review: { tourId: string }) => ({ __typename: 'Tour', id: review.tourId }) },
    Tour: {
      __resolveReference: (tour: { id: string }) => ({ id: tour.id }),
      reviews: (tour: { id: string }) => REVIEWS.filter((r) => r.tourId === tour.id),
    },
  } as never,
});

describe('in a supergraph with a second subgraph, through Hive Gateway', () => {
  let reviews: Server;
  let gateway: GatewayRuntime;
  /** Runs an operation through the supergraph gateway, with an API key when given. */
  const viaGateway = async <T>(query: string, key?: string) => {
    const response = await gateway.fetch('http://gateway.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(key ? { 'x-api-key': key } : {}) },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as GraphQLBody<T>;
  };

  beforeAll(async () => {
    reviews = createServer(createHandler({ schema: reviewsSchema }));
    await new Promise<void>((resolve) => reviews.listen(0, '127.0.0.1', resolve));
    const reviewsUrl = `http://127.0.0.1:${(reviews.address() as AddressInfo).port}/graphql`;
    // Each subgraph's SDL as composition tools read it: `_service { sdl }`.
    const sdlOf = async (url: string, headers: Record<string, string> = {}) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ _service { sdl } }' }) });
      return ((await response.json()) as { data: { _service: { sdl: string } } }).data._service.sdl;
    };
    const composed = composeServices([
      { name: 'nexus', url: nexus.endpoint, typeDefs: parse(await sdlOf(nexus.endpoint, { 'x-api-key': KEYS.analyst })) },
      { name: 'reviews', url: reviewsUrl, typeDefs: parse(await sdlOf(reviewsUrl)) },
    ]);
    assertCompositionSuccess(composed);
    // The supergraph's API is Nexus's (every type and root field) plus the reviews.
    const api = buildASTSchema(composed.publicDocumentNode);
    const own = buildSchema();
    const fieldsOf = (schema: GraphQLSchema, type: string) => Object.keys((schema.getType(type) as GraphQLObjectType | undefined)?.getFields() ?? {});
    for (const root of ['Query', 'Mutation', 'Subscription']) expect(fieldsOf(api, root)).toEqual(expect.arrayContaining(fieldsOf(own, root)));
    expect(fieldsOf(api, 'Tour')).toEqual([...fieldsOf(own, 'Tour'), 'reviews']);
    // Nothing of the gateway's own access rules leaks into the company graph.
    expect(api.getType('Role')).toBeUndefined();
    expect(composed.supergraphSdl).not.toMatch(/@auth|@cached/);
    gateway = createGatewayRuntime({
      supergraph: composed.supergraphSdl!,
      logging: false,
      transports: { http: import('@graphql-mesh/transport-http') },
      // Callers' credentials go on to Nexus, which applies its `@auth` rules to them.
      propagateHeaders: { fromClientToSubgraphs: ({ request }) => ({ 'x-api-key': request.headers.get('x-api-key') }) },
    });
  }, 60_000);
  afterAll(async () => {
    await gateway?.dispose();
    await new Promise((resolve) => reviews?.close(resolve));
  });

  it('answers a query starting at Nexus with fields from the reviews subgraph', async () => {
    const body = await viaGateway<{ tours: { edges: { node: { id: string; name: string; reviews: { rating: number }[] } }[] } }>(
      '{ tours(first: 3) { edges { node { id name reviews { rating text } } } } }',
    );
    expect(body.errors).toBeUndefined();
    const tours = body.data!.tours.edges.map((e) => e.node);
    expect(tours.map((t) => t.id)).toEqual(['TOUR0001', 'TOUR0002', 'TOUR0003'].map((t) => gid('Tour', t)));
    expect(tours.map((t) => t.reviews)).toEqual([
      [
        { rating: 5, text: 'Unforgettable' },
        { rating: 4, text: 'Good value' },
      ],
      [{ rating: 3, text: 'Rainy' }],
      [],
    ]);
  });

  it('answers a query starting at the reviews subgraph with tour fields resolved by Nexus through `_entities`', async () => {
    const direct = await nexus.request<{ a: { name: string; destination: { name: string } }; b: { name: string } }>(
      '{ a: tour(id: "TOUR0001") { name destination { name } } b: tour(id: "TOUR0002") { name } }',
    );
    const body = await viaGateway<{ latestReviews: { id: string; tour: { id: string; name: string; destination: { name: string } } }[] }>(
      '{ latestReviews { id tour { id name destination { name } } } }',
    );
    expect(body.errors).toBeUndefined();
    const a = { id: gid('Tour', 'TOUR0001'), name: direct.body.data!.a.name, destination: direct.body.data!.a.destination };
    expect(body.data!.latestReviews).toEqual([
      { id: 'R1', tour: a },
      { id: 'R2', tour: a },
      { id: 'R3', tour: { id: gid('Tour', 'TOUR0002'), name: direct.body.data!.b.name, destination: expect.objectContaining({ name: expect.any(String) }) } },
    ]);
  });

  it('enforces Nexus’s `@auth` on what the supergraph fetches by entity: tour analytics need an analyst key', async () => {
    const query = '{ latestReviews { tour { name stats { bookings } } } }';
    const anonymous = await viaGateway<{ latestReviews: { tour: { name: string; stats: unknown } }[] }>(query);
    expect(anonymous.data?.latestReviews[0]?.tour.name).toEqual(expect.any(String));
    expect(anonymous.data?.latestReviews.map((r) => r.tour.stats)).toEqual([null, null, null]);
    expect(anonymous.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    const withKey = await viaGateway<{ latestReviews: { tour: { stats: { bookings: number } } }[] }>(query, KEYS.analyst);
    expect(withKey.errors).toBeUndefined();
    expect(withKey.data?.latestReviews[0]?.tour.stats.bookings).toEqual(expect.any(Number));
  });
});
