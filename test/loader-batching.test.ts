import { execute, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestContext } from '../src/request-context.ts';
import { buildSchema } from '../src/schema.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
const schema = buildSchema();
beforeAll(async () => {
  // Batching alone: the shared row cache (tested below) would turn repeated lookups into hits.
  gw = await startTestGateway({ env: { LOADER_CACHE_TTL_MS: '0' } });
});
afterAll(async () => {
  await gw?.close();
});

/** Runs an operation in-process with a fresh request context and returns the backend calls it made. */
async function callsFor(query: string, variables: Record<string, unknown>) {
  const context = createRequestContext(gw.gateway.services);
  const result = await execute({ schema, document: parse(query), variableValues: variables, contextValue: context });
  expect(result.errors).toBeUndefined();
  return { calls: context.calls, data: result.data as Record<string, unknown> };
}

const NESTED = `query ($first: Int!) {
  tours(first: $first) { edges { node { id destination { name } stats { bookings revenue } } } }
}`;

describe('loader batching', () => {
  it('makes the same number of backend calls for 5 and for 50 nested tours', async () => {
    const small = await callsFor(NESTED, { first: 5 });
    const large = await callsFor(NESTED, { first: 50 });
    expect((large.data['tours'] as { edges: unknown[] }).edges).toHaveLength(50);
    // One statement per level: the page, the destinations, the stats.
    expect(large.calls.count('lakehouse')).toBe(2);
    expect(large.calls.count('analytics')).toBe(1);
    expect(large.calls.count()).toBe(small.calls.count());
  });

  it('batches a destination list and each destination’s tours into one statement per level', async () => {
    const query = `query ($first: Int!) {
      destinations(first: $first) { edges { node { id tours(first: 3) { edges { node { id stats { views } } } } } } }
    }`;
    const few = await callsFor(query, { first: 2 });
    const many = await callsFor(query, { first: 20 });
    expect(many.calls.count()).toBe(few.calls.count());
    expect(many.calls.count()).toBe(3);
  });

  it('keeps user fields batched across several users in one operation', async () => {
    const query = `{
      a: user(id: "USER000001") { profile { totalBookings } bookings(first: 2) { edges { node { id } } } }
      b: user(id: "USER000002") { profile { totalBookings } bookings(first: 2) { edges { node { id } } } }
      c: user(id: "USER000003") { profile { totalBookings } bookings(first: 2) { edges { node { id } } } }
    }`;
    const { calls } = await callsFor(query, {});
    // user existence, profiles, bookings: one statement each for all three users.
    expect(calls.count()).toBe(3);
  });

  it('never shares loader results between requests', async () => {
    const one = createRequestContext(gw.gateway.services);
    const two = createRequestContext(gw.gateway.services);
    expect(one.loaders.tourById).not.toBe(two.loaders.tourById);
  });
});

describe('shared row cache', () => {
  it('serves tours and destinations seen by an earlier request without the lakehouse, until the data changes', async () => {
    // With the catalogue on the lakehouse (the in-process replica, when on, answers before this cache).
    const cached = await startTestGateway({ env: { CATALOGUE_REPLICA: 'false' } });
    try {
      const query = '{ a: tour(id: "TOUR0011") { name destination { name } } b: tour(id: "TOUR0012") { name destination { name } } }';
      const run = async () => {
        const context = createRequestContext(cached.gateway.services);
        const result = await execute({ schema, document: parse(query), contextValue: context });
        expect(result.errors).toBeUndefined();
        return { calls: context.calls.count('lakehouse'), data: result.data };
      };
      const first = await run();
      expect(first.calls).toBe(2);
      const second = await run();
      expect(second.calls).toBe(0);
      expect(second.data).toEqual(first.data);
      // Everything invalidated: the tables' versions move on and rows are read again.
      cached.gateway.services.responseCache.invalidate();
      expect((await run()).calls).toBe(2);
    } finally {
      await cached.close();
    }
  });
});
