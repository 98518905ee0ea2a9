import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { ANALYTICS_SOURCES, ANY_TABLE } from '../src/cache-tags/field-tables.ts';
import { tablesOfOperation } from '../src/cache-tags/operation-tables.ts';
import type { GatewayServices } from '../src/context.ts';
import { encodeGlobalId } from '../src/global-id.ts';
import { createRequestContext } from '../src/request-context.ts';
import { buildSchema, rootCachePolicies } from '../src/schema.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from './helpers/gateway.ts';

/**
 * The declared tables checked against what operations really read: each operation runs on the
 * embedded engines, every SQL statement it sends is recorded, and each table a statement names
 * must be among the operation's cache tags (analytics tables through the tables they derive from).
 */
const schema = buildSchema();
const TABLE = /\b(?:FROM|JOIN)\s+([a-z_]+\.[a-z_0-9]+)/gi;

/** Lakehouse tables a statement names; analytics tables stand for their sources; catalog reads for nothing. */
function tablesOfSql(sql: string): string[] {
  const named = [...sql.matchAll(TABLE)].map((m) => m[1]!.toLowerCase());
  return named.flatMap((table) => ANALYTICS_SOURCES[table] ?? (/^(information_schema|system)\./.test(table) ? [] : [table]));
}

function recording(engine: SqlEngine, into: Set<string>): SqlEngine {
  return { ...engine, query: (sql, params, options) => (tablesOfSql(sql).forEach((t) => into.add(t)), engine.query(sql, params, options)) };
}

const to = new Date(TEST_ANCHOR);
const from = new Date(to.getTime() - 90 * 86_400_000);
const OPERATIONS: Record<string, string> = {
  regionalStats: '{ regionalStats { region bookings revenue } }',
  revenueSeries: `{ revenueSeries(interval: WEEK, from: "${from.toISOString()}", to: "${to.toISOString()}") { revenue } }`,
  tourPopularity: '{ tourPopularity(window: ALL_TIME, first: 3) { tour { name destination { name } stats { bookings } } } }',
  analytics: '{ analytics(query: { measures: [BOOKINGS], dimensions: [CATEGORY, DESTINATION_COUNTRY, USER_SEGMENT] }) { rows { bookings category } } }',
  recommendations: '{ recommendations(userId: "USER000001", first: 3) { score tour { name } } }',
  tours: '{ tours(first: 3) { totalCount edges { node { name destination { name } stats { views } } } } }',
  tour: '{ tour(id: "TOUR0002") { name } }',
  destinations: '{ destinations(first: 2) { totalCount edges { node { name tours(first: 2) { edges { node { name } } } } } } }',
  destination: '{ destination(id: "DEST002") { name } }',
  events: '{ events(first: 3) { edges { node { eventType tour { name } } } } }',
  event: '{ event(id: "no-such-event") { eventType } }',
  searchEvents: '{ searchEvents(filters: { regions: ["VN"] }, first: 2) { edges { node { eventType tour { name } } } } }',
  user: '{ user(id: "USER000001") { profile { totalBookings segment } bookings(first: 2) { edges { node { amount } } } recommendations(first: 2) { tour { name } } } }',
  node: `{ node(id: "${encodeGlobalId('Tour', 'TOUR0003')}") { ... on Tour { name stats { bookings } } } }`,
  nodes: `{ nodes(ids: ["${encodeGlobalId('User', 'USER000002')}", "${encodeGlobalId('Destination', 'DEST001')}"]) { ... on User { profile { totalSpend } } ... on Destination { name } } }`,
  searchTours: '{ searchTours(query: "tour", first: 2) { edges { node { tour { name destination { name } } } } } }',
  platform: `{ platform { dataSources { executions(first: 1) { runId } } pipelineRuns(first: 2) { sources { sourceId } }
    sourceExecutions(first: 2) { runId } dataQuality { table } lineage { from } quarantine(first: 2) { rule } } }`,
};

describe('declared tables cover the SQL each operation sends', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // Without the cross-request row cache every read reaches SQL.
    // Without the catalogue replica either: catalogue reads then send their SQL too.
    gw = await startTestGateway({ env: { LOADER_CACHE_TTL_MS: '0', CATALOGUE_REPLICA: 'false' } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('runs every root field the response cache may keep', () => {
    expect([...rootCachePolicies(schema).keys()].filter((field) => !(field in OPERATIONS))).toEqual([]);
  });

  for (const [name, query] of Object.entries(OPERATIONS)) {
    it(name, async () => {
      const read = new Set<string>();
      const { services } = gw.gateway;
      const backends = { ...services.backends, lakehouse: recording(services.backends.lakehouse, read), analytics: recording(services.backends.analytics, read) };
      const recorded: GatewayServices = { ...services, backends };
      const document = parse(query);
      const result = await execute({ schema, document, contextValue: createRequestContext(recorded) });
      expect(result.errors).toBeUndefined();
      expect(read.size).toBeGreaterThan(0);
      const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
      const fragments = Object.fromEntries(
        document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
      );
      const tags = tablesOfOperation(schema, operation, fragments);
      if (tags.includes(ANY_TABLE)) return;
      expect([...read].filter((table) => !tags.includes(table))).toEqual([]);
    });
  }
});
