import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { missingEnginePeer, startEngineGateway, type EngineGateway } from '../helpers/engines.ts';
import { describeWithPeer } from '../helpers/peers.ts';

/**
 * Fault injection: the gateway on real peers (ClickHouse for analytics, Redis for the cache, the
 * Kafka mock cluster for the bus; the lakehouse stays embedded) under a steady stream of queries
 * and keyed mutations, while each peer in turn goes down mid-load and comes back. Each outage
 * must fail only the fields of its role, move /health from OK to DEGRADED (DOWN for the bus,
 * which ingest needs) naming the role, and heal by itself; over the whole run, every mutation
 * that got a receipt is in the log exactly once, and every one that failed is written exactly
 * once when retried with its idempotency key.
 *
 * Redis and ClickHouse are stopped and restarted on the same ports (ClickHouse keeps its data).
 * The Kafka mock keeps its log in the kcat process and cannot come back on the same address, so
 * Kafka's outage freezes the process instead (see `KafkaMock.pause`): the brokers stop answering
 * mid-request, the harder case, where a write's outcome is unknown to the gateway.
 */

const ENV = {
  RESPONSE_CACHE: 'false',
  RATE_LIMITS: 'false',
  BACKEND_TIMEOUT_MS: '3000',
  ANALYTICS_TIMEOUT_MS: '2000',
  BUS_TIMEOUT_MS: '2000',
  BREAKER_VOLUME: '5',
  BREAKER_RESET_MS: '500',
  BREAKER_WINDOW_MS: '5000',
  // What a failing role does to fresh answers is watched here; answers kept for stale-while-error
  // would stand in for them (that has its own test, test/stale-while-error.test.ts).
  STALE_GRACE_MS_LAKEHOUSE: '0',
  STALE_GRACE_MS_ANALYTICS: '0',
  STALE_GRACE_MS_SEARCH: '0',
};

const QUERY = '{ tours(first: 3) { edges { node { id name stats { bookings } } } } }';
const INGEST = `mutation($key: String!) {
  ingestEvent(
    input: { eventType: BOOKING, userId: "USER000042", tourId: "TOUR0001", region: "VN", amount: 99, currency: "USD", payload: { probe: $key } }
    idempotencyKey: $key
  ) { eventId topic partition offset duplicate }
}`;
/** A fixed pace per worker: a steady stream, not a flood (fast failures would spin otherwise). */
const PACE_MS = 20;

interface Receipt {
  eventId: string;
  topic: string;
  partition: number;
  offset: string;
  duplicate: boolean;
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string; backend?: string };
}

interface QueryOutcome {
  began: string;
  ended: string;
  /** Every tour came back with its name (lakehouse fields). */
  toursServed: boolean;
  /** Every tour's stats came back (analytics fields). */
  statsServed: boolean;
  errors: GraphQLError[];
}

interface IngestOutcome {
  began: string;
  ended: string;
  key: string;
  receipt: Receipt | undefined;
  errors: GraphQLError[];
}

interface HealthReport {
  status: string;
  backends: { role: string; adapter: string; status: string; error: string | null }[];
}

/** Queries and keyed mutations sent in a steady stream, each outcome labelled with the phases it began and ended in. */
class SteadyLoad {
  phase = 'warm-up';
  readonly queries: QueryOutcome[] = [];
  readonly ingests: IngestOutcome[] = [];
  /** Receipt of every key acknowledged, first or on a retry. */
  readonly receipts = new Map<string, Receipt>();
  /** Receipts of retried keys that differ from the key's first receipt (must stay empty). */
  readonly changedReceipts: { first: Receipt; again: Receipt }[] = [];
  private readonly gw: EngineGateway;
  private readonly workers: Promise<void>[] = [];
  private readonly waiters = new Set<() => void>();
  private running = false;
  private sequence = 0;

  constructor(gw: EngineGateway) {
    this.gw = gw;
  }

  start(queryWorkers: number, ingestWorkers: number): void {
    this.running = true;
    for (let i = 0; i < queryWorkers; i += 1) this.workers.push(this.loop(() => this.query()));
    for (let i = 0; i < ingestWorkers; i += 1) this.workers.push(this.loop(() => this.ingest(`fi-${(this.sequence += 1)}`)));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Resolves once `check` holds, re-checked after every outcome; rejects after `timeoutMs` naming `what`. */
  until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`still waiting for ${what} after ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
  }

  /** Outcomes that began and ended within `phase`. */
  queriesWithin(phase: string): QueryOutcome[] {
    return this.queries.filter((q) => q.began === phase && q.ended === phase);
  }

  ingestsWithin(phase: string): IngestOutcome[] {
    return this.ingests.filter((i) => i.began === phase && i.ended === phase);
  }

  /** Keys whose every attempt failed so far. */
  failedKeys(): string[] {
    return [...new Set(this.ingests.filter((i) => !i.receipt).map((i) => i.key))].filter((key) => !this.receipts.has(key));
  }

  /** One keyed mutation; its receipt is remembered. */
  async ingest(key: string): Promise<IngestOutcome> {
    const began = this.phase;
    const { body } = await this.gw.request<{ ingestEvent: Receipt }>(INGEST, { key });
    const receipt = body.data?.ingestEvent ?? undefined;
    const outcome: IngestOutcome = { began, ended: this.phase, key, receipt, errors: body.errors ?? [] };
    if (receipt) {
      const first = this.receipts.get(key);
      // A retry of an acknowledged key must answer the first receipt.
      if (!first) this.receipts.set(key, receipt);
      else if (JSON.stringify(receipt) !== JSON.stringify({ ...first, duplicate: true })) this.changedReceipts.push({ first, again: receipt });
    }
    this.ingests.push(outcome);
    this.notify();
    return outcome;
  }

  private async query(): Promise<void> {
    const began = this.phase;
    const { body } = await this.gw.request<{ tours: { edges: { node: { name: string | null; stats: { bookings: number } | null } }[] } }>(QUERY);
    const nodes = body.data?.tours.edges.map((edge) => edge.node) ?? [];
    this.queries.push({
      began,
      ended: this.phase,
      toursServed: nodes.length === 3 && nodes.every((node) => typeof node.name === 'string' && node.name.length > 0),
      statsServed: nodes.length === 3 && nodes.every((node) => node.stats !== null),
      errors: body.errors ?? [],
    });
    this.notify();
  }

  private async loop(step: () => Promise<unknown>): Promise<void> {
    while (this.running) {
      await step();
      await delay(PACE_MS);
    }
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

const codes = (errors: readonly GraphQLError[]) => [...new Set(errors.map((e) => `${e.extensions?.code}/${e.extensions?.backend}`))].sort();

const missing = missingEnginePeer();
describeWithPeer('fault injection: each peer stopped and restarted under load', missing ?? 'clickhouse-server', missing ?? 'clickhouse-server', () => {
  let gw: EngineGateway;
  let load: SteadyLoad;

  const health = async (): Promise<HealthReport> => (await (await fetch(`${gw.url}/health`)).json()) as HealthReport;
  const entry = (report: HealthReport, role: string) => report.backends.find((backend) => backend.role === role);
  /** Polls /health until `check` holds (health has no event to await); the last report. */
  const healthUntil = async (what: string, check: (report: HealthReport) => boolean, timeoutMs = 30_000): Promise<HealthReport> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const report = await health();
      if (check(report)) return report;
      if (Date.now() > deadline) throw new Error(`/health never showed ${what}; last: ${JSON.stringify(report)}`);
      await delay(100);
    }
  };

  beforeAll(async () => {
    gw = await startEngineGateway(ENV);
    load = new SteadyLoad(gw);
    load.start(2, 2);
    await load.until('a clean warm-up', () => load.queriesWithin('warm-up').filter((q) => q.statsServed).length >= 5 && load.receipts.size >= 5);
  }, 180_000);
  afterAll(async () => {
    await load?.stop();
    await gw?.close();
  });

  it('starts healthy, every role on its peer', async () => {
    const report = await healthUntil('OK at start', (r) => r.status === 'OK');
    expect(Object.fromEntries(report.backends.map((b) => [b.role, b.adapter]))).toMatchObject({ analytics: 'clickhouse', cache: 'redis', bus: 'kafka' });
    expect(load.queriesWithin('warm-up').every((q) => q.errors.length === 0 && q.toursServed && q.statsServed)).toBe(true);
  });

  it('Redis down: every answer stays whole (uncached), health DEGRADED naming the cache, then OK by itself', async () => {
    await gw.redis.stop();
    load.phase = 'redis-down';
    await load.until('load while Redis is down', () => load.queriesWithin('redis-down').length >= 10 && load.ingestsWithin('redis-down').filter((i) => i.receipt).length >= 3);
    const degraded = await healthUntil('the cache DOWN', (report) => entry(report, 'cache')?.status === 'DOWN');
    expect(degraded.status).toBe('DEGRADED');
    expect(entry(degraded, 'cache')).toMatchObject({ adapter: 'redis', status: 'DOWN' });
    expect(degraded.backends.filter((b) => b.status !== 'OK').map((b) => b.role)).toEqual(['cache']);
    for (const outcome of load.queriesWithin('redis-down')) {
      expect(outcome.errors).toEqual([]);
      expect(outcome.toursServed && outcome.statsServed).toBe(true);
    }
    expect(load.ingestsWithin('redis-down').every((i) => i.receipt)).toBe(true);

    await gw.redis.restart();
    load.phase = 'redis-back';
    await healthUntil('OK after Redis returned', (report) => report.status === 'OK');
    await load.until('answers after Redis returned', () => load.queriesWithin('redis-back').filter((q) => q.errors.length === 0).length >= 5);
  }, 90_000);

  it('ClickHouse down: analytics fields fail alone, the breaker opens and fails them fast, health DEGRADED, then OK by itself', async () => {
    await gw.clickhouse.stop();
    load.phase = 'clickhouse-down';
    await load.until('load while ClickHouse is down', () => load.queriesWithin('clickhouse-down').length >= 10 && load.ingestsWithin('clickhouse-down').length >= 3);
    for (const outcome of load.queriesWithin('clickhouse-down')) {
      expect(outcome.toursServed).toBe(true); // lakehouse fields: data
      expect(outcome.statsServed).toBe(false); // analytics fields: null, with errors of that role only
      expect(outcome.errors.length).toBeGreaterThan(0);
      for (const code of codes(outcome.errors)) expect(['BACKEND_UNAVAILABLE/analytics', 'BACKEND_TIMEOUT/analytics']).toContain(code);
    }
    // Ingest does not depend on analytics.
    expect(load.ingestsWithin('clickhouse-down').every((i) => i.receipt)).toBe(true);

    // Past BREAKER_VOLUME failed calls the breaker is open: health says so, and the fields fail at once.
    const tripped = await healthUntil('the analytics breaker open', (report) => /circuit open/.test(entry(report, 'analytics')?.error ?? ''));
    expect(tripped.status).toBe('DEGRADED');
    expect(entry(tripped, 'analytics')).toMatchObject({ adapter: 'clickhouse', status: 'DOWN' });
    expect(entry(tripped, 'analytics')?.error).toMatch(/circuit open since .*calls fail fast/);
    expect(tripped.backends.filter((b) => b.status !== 'OK').map((b) => b.role)).toEqual(['analytics']);
    const fast = await gw.request(QUERY);
    expect(codes(fast.body.errors ?? [])).toEqual(['BACKEND_UNAVAILABLE/analytics']);

    await gw.clickhouse.restart();
    load.phase = 'clickhouse-back';
    // The breaker lets a trial call through after BREAKER_RESET_MS; the load's next query closes it.
    await healthUntil('OK after ClickHouse returned', (report) => report.status === 'OK');
    await load.until('whole answers after ClickHouse returned', () => load.queriesWithin('clickhouse-back').filter((q) => q.statsServed && q.errors.length === 0).length >= 5);
    const settled = load.queries.slice(-3);
    expect(settled.every((q) => q.statsServed && q.errors.length === 0)).toBe(true);
  }, 90_000);

  it('Kafka stalled: mutations fail with BACKEND_UNAVAILABLE and acknowledge nothing, queries unaffected, health DOWN naming the bus, then OK by itself', async () => {
    gw.kafka.pause();
    load.phase = 'kafka-down';
    await load.until('load while Kafka is stalled', () => load.ingestsWithin('kafka-down').length >= 4 && load.queriesWithin('kafka-down').length >= 5);
    for (const outcome of load.ingestsWithin('kafka-down')) {
      expect(outcome.receipt).toBeUndefined();
      expect(codes(outcome.errors)).toEqual(['BACKEND_UNAVAILABLE/bus']);
    }
    for (const outcome of load.queriesWithin('kafka-down')) {
      expect(outcome.errors).toEqual([]);
      expect(outcome.toursServed && outcome.statsServed).toBe(true);
    }
    const down = await health();
    expect(down.status).toBe('DOWN');
    expect(entry(down, 'bus')).toMatchObject({ adapter: 'kafka', status: 'DOWN' });
    expect(down.backends.filter((b) => b.status !== 'OK').map((b) => b.role)).toEqual(['bus']);

    gw.kafka.resume();
    load.phase = 'kafka-back';
    await healthUntil('OK after Kafka answered again', (report) => report.status === 'OK', 60_000);
    await load.until('receipts after Kafka answered again', () => load.ingestsWithin('kafka-back').filter((i) => i.receipt).length >= 3);
  }, 120_000);

  it('loses no acknowledged event and writes none twice: failed mutations retried with their keys land exactly once', async () => {
    await load.stop();
    const failed = load.failedKeys();
    expect(failed.length).toBeGreaterThan(0); // the stalled bus did refuse some
    for (const key of failed) {
      // A retry may still meet the producer reconnecting or the breaker open; the key makes retrying safe.
      const deadline = Date.now() + 30_000;
      while (!load.receipts.has(key)) {
        const outcome = await load.ingest(key);
        if (!outcome.receipt && Date.now() > deadline) throw new Error(`${key} never acknowledged: ${JSON.stringify(outcome.errors)}`);
        if (!outcome.receipt) await delay(PACE_MS);
      }
    }
    // Every failure anywhere in the run was the bus's, and said so.
    for (const outcome of load.ingests.filter((i) => !i.receipt)) expect(codes(outcome.errors)).toEqual(['BACKEND_UNAVAILABLE/bus']);

    const bus = gw.gateway.services.backends.bus;
    const log = await bus.readAfter(bus.startCursor, 1_000_000);
    const byKey = new Map<string, typeof log>();
    for (const record of log) {
      const probe = (JSON.parse(record.value) as { payload?: { probe?: string } }).payload?.probe;
      if (probe === undefined) continue;
      byKey.set(probe, [...(byKey.get(probe) ?? []), record]);
    }
    expect(load.receipts.size).toBe(new Set(load.ingests.map((i) => i.key)).size);
    for (const [key, receipt] of load.receipts) {
      const records = byKey.get(key) ?? [];
      expect(records.length, `records of ${key}`).toBe(1);
      expect(records[0]).toMatchObject({ eventId: receipt.eventId, topic: receipt.topic, partition: receipt.partition, offset: receipt.offset });
    }
    expect([...byKey.keys()].filter((key) => !load.receipts.has(key))).toEqual([]);
    expect(load.changedReceipts).toEqual([]);
  }, 120_000);
});
