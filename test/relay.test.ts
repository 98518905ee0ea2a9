import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { execute, parse, printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalId, parseGlobalId } from '../src/global-id.ts';
import { createRequestContext } from '../src/request-context.ts';
import { buildSchema } from '../src/schema.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE_APP = path.join(ROOT, 'test', 'fixtures', 'relay-app');
const RELAY_COMPILER = path.join(ROOT, 'node_modules', '.bin', 'relay-compiler');

let gw: TestGateway;
const schema = buildSchema();
beforeAll(async () => {
  // Batching alone: the shared row cache would turn repeated lookups into cache hits.
  gw = await startTestGateway({ env: { LOADER_CACHE_TTL_MS: '0' } });
});
afterAll(async () => {
  await gw?.close();
});

/** Runs an operation over HTTP and fails on any error. */
async function data<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const { status, body } = await gw.request<T>(query, variables);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  expect(status).toBe(200);
  return body.data!;
}

describe('a Relay app compiled against the schema', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nexus-relay-app-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** The operation text relay-compiler generated for `name`. */
  const operationText = (name: string): string => {
    const artifact = readFileSync(path.join(dir, '__generated__', `${name}.graphql.js`), 'utf8');
    const text = /"text": ("(?:[^"\\]|\\.)*")/.exec(artifact)?.[1];
    if (!text) throw new Error(`${name} has no operation text`);
    return JSON.parse(text) as string;
  };

  it('compiles: @refetchable fragments on Tour, Destination and User, connections paged both ways', async () => {
    writeFileSync(path.join(dir, 'schema.graphql'), printSchema(schema));
    cpSync(FIXTURE_APP, path.join(dir, 'src'), { recursive: true });
    mkdirSync(path.join(dir, '__generated__'));
    writeFileSync(
      path.join(dir, 'relay.config.json'),
      JSON.stringify({ src: './src', schema: './schema.graphql', language: 'javascript', artifactDirectory: './__generated__' }),
    );
    // Rejects (with the compiler's report) on a non-zero exit: any validation error fails the test.
    const { stdout, stderr } = await promisify(execFile)(RELAY_COMPILER, [], { cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
    expect(`${stdout}${stderr}`).toContain('Compilation completed');
    expect(operationText('TourCardRefetchQuery')).toMatch(/node\(id: \$id\)/);
    expect(operationText('DestinationCardRefetchQuery')).toMatch(/node\(id: \$id\)/);
    expect(readFileSync(path.join(dir, '__generated__', 'DestinationCard_destination.graphql.js'), 'utf8')).toContain('"direction": "backward"');
  });

  it('runs the compiled refetch and pagination queries on the gateway', async () => {
    const tour = encodeGlobalId('Tour', 'TOUR0001');
    const refetched = await data<{ node: { __typename: string; id: string; tourId: string; destination: { id: string; destinationId: string } } }>(
      operationText('TourCardRefetchQuery'),
      { id: tour },
    );
    expect(refetched.node).toMatchObject({ __typename: 'Tour', id: tour, tourId: 'TOUR0001' });
    const destination = refetched.node.destination;
    expect(parseGlobalId(destination.id)).toEqual({ type: 'Destination', id: destination.destinationId });

    type Tours = { edges: { node: { id: string } }[]; pageInfo: { hasPreviousPage: boolean; startCursor: string } };
    const again = await data<{ node: { id: string; tours: Tours } }>(operationText('DestinationCardRefetchQuery'), { id: destination.id, last: 2 });
    expect(again.node.id).toBe(destination.id);
    expect(again.node.tours.edges.length).toBeGreaterThan(0);

    // As Relay's loadPrevious sends them: the backward count and cursor, the forward ones null.
    const pages = operationText('TourListPaginationQuery');
    const last = await data<{ tours: Tours & { totalCount: number } }>(pages, { first: null, after: null, last: 3, regions: ['JP'] });
    const forward = await data<{ tours: Tours }>(pages, { first: 100, regions: ['JP'] });
    const all = forward.tours.edges.map((e) => e.node.id);
    expect(last.tours.edges.map((e) => e.node.id)).toEqual(all.slice(-3));
    const previous = await data<{ tours: Tours }>(pages, { first: null, after: null, last: 3, before: last.tours.pageInfo.startCursor, regions: ['JP'] });
    expect(previous.tours.edges.map((e) => e.node.id)).toEqual(all.slice(-6, -3));
  });
});

describe('node(id:) and nodes(ids:)', () => {
  /** One object of each Node type: its global id, and its raw key in the field that holds it. */
  async function samples(): Promise<{ type: string; id: string; raw: string; field: string }[]> {
    const found = await data<{
      tours: { edges: { node: { id: string; tourId: string } }[] };
      destinations: { edges: { node: { id: string; destinationId: string } }[] };
      events: { edges: { node: { id: string; eventId: string; userId: string } }[] };
      platform: { dataSources: { id: string; sourceId: string }[] };
    }>(`{
      tours(first: 1) { edges { node { id tourId } } }
      destinations(first: 1) { edges { node { id destinationId } } }
      events(first: 1) { edges { node { id eventId userId } } }
      platform { dataSources { id sourceId } }
    }`);
    const runs = await data<{ runPipeline: { id: string; runId: string }[] }>('mutation { runPipeline { id runId } }');
    const event = found.events.edges[0]!.node;
    const user = await data<{ user: { id: string; userId: string } }>('query ($id: ID!) { user(id: $id) { id userId } }', { id: event.userId });
    const tour = found.tours.edges[0]!.node;
    const destination = found.destinations.edges[0]!.node;
    const source = found.platform.dataSources[0]!;
    const run = runs.runPipeline[0]!;
    return [
      { type: 'Tour', id: tour.id, raw: tour.tourId, field: 'tourId' },
      { type: 'Destination', id: destination.id, raw: destination.destinationId, field: 'destinationId' },
      { type: 'User', id: user.user.id, raw: user.user.userId, field: 'userId' },
      { type: 'Event', id: event.id, raw: event.eventId, field: 'eventId' },
      { type: 'DataSource', id: source.id, raw: source.sourceId, field: 'sourceId' },
      { type: 'PipelineRun', id: run.id, raw: run.runId, field: 'runId' },
    ];
  }
  const SELECTION = `__typename id
    ... on Tour { tourId } ... on Destination { destinationId } ... on User { userId }
    ... on Event { eventId } ... on DataSource { sourceId } ... on PipelineRun { runId }`;

  it('round-trips an object of each of the six types, alone and all at once, in order', async () => {
    const all = await samples();
    for (const { type, id, raw, field } of all) {
      expect(id).toBe(encodeGlobalId(type as never, raw));
      const { node } = await data<{ node: Record<string, string> }>(`query ($id: ID!) { node(id: $id) { ${SELECTION} } }`, { id });
      expect(node).toEqual({ __typename: type, id, [field]: raw });
    }
    const ids = all.map((s) => s.id);
    const { nodes } = await data<{ nodes: { __typename: string; id: string }[] }>(`query ($ids: [ID!]!) { nodes(ids: $ids) { ${SELECTION} } }`, { ids: [...ids].reverse() });
    expect(nodes.map((n) => [n.__typename, n.id])).toEqual(all.map((s) => [s.type, s.id]).reverse());
  });

  it('loads many nodes of one type with one backend call', async () => {
    const count = async (ids: string[]) => {
      const context = createRequestContext(gw.gateway.services);
      const result = await execute({ schema, document: parse('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }'), variableValues: { ids }, contextValue: context });
      expect(result.errors).toBeUndefined();
      expect((result.data?.['nodes'] as unknown[]).every((n) => n !== null)).toBe(true);
      return context.calls.count();
    };
    const tours = Array.from({ length: 12 }, (_, i) => encodeGlobalId('Tour', `TOUR${String(i + 1).padStart(4, '0')}`));
    expect(await count(tours)).toBe(1);
    const { events } = await data<{ events: { edges: { node: { id: string } }[] } }>('{ events(first: 8) { edges { node { id } } } }');
    expect(await count(events.edges.map((e) => e.node.id))).toBe(1);
  });

  it('answers null for unknown and foreign ids, and BAD_USER_INPUT for what is no global id', async () => {
    const query = 'query ($id: ID!) { node(id: $id) { id } }';
    expect(await data(query, { id: encodeGlobalId('Tour', 'NO-SUCH-TOUR') })).toEqual({ node: null });
    expect(await data(query, { id: Buffer.from('Spaceship:1').toString('base64url') })).toEqual({ node: null });
    const { body } = await gw.request(query, { id: 'TOUR0001' });
    expect(body.data).toEqual({ node: null });
    expect(body.errors).toEqual([
      {
        message: `Argument "id" must be a global object id (the \`id\` of a Node, e.g. "${encodeGlobalId('Tour', 'TOUR0001')}"); got "TOUR0001".`,
        path: ['node'],
        locations: [{ line: 1, column: 20 }],
        extensions: { code: 'BAD_USER_INPUT', argumentName: 'id' },
      },
    ]);
    // In a list, a malformed id fails its own slot.
    const list = await gw.request<{ nodes: unknown[] }>('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [encodeGlobalId('Tour', 'TOUR0002'), 'nope'] });
    expect(list.body.data).toEqual({ nodes: [{ id: encodeGlobalId('Tour', 'TOUR0002') }, null] });
    expect(list.body.errors?.map((e) => [e.path, e.extensions?.['code'], e.extensions?.['argumentName']])).toEqual([[['nodes', 1], 'BAD_USER_INPUT', 'ids[1]']]);
  });

  it('keeps ids opaque and stable, and takes either form wherever an entity is named', async () => {
    expect(encodeGlobalId('Tour', 'TOUR0001')).toBe('VG91cjpUT1VSMDAwMQ');
    const destination = encodeGlobalId('Destination', 'DEST001');
    const byRaw = await data<{ tours: { totalCount: number } }>('{ tours(filter: { destinationId: "DEST001" }) { totalCount } }');
    const byGlobal = await data<{ tours: { totalCount: number } }>('query ($d: ID) { tours(filter: { destinationId: $d }) { totalCount } }', { d: destination });
    expect(byRaw.tours.totalCount).toBeGreaterThan(0);
    expect(byGlobal).toEqual(byRaw);
    expect(await data('query ($id: ID!) { destination(id: $id) { destinationId } }', { id: destination })).toEqual({ destination: { destinationId: 'DEST001' } });
    const events = await data<{ events: { edges: { node: { tourId: string } }[] } }>('query ($t: [ID!]) { events(first: 3, filter: { tourIds: $t }) { edges { node { tourId } } } }', {
      t: [encodeGlobalId('Tour', 'TOUR0003')],
    });
    expect(events.events.edges.map((e) => e.node.tourId)).toEqual(['TOUR0003', 'TOUR0003', 'TOUR0003']);
    const wrong = await gw.request('query ($id: ID!) { tour(id: $id) { id } }', { id: destination });
    expect(wrong.body.errors?.[0]).toMatchObject({
      message: `Argument "id" must be the id of a Tour; "${destination}" is the id of a Destination.`,
      extensions: { code: 'BAD_USER_INPUT', argumentName: 'id' },
    });
  });
});
