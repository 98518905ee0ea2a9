import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { createBackendGuard } from '../src/backends/resilience.ts';
import { BackendError } from '../src/errors.ts';
import { StaleAnswers } from '../src/freshness/stale-answers.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

interface Freshness {
  stale?: true;
  failed?: string[];
  cache?: { hit: true; storedAt: string; ageMs: number };
  analytics?: { position: string };
}
const freshnessOf = (body: unknown) => (body as { extensions?: { freshness?: Freshness } }).extensions?.freshness;

describe('stale-while-error', () => {
  let gw: TestGateway;
  let analytics: SqlEngine;
  let realQuery: SqlEngine['query'];
  beforeAll(async () => {
    // Without the response cache every request executes: the kept answer is what stands in.
    gw = await startTestGateway({ env: { RESPONSE_CACHE: 'false' } });
    analytics = gw.gateway.services.backends.analytics;
    realQuery = analytics.query;
  }, 60_000);
  afterEach(() => {
    (analytics as { query: SqlEngine['query'] }).query = realQuery;
  });
  afterAll(async () => {
    await gw?.close();
  });

  const failAnalytics = (error: () => Error) => {
    (analytics as { query: SqlEngine['query'] }).query = async () => {
      throw error();
    };
  };
  const unavailable = () => new BackendError({ role: 'analytics', adapter: 'duckdb', message: 'connection refused' });

  it('answers a question answered within the grace window from its kept answer, marked stale', async () => {
    const query = '{ regionalStats(regions: ["VN"]) { region bookings revenue } }';
    const good = await gw.request(query);
    expect(good.body.errors).toBeUndefined();

    failAnalytics(unavailable);
    const { status, body } = await gw.request(query);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual(good.body.data);
    const freshness = freshnessOf(body)!;
    expect(freshness).toMatchObject({ stale: true, failed: ['analytics'], cache: { hit: true, storedAt: expect.any(String), ageMs: expect.any(Number) } });
    // What the kept answer reflected when it was answered.
    expect(freshness.analytics).toEqual(freshnessOf(good.body)!.analytics);
  });

  it('stands in while the circuit of the role is open', async () => {
    const query = '{ regionalStats(regions: ["ID"]) { bookings } }';
    const good = await gw.request(query);
    expect(good.body.errors).toBeUndefined();
    const guard = createBackendGuard({
      role: 'analytics',
      adapter: 'duckdb',
      policy: { timeoutMs: 1_000, retries: 0, retryDelayMs: 0, errorThresholdPercent: 1, volumeThreshold: 1, resetTimeoutMs: 60_000, windowMs: 60_000 },
    });
    (analytics as { query: SqlEngine['query'] }).query = (() => guard.run(() => Promise.reject(unavailable()), { idempotent: true })) as SqlEngine['query'];
    try {
      await gw.request(query); // the failure that opens the circuit
      expect(guard.state).toBe('open');
      const { body } = await gw.request(query);
      expect(body.errors).toBeUndefined();
      expect(body.data).toEqual(good.body.data);
      expect(freshnessOf(body)).toMatchObject({ stale: true, failed: ['analytics'] });
    } finally {
      guard.close();
    }
  });

  it('answers an unseen question with the failing fields as errors (partial data)', async () => {
    failAnalytics(unavailable);
    const { body } = await gw.request<{ regionalStats: null; tour: { id: string } }>('{ regionalStats(regions: ["TH"]) { bookings } tour(id: "TOUR0001") { id } }');
    expect(body.data?.regionalStats).toBeNull();
    expect(body.data?.tour).not.toBeNull();
    expect(body.errors?.[0]).toMatchObject({ path: ['regionalStats'], extensions: { code: 'BACKEND_UNAVAILABLE', backend: 'analytics' } });
    expect(freshnessOf(body)?.stale).toBeUndefined();
  });

  it('never stands in for an error that is not a backend failure', async () => {
    const query = '{ regionalStats(regions: ["JP"]) { bookings } }';
    expect((await gw.request(query)).body.errors).toBeUndefined();
    failAnalytics(() => new TypeError('a bug'));
    const { body } = await gw.request(query);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL' });
    expect(freshnessOf(body)?.stale).toBeUndefined();
  });

  it('never replays a mutation', async () => {
    const bus = gw.gateway.services.backends.bus;
    const realPublish = bus.publish;
    const mutation = 'mutation { ingestEvent(input: { eventType: VIEW, userId: "USER000009", tourId: "TOUR0002" }) { eventId } }';
    expect((await gw.request(mutation)).body.errors).toBeUndefined();
    (bus as { publish: typeof bus.publish }).publish = async () => {
      throw new BackendError({ role: 'bus', adapter: bus.adapter, message: 'down' });
    };
    try {
      const { body } = await gw.request(mutation);
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    } finally {
      (bus as { publish: typeof bus.publish }).publish = realPublish;
    }
  });
});

describe('kept answers', () => {
  const memory = () => {
    const entries = new Map<string, { value: string; ttlMs: number }>();
    return {
      entries,
      get: async (key: string) => entries.get(key)?.value,
      set: async (key: string, value: string, ttlMs: number) => void entries.set(key, { value, ttlMs }),
    };
  };
  const question = { queryHash: 'abc', operationName: null, variables: { id: 1 } };

  it('are kept for the longest grace of the roles read, and served within the grace of the failing ones', async () => {
    const cache = memory();
    const answers = new StaleAnswers({ cache, graceMs: { lakehouse: 10_000, analytics: 1_000, search: 0 } });
    const key = answers.keyOf('admin', question);
    answers.keep(key, { data: { n: 1 }, freshness: undefined, storedAt: 50_000 }, ['lakehouse', 'analytics']);
    expect(cache.entries.get(key)?.ttlMs).toBe(10_000);
    expect(await answers.recall(key, ['analytics'], 50_900)).toMatchObject({ data: { n: 1 } });
    expect(await answers.recall(key, ['analytics'], 51_500)).toBeUndefined();
    expect(await answers.recall(key, ['lakehouse'], 51_500)).toMatchObject({ data: { n: 1 } });
    expect(await answers.recall(key, ['lakehouse', 'search'], 50_100)).toBeUndefined();
  });

  it('are keyed per answer scope and question', () => {
    const answers = new StaleAnswers({ cache: memory(), graceMs: { lakehouse: 1, analytics: 1, search: 1 } });
    expect(answers.keyOf('app:U1', question)).not.toBe(answers.keyOf('app:U2', question));
    expect(answers.keyOf('admin', question)).not.toBe(answers.keyOf('admin', { ...question, variables: { id: 2 } }));
  });

  it('are kept at most once a second per question (a hot query is not serialised on every execution)', () => {
    const answers = new StaleAnswers({ cache: memory(), graceMs: { lakehouse: 60_000, analytics: 0, search: 0 } });
    const key = answers.keyOf('admin', question);
    expect(answers.wants(key, 10_000)).toBe(true);
    answers.keep(key, { data: {}, freshness: undefined, storedAt: 10_000 }, ['lakehouse']);
    expect(answers.wants(key, 10_500)).toBe(false);
    expect(answers.wants(key, 11_000)).toBe(true);
  });

  it('keep nothing for roles without a grace window', () => {
    const cache = memory();
    new StaleAnswers({ cache, graceMs: { lakehouse: 0, analytics: 0, search: 0 } }).keep('k', { data: {}, freshness: undefined, storedAt: 0 }, ['lakehouse']);
    expect(cache.entries.size).toBe(0);
  });
});
