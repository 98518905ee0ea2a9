import { describe, expect, it } from 'vitest';
import { isObjectType, Kind, parse, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { createLruCache } from '../src/backends/cache/lru.ts';
import { changeOfCommit } from '../src/cache-tags/commit-tables.ts';
import { analyticsModel } from '../src/analytics/default-model.ts';
import { DIMENSION_TABLES } from '../src/backends/analytics/dimensions.ts';
import { ANALYTICS_SOURCES, ANY_TABLE, FIELD_TABLES } from '../src/cache-tags/field-tables.ts';
import { tablesOfOperation } from '../src/cache-tags/operation-tables.ts';
import { buildSubgraph } from '../src/federation/subgraph.ts';
import { ResponseCache } from '../src/http/response-cache.ts';
import { buildSchema } from '../src/schema.ts';

const schema = buildSchema();

/** Coordinates of every field that runs a resolver of its own (the rest read their parent's properties). */
function resolvedFields(of: GraphQLSchema): string[] {
  const coordinates: string[] = [];
  for (const type of Object.values(of.getTypeMap())) {
    if (type.name.startsWith('__') || !isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) if (field.resolve) coordinates.push(`${type.name}.${field.name}`);
  }
  return coordinates;
}

function tablesOf(query: string): string[] {
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  return tablesOfOperation(schema, operation, fragments);
}

describe('tables each field reads', () => {
  it('declares every field with a resolver (API and federation subgraph), so none escapes invalidation', () => {
    const subgraph = buildSubgraph().schema;
    const undeclared = [...new Set([...resolvedFields(schema), ...resolvedFields(subgraph)])].filter((c) => !(c in FIELD_TABLES));
    expect(undeclared).toEqual([]);
  });

  it('names only fields with a resolver and schema-qualified tables', () => {
    const resolved = new Set([...resolvedFields(schema), ...resolvedFields(buildSubgraph().schema)]);
    for (const [coordinate, tables] of Object.entries(FIELD_TABLES)) {
      expect(resolved.has(coordinate), `${coordinate} has no resolver of its own`).toBe(true);
      for (const table of tables) expect(table === ANY_TABLE || /^(bronze|silver|gold|platform)\.[a-z0-9_]+$/.test(table), `${coordinate}: ${table}`).toBe(true);
    }
  });

  it('knows what every table of the analytics model is derived from', () => {
    for (const table of [analyticsModel.table, ...analyticsModel.joins.map((j) => j.table)]) expect(ANALYTICS_SOURCES[table], table).toBeDefined();
    for (const dimension of DIMENSION_TABLES) {
      const read = [...dimension.query.matchAll(/\b(?:FROM|JOIN)\s+([a-z_]+\.[a-z_0-9]+)/gi)].map((m) => m[1]);
      expect([...(ANALYTICS_SOURCES[dimension.name] ?? [])].sort(), dimension.name).toEqual([...new Set(read)].sort());
    }
    for (const table of ANALYTICS_SOURCES['analytics.tours']!) expect(FIELD_TABLES['Query.analytics']).toContain(table);
  });
});

describe('tables an operation reads', () => {
  it('tags analytics answers with the silver table the analytics copy derives from', () => {
    expect(tablesOf('{ regionalStats { region bookings } }')).toEqual(['silver.events']);
  });

  it('follows nested fields and fragments', () => {
    const query = `{ destinations(first: 2) { edges { node { ...D } } } }
      fragment D on Destination { name tours(first: 1) { edges { node { name stats { bookings } } } } }`;
    expect(tablesOf(query)).toEqual(['silver.destinations', 'silver.events', 'silver.tours']);
    expect(tablesOf('{ destinations { edges { node { name } } } }')).toEqual(['silver.destinations']);
  });

  it('reads through interfaces with the type conditions given', () => {
    expect(tablesOf('{ node(id: "x") { ... on User { profile { totalSpend } } } }')).toEqual(
      expect.arrayContaining(['gold.user_360', 'silver.tours', 'silver.users', 'platform.pipeline_runs']),
    );
  });

  it('counts a field with an undeclared resolver as reading any table', () => {
    expect(tablesOf('{ platform { tables { name } } }')).toEqual([ANY_TABLE]);
  });
});

describe('tables a medallion commit changed', () => {
  it('takes a commit notification as it is, its seq as the tables\' new version', () => {
    expect(changeOfCommit({ seq: 42, tables: ['silver.events'] })).toEqual({ tables: ['silver.events'], version: 42 });
  });
});

describe('tagged response cache', () => {
  const answer = (body: string) => ({ status: 200, contentType: 'application/json', body });
  const make = () => new ResponseCache({ cache: createLruCache({ maxEntries: 100 }) });

  it('drops exactly the answers that read a changed table', () => {
    const cache = make();
    cache.store('stats', answer('1'), 60_000, { tables: ['silver.events'], since: cache.readStarts() });
    cache.store('places', answer('2'), 60_000, { tables: ['silver.destinations'], since: cache.readStarts() });
    expect(cache.lookup('stats')).toMatchObject({ body: '1', length: 1 });
    cache.invalidate({ tables: ['silver.events', 'gold.booking_metrics'] });
    expect(cache.lookup('stats')).toBeUndefined();
    expect(cache.lookup('places')).toMatchObject({ body: '2' });
    cache.invalidate();
    expect(cache.lookup('places')).toBeUndefined();
  });

  it('invalidates an untagged answer (or one that may read anything) on every change', () => {
    const cache = make();
    cache.store('any', answer('1'), 60_000);
    cache.invalidate({ tables: ['platform.pipeline_runs'] });
    expect(cache.lookup('any')).toBeUndefined();
  });

  it('does not store an answer whose tables changed while it was computed', () => {
    const cache = make();
    const since = cache.readStarts();
    cache.invalidate({ tables: ['silver.events'] });
    cache.store('late', answer('1'), 60_000, { tables: ['silver.events'], since });
    cache.store('other', answer('2'), 60_000, { tables: ['silver.tours'], since });
    expect(cache.lookup('late')).toBeUndefined();
    expect(cache.lookup('other')).toMatchObject({ body: '2' });
  });

  it('applies one commit once, however often it is heard', () => {
    const cache = make();
    cache.invalidate({ tables: ['silver.events'], version: 100 });
    cache.store('stats', answer('1'), 60_000, { tables: ['silver.events'], since: cache.readStarts() });
    cache.invalidate({ tables: ['silver.events'], version: 100 });
    expect(cache.lookup('stats')).toMatchObject({ body: '1' });
    cache.invalidate({ tables: ['silver.events'], version: 101 });
    expect(cache.lookup('stats')).toBeUndefined();
  });
});
