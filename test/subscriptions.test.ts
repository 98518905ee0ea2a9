import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
const clients: Client[] = [];
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

afterEach(async () => {
  // Each test ends with no live subscription, so the next one counts its own from zero.
  for (const c of clients.splice(0)) await c.dispose();
  while (gw.gateway.services.fanout.size > 0) await new Promise((resolve) => setTimeout(resolve, 2));
});

function client(): Client {
  const c = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
  clients.push(c);
  return c;
}

interface LiveEvent {
  id: string;
  eventType: string;
  region: string | null;
  tourId: string | null;
  amount: number | null;
  offset: string;
}

/** Subscribes and collects results; `next(n)` waits for the n-th one. */
function collect(c: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: FormattedExecutionResult<Record<string, unknown>, unknown>[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let failure: unknown;
  let completed = false;
  const dispose = c.subscribe<Record<string, unknown>>({ query, variables }, {
    next: (result) => {
      results.push(result);
      for (const w of waiters.filter((w) => results.length >= w.n)) w.resolve();
    },
    error: (error) => {
      failure = error;
      for (const w of waiters) w.resolve();
    },
    complete: () => {
      completed = true;
    },
  });
  return {
    results,
    dispose,
    get failure() {
      return failure;
    },
    get completed() {
      return completed;
    },
    next(n: number): Promise<void> {
      if (results.length >= n || failure) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

const SUBSCRIPTION = `subscription ($filter: EventSubscriptionFilter, $from: String) {
  eventIngested(filter: $filter, fromOffset: $from) { id eventType region tourId amount offset }
}`;
const INGEST = 'mutation ($input: EventInput!) { ingestEvent(input: $input) { eventId offset } }';

async function ingest(input: Record<string, unknown>): Promise<{ eventId: string; offset: string }> {
  const { body } = await gw.request<{ ingestEvent: { eventId: string; offset: string } }>(INGEST, { input });
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data.ingestEvent;
}

/** Resolves once the gateway has `n` live subscribers (the subscribe message is processed). */
async function subscribers(n: number): Promise<void> {
  while (gw.gateway.services.fanout.size < n) await new Promise((resolve) => setImmediate(resolve));
}

describe('eventIngested over graphql-ws', () => {
  it('delivers an accepted booking to every matching subscriber, and not to others', async () => {
    const all = collect(client(), SUBSCRIPTION);
    const bookingsInVN = collect(client(), SUBSCRIPTION, { filter: { eventTypes: ['BOOKING'], regions: ['VN'] } });
    const views = collect(client(), SUBSCRIPTION, { filter: { eventTypes: ['VIEW'] } });
    await subscribers(3);

    const sent = performance.now();
    const receipt = await ingest({ eventType: 'BOOKING', userId: 'USER000005', tourId: 'TOUR0001', region: 'VN', amount: 99, currency: 'USD' });
    await Promise.all([all.next(1), bookingsInVN.next(1)]);
    expect(performance.now() - sent).toBeLessThan(1_000);

    const expected = { id: receipt.eventId, eventType: 'BOOKING', region: 'VN', tourId: 'TOUR0001', amount: 99, offset: receipt.offset };
    expect(all.results[0]).toEqual({ data: { eventIngested: expected } });
    expect(bookingsInVN.results[0]).toEqual({ data: { eventIngested: expected } });

    const view = await ingest({ eventType: 'VIEW', userId: 'USER000005', tourId: 'TOUR0002', region: 'TH' });
    await Promise.all([all.next(2), views.next(1)]);
    expect((views.results[0]?.data?.['eventIngested'] as LiveEvent).id).toBe(view.eventId);
    expect(bookingsInVN.results).toHaveLength(1);
    for (const s of [all, bookingsInVN, views]) s.dispose();
  });

  it('never delivers a refused event', async () => {
    const sub = collect(client(), SUBSCRIPTION);
    await subscribers(1);
    const { body } = await gw.request(INGEST, { input: { eventType: 'BOOKING', userId: 'U', tourId: 'T', amount: -1, currency: 'USD' } });
    expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const ok = await ingest({ eventType: 'CLICK', userId: 'U', tourId: 'TOUR0003' });
    await sub.next(1);
    expect(sub.results.map((r) => (r.data?.['eventIngested'] as LiveEvent).id)).toEqual([ok.eventId]);
    sub.dispose();
  });

  it('replays what a client missed from its last offset, then continues live without gaps or repeats', async () => {
    const seen = await ingest({ eventType: 'VIEW', userId: 'USER000009', tourId: 'TOUR0001', region: 'ID' });
    const missed = [];
    for (let i = 0; i < 3; i += 1) missed.push(await ingest({ eventType: 'VIEW', userId: 'USER000009', tourId: 'TOUR0001', region: 'ID' }));
    const other = await ingest({ eventType: 'VIEW', userId: 'USER000009', tourId: 'TOUR0001', region: 'SG' });

    const resumed = collect(client(), SUBSCRIPTION, { filter: { regions: ['ID'] }, from: seen.offset });
    await resumed.next(3);
    await subscribers(1);
    const live = await ingest({ eventType: 'VIEW', userId: 'USER000009', tourId: 'TOUR0001', region: 'ID' });
    await resumed.next(4);

    const ids = resumed.results.map((r) => (r.data?.['eventIngested'] as LiveEvent).id);
    expect(ids).toEqual([...missed.map((m) => m.eventId), live.eventId]);
    expect(ids).not.toContain(other.eventId);
    const offsets = resumed.results.map((r) => BigInt((r.data?.['eventIngested'] as LiveEvent).offset));
    expect([...offsets].sort((a, b) => (a < b ? -1 : 1))).toEqual(offsets);
    resumed.dispose();
  });

  it('refuses an offset that is not one', async () => {
    const sub = collect(client(), SUBSCRIPTION, { from: "1; DROP TABLE bronze.event_log" });
    await sub.next(1);
    const errors = (sub.failure ?? sub.results[0]?.errors) as { extensions?: Record<string, unknown> }[];
    expect(errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('streams finished pipeline runs', async () => {
    const runs = collect(client(), 'subscription { pipelineRunFinished { status layer recordsOut } }');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await ingest({ eventType: 'CLICK', userId: 'USER000011', tourId: 'TOUR0004' });
    // A pass reports its layers in order: bronze (landed), silver (promoted), gold.
    await runs.next(2);
    const [bronze, silver] = runs.results.map((r) => r.data?.['pipelineRunFinished'] as { status: string; layer: string; recordsOut: number });
    expect([bronze?.layer, silver?.layer]).toEqual(['bronze', 'silver']);
    expect(bronze?.status).toBe('SUCCESS');
    expect(silver?.status).toBe('SUCCESS');
    // At least this test's click (earlier tests' events may share the pass).
    expect(silver!.recordsOut).toBeGreaterThanOrEqual(1);
    runs.dispose();
  });
});
