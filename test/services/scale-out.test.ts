import { request as httpRequest } from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMedallionWorker, type MedallionWorker } from '../../ingest/medallion/worker.ts';
import { loadConfig } from '../../src/config.ts';
import { followBusCommits } from '../../src/platform/commit-feed.ts';
import type { MedallionCommit } from '../../src/platform/commit.ts';
import { hashApiKey } from '../../src/security/hash-key.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from '../helpers/gateway.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { committedPast, type KafkaAck } from '../helpers/medallion-worker.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startRedis, type RedisPeer } from '../helpers/redis-server.ts';

/**
 * Three gateway instances as a deployment runs them: one Kafka, one Redis, and one medallion (the
 * worker, here in-process on the first instance's embedded lakehouse) whose commits every instance
 * hears on the bus. Each instance keeps its own embedded lakehouse; what is shared is what the
 * deployment shares: events, commit notifications, cached answers and rate-limit budgets.
 */
const OPERATOR_KEY = 'scale-out-test-operator-key-01';
const ENV = {
  MEDALLION: 'off',
  AUTH_MODE: 'enforce',
  // The operator (admin, unlimited) drives the test; anonymous callers spend the public budget.
  API_KEYS: JSON.stringify([{ id: 'operator', sha256: hashApiKey(OPERATOR_KEY), role: 'admin' }]),
  RATE_LIMIT_PUBLIC: '3/m burst 5',
};
const INSTANCES = 3;
const TOUR_FANOUT = 'TOUR0007';

/** Fails after `ms` instead of waiting for ever. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when `gw` has applied a change of `table`, from whichever source; fails after `ms`. */
function heardChange(gw: TestGateway, table: string, ms = 10_000): Promise<void> {
  let stop: () => void = () => undefined;
  const heard = new Promise<void>((resolve) => {
    stop = gw.gateway.services.responseCache.tableVersions.onChange((tables) => {
      if (tables.includes(table)) resolve();
    });
  });
  return within(heard, ms, `${gw.url} hearing a change of ${table}`).finally(() => stop());
}

/** The commits `gw` reads from the commits topic on its bus, from now on; `seen(seq)` waits for one. */
function busCommits(gw: TestGateway): { seen(seq: number, ms?: number): Promise<void>; stop(): void } {
  const heard = new Set<number>();
  const waiters = new Map<number, () => void>();
  const stop = followBusCommits(gw.gateway.services.backends.bus, (commit: MedallionCommit) => {
    heard.add(commit.seq);
    waiters.get(commit.seq)?.();
  });
  return {
    seen: (seq, ms = 10_000) =>
      heard.has(seq) ? Promise.resolve() : within(new Promise<void>((resolve) => waiters.set(seq, resolve)), ms, `${gw.url} reading commit ${seq} from the bus`),
    stop,
  };
}

/** One GraphQL request as the operator (or anonymously from `from`, a loopback address). */
function call(
  gw: TestGateway,
  options: { query: string; variables?: Record<string, unknown>; method?: 'GET' | 'POST'; from?: string },
): Promise<{ status: number; cache: string | undefined; body: { data?: Record<string, unknown> | null; errors?: { extensions?: Record<string, unknown> }[] } }> {
  const method = options.method ?? 'POST';
  const url = new URL(gw.endpoint);
  if (method === 'GET') url.search = new URLSearchParams({ query: options.query }).toString();
  const payload = method === 'POST' ? JSON.stringify({ query: options.query, variables: options.variables }) : undefined;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        ...(options.from ? { localAddress: options.from } : {}),
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(options.from ? {} : { 'x-api-key': OPERATOR_KEY }),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            cache: res.headers['x-cache'] as string | undefined,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: Record<string, unknown> | null },
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Ingests a booking of `tourId` through `gw`; resolves with its receipt. */
async function ingestBooking(gw: TestGateway, tourId: string, amount: number): Promise<KafkaAck> {
  const { body } = await call(gw, {
    query: 'mutation ($input: EventInput!) { ingestEvent(input: $input) { eventId topic partition offset } }',
    variables: { input: { eventType: 'BOOKING', userId: 'USER-SCALE-OUT', tourId, region: 'JP', amount, currency: 'USD' } },
  });
  const receipt = body.data?.['ingestEvent'] as KafkaAck | undefined;
  if (!receipt) throw new Error(`ingestEvent failed: ${JSON.stringify(body.errors)}`);
  return receipt;
}

describeWithPeer('three gateway instances on one Kafka and one Redis', 'kcat', 'kcat', () => {
  let kafka: KafkaMock;
  let redis: RedisPeer;
  let gateways: TestGateway[] = [];
  let worker: MedallionWorker;
  const clients: Client[] = [];

  beforeAll(async () => {
    [kafka, redis] = await Promise.all([startKafkaMock(), startRedis()]);
    const env = { ...ENV, KAFKA_BROKERS: kafka.brokers.join(','), REDIS_URL: redis.url };
    gateways = await Promise.all(Array.from({ length: INSTANCES }, () => startTestGateway({ env })));
    await within(Promise.all(gateways.map((gw) => gw.gateway.services.responseCache.sharing())), 5_000, 'following the shared table versions');
    const config = loadConfig({
      DATA_DIR: gateways[0]!.gateway.services.config.dataDir,
      LOG_LEVEL: 'silent',
      DEMO_ANCHOR: TEST_ANCHOR,
      KAFKA_BROKERS: kafka.brokers.join(','),
      MEDALLION_GROUP_ID: 'scale-out-test',
      MEDALLION_BATCH_INTERVAL_MS: '20',
      // The mock cluster holds a rebalance open for the session timeout (less a second) when a member joins a live group.
      MEDALLION_SESSION_TIMEOUT_MS: '4000',
    });
    worker = await startMedallionWorker(config, { backends: gateways[0]!.gateway.services.backends, stopTimeoutMs: 5_000 });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await worker?.stop();
    await Promise.all(gateways.map((gw) => gw.close()));
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  it('runs no medallion in any instance: the one medallion is the worker', () => {
    expect(gateways.map((gw) => gw.gateway.services.pipeline)).toEqual([undefined, undefined, undefined]);
    expect(worker.source.active).toBe(true);
  });

  it('delivers every event to a subscriber on each instance exactly once, whichever instance took the mutation', async () => {
    const events = 9;
    const received = gateways.map(() => [] as string[]);
    const sentinels = gateways.map(() => {
      let resolve!: () => void;
      return { promise: new Promise<void>((r) => (resolve = r)), resolve };
    });
    const sentinelTour = 'TOUR0008';
    gateways.forEach((gw, index) => {
      const client = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { apiKey: OPERATOR_KEY } });
      clients.push(client);
      client.subscribe<{ eventIngested: { eventId: string; tourId: string } }>(
        { query: `subscription { eventIngested(filter: { eventTypes: [BOOKING], tourIds: ["${TOUR_FANOUT}", "${sentinelTour}"] }) { eventId tourId } }` },
        {
          next: (result) => {
            const event = result.data?.eventIngested;
            if (!event) return;
            if (event.tourId === sentinelTour) sentinels[index]!.resolve();
            else received[index]!.push(event.eventId);
          },
          error: (error) => received[index]!.push(`error: ${JSON.stringify(error)}`),
          complete: () => undefined,
        },
      );
    });
    // graphql-ws does not acknowledge a subscribe: wait until each instance's fan-out holds it.
    await within(
      (async () => {
        while (gateways.some((gw) => gw.gateway.services.fanout.size < 1)) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      10_000,
      'a subscription live on every instance',
    );

    const sent: string[] = [];
    for (let i = 0; i < events; i += 1) sent.push((await ingestBooking(gateways[i % INSTANCES]!, TOUR_FANOUT, 100 + i)).eventId);
    // All of one user's bookings share a partition, so the sentinel, sent last, arrives after every
    // one of them: by then each subscriber has everything it will ever get of them.
    await ingestBooking(gateways[events % INSTANCES]!, sentinelTour, 1);
    await within(Promise.all(sentinels.map((s) => s.promise)), 15_000, 'the last event on every subscriber');

    for (const ids of received) expect(ids).toEqual(sent);
    expect(new Set(sent).size).toBe(events);
  }, 60_000);

  it('drops the cached answers that read a committed table on every instance, and keeps the others', async () => {
    // One query per instance: the response cache is shared, so a recomputed answer stored by one
    // instance would be a hit on the next; each instance must show its own miss.
    const tagged = ['JP', 'TH', 'VN'].map((region) => `{ regionalStats(regions: ["${region}"]) { region bookings } }`);
    const untouched = '{ destinations(first: 3) { edges { node { id name } } } }';
    const get = (gw: TestGateway, query: string) => call(gw, { query, method: 'GET' });
    expect((await get(gateways[0]!, untouched)).cache).toBe('MISS');
    for (const [index, gw] of gateways.entries()) {
      expect((await get(gw, tagged[index]!)).cache).toBe('MISS');
      expect((await get(gw, tagged[index]!)).cache).toBe('HIT');
      expect((await get(gw, untouched)).cache).toBe('HIT');
    }

    const changes = gateways.map((gw) => heardChange(gw, 'silver.events', 30_000));
    const feeds = gateways.map((gw) => busCommits(gw));
    const ack = await ingestBooking(gateways[1]!, 'TOUR0003', 99);
    const commit = await committedPast(worker, ack, 30_000);
    expect(commit.tables).toContain('silver.events');
    // The notification reaches every instance as a record of the commits topic ...
    try {
      await Promise.all(feeds.map((feed) => feed.seen(commit.seq)));
    } finally {
      for (const feed of feeds) feed.stop();
    }
    // ... and each has dropped what read silver.events.
    await Promise.all(changes);

    for (const [index, gw] of gateways.entries()) {
      const answer = await get(gw, tagged[index]!);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.cache).toBe('MISS');
      expect((await get(gw, untouched)).cache).toBe('HIT');
    }
    // The instance whose lakehouse the medallion wrote answers with the new booking.
    const recomputed = (await get(gateways[0]!, tagged[0]!)).body.data as { regionalStats: { bookings: number }[] };
    expect(recomputed.regionalStats[0]!.bookings).toBeGreaterThan(0);
  }, 60_000);

  it('gives a caller one rate-limit budget across the three instances', async () => {
    const from = '127.0.0.9';
    const statuses: number[] = [];
    // 3 per minute plus a reserve of 2, spread round-robin: five pass in total, not fifteen.
    for (let i = 0; i < 6; i += 1) statuses.push((await call(gateways[i % INSTANCES]!, { query: '{ ping }', from })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    for (const gw of gateways) {
      const refused = await call(gw, { query: '{ ping }', from });
      expect(refused.status).toBe(429);
      expect(refused.body.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    }
  }, 30_000);
});
