import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startMedallionWorker, type MedallionWorker } from '../../ingest/medallion/worker.ts';
import { loadSourceRegistry } from '../../ingest/registry.ts';
import { decodeCursor } from '../../src/backends/bus/kafka-cursor.ts';
import type { Backends } from '../../src/backends/index.ts';
import { loadConfig } from '../../src/config.ts';
import { MEDALLION_COMMITS_TOPIC, type MedallionCommit } from '../../src/platform/commit.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from '../helpers/gateway.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { committedPast, groupOffsetsAndEnds, ingestBooking as ingestBookingThrough, type KafkaAck } from '../helpers/medallion-worker.ts';
import { describeWithPeer } from '../helpers/peers.ts';

const execFileAsync = promisify(execFile);

/** A gateway that leaves the medallion to the worker (MEDALLION=off), the worker on the lakehouse given. */
describeWithPeer('medallion worker on a Kafka consumer group', 'kcat', 'kcat', (kcat) => {
  let kafka: KafkaMock;
  let gw: TestGateway;
  let admin: ReturnType<Kafka['admin']>;
  const workers: MedallionWorker[] = [];

  beforeAll(async () => {
    kafka = await startKafkaMock();
    gw = await startTestGateway({ env: { KAFKA_BROKERS: kafka.brokers.join(','), MEDALLION: 'off' } });
    admin = new Kafka({ clientId: 'medallion-worker-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });
  afterAll(async () => {
    await admin?.disconnect();
    await gw?.close();
    await kafka?.stop();
  });

  /** The lakehouse is a parameter: here the gateway's embedded one, shared in-process. */
  async function startWorker(groupId: string, options: { backends?: Backends; beforeOffsetCommit?: (position: string) => Promise<void> } = {}): Promise<MedallionWorker> {
    const config = loadConfig({
      DATA_DIR: gw.gateway.services.config.dataDir,
      LOG_LEVEL: 'silent',
      DEMO_ANCHOR: TEST_ANCHOR,
      KAFKA_BROKERS: kafka.brokers.join(','),
      MEDALLION_GROUP_ID: groupId,
      MEDALLION_BATCH_INTERVAL_MS: '20',
      // The mock cluster holds a rebalance open for the session timeout (less a second) when a member joins a live group.
      MEDALLION_SESSION_TIMEOUT_MS: '4000',
    });
    const worker = await startMedallionWorker(config, {
      backends: options.backends ?? gw.gateway.services.backends,
      stopTimeoutMs: 5_000,
      ...(options.beforeOffsetCommit ? { beforeOffsetCommit: options.beforeOffsetCommit } : {}),
    });
    workers.push(worker);
    return worker;
  }

  const ingestBooking = (userId: string, amount: number) => ingestBookingThrough(gw, userId, amount);
  const groupAtEnd = (groupId: string) => groupOffsetsAndEnds(admin, groupId);

  it('lands a booking ingested through the gateway, commits the group offsets after it, and publishes the commit on the bus', async () => {
    // MEDALLION=off: the gateway runs no medallion of its own; what reaches silver, the worker landed.
    expect(gw.gateway.services.pipeline).toBeUndefined();
    const worker = await startWorker('medallion-worker-test-1');
    expect(worker.source.active).toBe(true);
    const userId = 'USER-WORKER-1';
    const ack = await ingestBooking(userId, 310);
    const commit = await committedPast(worker, ack);
    expect(commit.tables).toEqual(expect.arrayContaining(['silver.events', 'gold.user_360']));

    const { body } = await gw.request<{ events: { edges: { node: { id: string; amount: number } }[] }; user: { profile: { totalBookings: number; totalSpend: number } } }>(
      `{ events(filter: { userId: "${userId}" }, first: 5) { edges { node { id amount } } } user(id: "${userId}") { profile { totalBookings totalSpend } } }`,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.events.edges.map((edge) => edge.node.amount)).toEqual([310]);
    expect(body.data!.user.profile).toEqual({ totalBookings: 1, totalSpend: 310 });

    const { committed, ends } = await groupAtEnd('medallion-worker-test-1');
    expect(committed).toEqual(ends);

    // Every gateway hears it: the commit is a record of the commits topic.
    const { stdout } = await execFileAsync(kcat, ['-b', kafka.brokers.join(','), '-C', '-t', MEDALLION_COMMITS_TOPIC, '-o', 'beginning', '-e', '-J', '-q'], { timeout: 10_000 });
    const published = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse((JSON.parse(line) as { payload: string }).payload) as MedallionCommit);
    expect(published).toContainEqual(commit);
  }, 60_000);

  it('feeds the search event index from the records it landed', async () => {
    const indexed: string[] = [];
    let sawAll!: () => void;
    const all = new Promise<void>((resolve) => (sawAll = resolve));
    const backends = gw.gateway.services.backends;
    const search = {
      ...backends.search,
      indexEvents: async (events: readonly { id: string }[]) => {
        indexed.push(...events.map((event) => event.id));
        if (wanted.every((id) => indexed.includes(id))) sawAll();
      },
    };
    const wanted: string[] = [];
    const worker = await startWorker('medallion-worker-test-search', { backends: { ...backends, search } as Backends });
    const ack = await ingestBooking('USER-WORKER-SEARCH', 55);
    wanted.push(ack.eventId);
    if (indexed.includes(ack.eventId)) sawAll();
    await committedPast(worker, ack);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the event was not indexed within 10 s')), 10_000)))]).finally(() =>
      clearTimeout(timer),
    );
    expect(indexed).toContain(ack.eventId);
  }, 60_000);

  it("carries a catalogue update to silver.tours and to the gateway's in-process search index, rebuilt on the commit it hears", async () => {
    const worker = await startWorker('medallion-worker-test-catalogue');
    const { body: before } = await gw.request<{ tours: { edges: { node: { tourId: string; region: string; category: string; destination: { destinationId: string } } }[] } }>(
      '{ tours(first: 1) { edges { node { tourId region category destination { destinationId } } } } }',
    );
    const tour = before.data!.tours.edges[0]!.node;
    // The gateway's rebuild ends by dropping the search answers cached meanwhile: silver.tours alone moves.
    let timer: NodeJS.Timeout | undefined;
    let stopWatching: (() => void) | undefined;
    const rebuilt = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('the search index was not rebuilt within 20 s')), 20_000);
      stopWatching = gw.gateway.services.responseCache.tableVersions.onChange((tables) => {
        if (tables.includes('silver.tours') && !tables.includes('gold.tourism_analytics')) resolve();
      });
    }).finally(() => (clearTimeout(timer), stopWatching?.()));
    const { body } = await gw.request<{ ingestRecords: { results: { receipt: KafkaAck }[] } }>(
      'mutation ($records: [JSON!]!) { ingestRecords(source: "tour_catalogue", records: $records) { results { receipt { eventId topic partition offset } } } }',
      {
        records: [
          { eventType: 'tour_update', tourId: tour.tourId, name: 'Platypusford River Raft', destinationId: tour.destination.destinationId, region: tour.region, price: 321, currency: 'USD',
            rating: 4.2, durationDays: 1, category: tour.category, tags: ['water'], description: null, updatedAt: new Date(Date.now() - 60_000).toISOString(), deleted: false },
        ],
      },
    );
    const commit = await committedPast(worker, body.data!.ingestRecords.results[0]!.receipt);
    expect(commit.tables).toEqual(expect.arrayContaining(['silver.tours', 'gold.tourism_analytics']));
    await rebuilt;
    const { body: found } = await gw.request<{ tour: { name: string; price: number }; searchTours: { edges: { node: { tour: { tourId: string } } }[] } }>(
      `{ tour(id: "${tour.tourId}") { name price } searchTours(query: "Platypusford", first: 5) { edges { node { tour { tourId } } } } }`,
    );
    expect(found.data!.tour).toEqual({ name: 'Platypusford River Raft', price: 321 });
    expect(found.data!.searchTours.edges.map((e) => e.node.tour.tourId)).toEqual([tour.tourId]);
  }, 60_000);

  it('keeps one active replica per group: a second waits with no partitions and takes over when the first leaves', async () => {
    const groupId = 'medallion-worker-test-2';
    const first = await startWorker(groupId);
    const second = await startWorker(groupId);
    // The second join rebalanced the group; the partitions stayed with the replica that held them.
    expect(first.source.active).toBe(true);
    expect(second.source.active).toBe(false);

    const before = await ingestBooking('USER-WORKER-2', 120);
    await committedPast(first, before);
    expect((await second.source.next(100, undefined)).entries).toEqual([]);

    const activated = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the standby did not take over within 20 s')), 20_000);
      const off = second.source.onActiveChange((active) => {
        if (!active) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    await first.stop();
    await activated;
    const after = await ingestBooking('USER-WORKER-2', 80);
    await committedPast(second, after);
    const { body } = await gw.request<{ user: { profile: { totalBookings: number; totalSpend: number } } }>(`{ user(id: "USER-WORKER-2") { profile { totalBookings totalSpend } } }`);
    expect(body.data!.user.profile).toEqual({ totalBookings: 2, totalSpend: 200 });
    const { committed, ends } = await groupAtEnd(groupId);
    expect(committed).toEqual(ends);
  }, 90_000);

  it('lands a batch again after a crash between the landing and the offset commit; silver keeps each event once', async () => {
    const groupId = 'medallion-worker-test-3';
    const userId = 'USER-WORKER-3';
    // Published before the worker starts: its first batch holds all three.
    const acks = [await ingestBooking(userId, 10), await ingestBooking(userId, 20), await ingestBooking(userId, 30)];
    const coversAll = (position: string) => acks.every((ack) => (decodeCursor(position)?.positions.get(ack.topic)?.get(ack.partition) ?? -1n) >= BigInt(ack.offset));
    // Its first pass lands the batch, then the process dies before the offsets are committed:
    // the start fails, and the replica is gone from the group (as a killed process would be, once evicted).
    await expect(
      startWorker(groupId, {
        beforeOffsetCommit: async (position) => {
          if (coversAll(position)) throw new Error('killed before the offset commit');
        },
      }),
    ).rejects.toThrow('killed before the offset commit');

    const restarted = await startWorker(groupId);
    await Promise.all(acks.map((ack) => committedPast(restarted, ack)));

    const ids = acks.map((ack) => `'${ack.eventId}'`).join(', ');
    const lakehouse = gw.gateway.services.backends.lakehouse;
    const silver = await lakehouse.query(`SELECT event_id, count(*) AS n FROM silver.events WHERE event_id IN (${ids}) GROUP BY event_id`);
    expect(silver.map((row) => Number(row['n']))).toEqual([1, 1, 1]);
    const registry = await loadSourceRegistry();
    const bronzeTable = registry.sources.find((source) => source.topic === acks[0]!.topic && source.enabled)!.bronzeTable;
    const [bronze] = await lakehouse.query(`SELECT count(*) AS n FROM ${bronzeTable} WHERE event_id IN (${ids})`);
    // Landed by both workers: bronze holds the batch twice.
    expect(Number(bronze?.['n'])).toBeGreaterThanOrEqual(6);
    const { committed, ends } = await groupAtEnd(groupId);
    expect(committed).toEqual(ends);
  }, 90_000);
});
