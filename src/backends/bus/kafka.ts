import { randomUUID } from 'node:crypto';
import { Partitioners, type Producer } from 'kafkajs';
import { BackendError } from '../../errors.ts';
import { probeHealth } from '../health.ts';
import { createKafkaClient, type KafkaLogLevel, type KafkaLogSink } from './kafka-client.ts';
import { encodeCursor, PositionTracker } from './kafka-cursor.ts';
import { IdempotencyKeys } from './kafka-idempotency.ts';
import { createKafkaPublisher } from './kafka-publish.ts';
import { kafkaFollows, kafkaReplay } from './kafka-replay.ts';
import { createKafkaTail, type KafkaTail } from './kafka-tail.ts';
import { kafkaTopics } from './kafka-topics.ts';
import { openKafkaWire, partitionKey } from './kafka-wire.ts';
import type { BusPort } from './port.ts';

// The log types of the bus's options, for those who build them.
export type { KafkaLogLevel, KafkaLogSink } from './kafka-client.ts';

/** Options of the Kafka bus. */
export interface KafkaBusOptions {
  /** Bootstrap brokers, `host:port`. Required, at least one. */
  brokers: readonly string[];
  /** Client id the brokers see (quotas, request logs). Default `'nexus-gateway'`. */
  clientId?: string;
  /**
   * Names this gateway instance. Its tail consumer joins the group `<clientId>.tail.<instanceId>`,
   * a group of its own, so every instance reads every event. Default: a random id per start.
   */
  instanceId?: string;
  /** Topics to tail and replay (the event topics). Created at start-up when missing. */
  topics: readonly string[];
  /** Partitions of topics this adapter creates through the admin API. Default: the brokers' `num.partitions`. */
  numPartitions?: number;
  /** Budget of one request to a broker. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /**
   * Longest a publish waits for its acknowledgement, queueing included. Past it the publish
   * rejects with a `BackendError` and acknowledges nothing: records still queued are dropped
   * unwritten; a request already sent may still be written, and publishing the same idempotency
   * key again then answers its first ack instead of writing it twice (see `kafka-in-doubt.ts`).
   * Default `requestTimeoutMs`.
   */
  publishTimeoutMs?: number;
  /** kafkajs and adapter log level. Default `'warn'`. */
  logLevel?: KafkaLogLevel;
  /** Log sink. Default: one JSON line per entry on stderr. */
  log?: KafkaLogSink;
  /**
   * Topic remembering idempotency keys across restarts and instances (key = idempotency key,
   * value = the first ack), read whole at start-up and tailed after; written before a keyed
   * publish is answered. Created compacted (`compact,delete`, see `idempotencyRetentionMs`) where
   * CreateTopics works; elsewhere auto-created as the brokers' default (create it compacted by
   * hand). Two instances given the same new key within the same few milliseconds can both write:
   * a guarantee across concurrent instances needs one owner per key (e.g. Redis `SET NX`).
   * `null`: keys are remembered by this process only. Default `'nexus_gateway_idempotency'`.
   */
  idempotencyTopic?: string | null;
  /** How long the idempotency topic keeps a key (`retention.ms`, where this adapter creates it). Default 7 days. */
  idempotencyRetentionMs?: number;
  /** Budget of a health probe; over it the bus reports `DOWN`. Default 2,000 ms. */
  healthTimeoutMs?: number;
  /** Budget of start-up (connect, topics, tail group join); over it start-up fails. Default 30,000 ms. */
  startTimeoutMs?: number;
  /** Longest `close()` waits for each client to disconnect (an unreachable cluster makes kafkajs retry). Default 3,000 ms. */
  closeTimeoutMs?: number;
  /** Longest a tail fetch waits for new records on an idle cluster (Kafka answers as soon as one arrives). Default 500 ms. */
  tailMaxWaitMs?: number;
  /** Longest the tail holds records back while a partition that is behind catches up (log order across partitions). Default 250 ms. */
  tailReorderMs?: number;
}

/** What this cluster let the adapter do (decided at start-up, from the cluster's metadata). */
export interface KafkaCapabilities {
  /**
   * Writes go through kafkajs's idempotent producer (a retried produce is never written twice).
   * kafkajs asks the controller for a producer id; a cluster whose metadata names no reachable
   * controller (librdkafka's mock cluster says controller 0, brokers 1..n) gets acks=-1 writes
   * without idempotence.
   */
  idempotentProducer: boolean;
  /** Missing topics are created through the admin API (also routed to the controller); otherwise the brokers' auto-creation is relied on. */
  createTopics: boolean;
}

/** The Kafka bus: the bus port, plus what it found the cluster able to do. */
export interface KafkaBus extends BusPort {
  readonly capabilities: KafkaCapabilities;
}

const ADAPTER = 'kafka';

/**
 * The bus on Kafka, composed of one module per concept: publishing with group commit and in-doubt
 * writes (`kafka-publish.ts`), the idempotency-key topic (`kafka-idempotency.ts`), the live tail
 * (`kafka-tail.ts`), replays (`kafka-replay.ts`) over raw offset reads (`kafka-wire.ts`).
 *
 * One consumer per instance tails the event topics from the offsets of start-up; its group is
 * unique to the instance. A cursor holds the last offset of every partition (see
 * `kafka-cursor.ts`): the cursor of a tailed entry names the entry and everything the tail
 * delivered before it, on every partition, so `readAfter(entry.cursor)` returns exactly what the
 * tail delivered after it. Order is Kafka's: strict per partition; across partitions, by publish
 * time (a partition catching up holds the others back, up to `tailReorderMs`).
 */
export async function createKafkaBus(options: KafkaBusOptions): Promise<KafkaBus> {
  const clientId = options.clientId ?? 'nexus-gateway';
  const instanceId = options.instanceId ?? randomUUID();
  const topics = [...new Set(options.topics)];
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const publishTimeoutMs = options.publishTimeoutMs ?? requestTimeoutMs;
  const healthTimeoutMs = options.healthTimeoutMs ?? 2_000;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 3_000;
  const idempotencyTopic = options.idempotencyTopic === undefined ? 'nexus_gateway_idempotency' : options.idempotencyTopic;
  if (options.brokers.length === 0) throw new TypeError('createKafkaBus: `brokers` is empty (expected at least one "host:port")');
  for (const topic of [...topics, ...(idempotencyTopic ? [idempotencyTopic] : [])]) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new TypeError(`createKafkaBus: "${topic}" is not a legal Kafka topic name`);
  }
  if (idempotencyTopic && topics.includes(idempotencyTopic)) {
    throw new TypeError(`createKafkaBus: the idempotency topic "${idempotencyTopic}" cannot also be an event topic`);
  }

  const { kafka, log } = createKafkaClient({ brokers: options.brokers, clientId, requestTimeoutMs, logLevel: options.logLevel, log: options.log });
  const admin = kafka.admin();
  const wire = openKafkaWire(kafka);
  const backendError = (message: string, cause?: unknown, timedOut = false) =>
    new BackendError({ role: 'bus', adapter: ADAPTER, message, cause, timedOut });

  let closed = false;
  let producer: Producer | undefined;
  let tail: KafkaTail | undefined;
  let capabilities: KafkaCapabilities = { idempotentProducer: false, createTopics: false };
  /** Last offset the tail delivered, per partition of the event topics (cursor of tailed entries). */
  const tailed = new PositionTracker();
  /** Next offset the tail consumer must deliver, per partition of every topic it reads. */
  const nextOffset = new Map<string, bigint>();
  /** Offsets this process had acknowledged (merged into ack cursors and subscription floors). */
  const acked = new PositionTracker();
  const keys = new IdempotencyKeys({ topic: idempotencyTopic, wire, requestTimeoutMs, log });
  const ensureTopics = kafkaTopics({
    admin,
    wire,
    canCreate: () => capabilities.createTopics,
    requestTimeoutMs,
    numPartitions: options.numPartitions,
    idempotencyTopic,
    idempotencyRetentionMs: options.idempotencyRetentionMs ?? 7 * 24 * 3_600_000,
    log,
  });

  /** Positions of the event topics known now: delivered by the tail or acknowledged here. */
  function knownPositions(extraTopic?: string): PositionTracker {
    const known = new PositionTracker(tailed.snapshot(topics));
    for (const [topic, partitions] of acked.snapshot(extraTopic === undefined ? topics : [...topics, extraTopic])) {
      for (const [partition, offset] of partitions) known.advance(topic, partition, offset);
    }
    return known;
  }

  const publisher = createKafkaPublisher({
    producer: () => producer!,
    wire,
    ensureTopics,
    keys,
    acked,
    knownPositions,
    requestTimeoutMs,
    publishTimeoutMs,
    backendError,
  });

  async function start(): Promise<void> {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const controllerKnown = cluster.brokers.some((broker) => broker.nodeId === cluster.controller);
    capabilities = Object.freeze({ idempotentProducer: controllerKnown, createTopics: controllerKnown });
    if (!controllerKnown) {
      log('warn', 'KafkaBus', 'the cluster names no reachable controller: writes are acks=-1 without idempotence, topics rely on auto-creation', {
        controller: cluster.controller,
        brokers: cluster.brokers.map((broker) => broker.nodeId),
      });
    }

    const tailTopics = [...topics, ...(idempotencyTopic ? [idempotencyTopic] : [])];
    const counts = await ensureTopics(tailTopics);
    const marks = await wire.watermarks(counts);
    for (const [topic, count] of counts) {
      for (let partition = 0; partition < count; partition += 1) {
        const high = marks.get(partitionKey(topic, partition))?.high ?? 0n;
        nextOffset.set(partitionKey(topic, partition), high);
        if (topic !== idempotencyTopic) tailed.advance(topic, partition, high - 1n);
      }
    }
    if (idempotencyTopic) await keys.restore(counts.get(idempotencyTopic) ?? 0, marks);

    // Start-up may have timed out meanwhile (close() ran): open nothing more.
    if (closed) return;
    producer = kafka.producer({
      idempotent: capabilities.idempotentProducer,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Without idempotence, a produce kafkajs sends again after a timeout can be written twice
      // (a stalled broker appends both once it answers again): each batch is sent once, and an
      // unknown outcome is settled when its idempotency key is published again (kafka-in-doubt.ts).
      ...(capabilities.idempotentProducer ? {} : { retry: { retries: 0 } }),
    });
    await producer.connect();

    if (tailTopics.length === 0 || closed) return;
    tail = createKafkaTail({
      kafka,
      groupId: `${clientId}.tail.${instanceId}`,
      topics: tailTopics,
      keys,
      nextOffset,
      tailed,
      maxWaitMs: options.tailMaxWaitMs ?? 500,
      reorderMs: options.tailReorderMs ?? 250,
      isClosed: () => closed,
      log,
    });
    await tail.start();
  }

  async function probe(): Promise<'OK' | 'DEGRADED'> {
    if (closed) throw new Error('closed');
    await withTimeout(admin.describeCluster(), healthTimeoutMs, () => new Error(`no answer from the brokers within ${healthTimeoutMs} ms`));
    // The brokers answer but this instance's tail is down (crashed, restarting): publishes work, live events do not.
    return tail?.down ? 'DEGRADED' : 'OK';
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      closed = true;
      // Everything queued is written (or fails) before the producer goes.
      await publisher.idle();
      // With the brokers gone, kafkajs's consumer only stops once its retries are spent: close()
      // does not wait for that (the consumer stops by itself, and will not restart).
      const bounded = (step: Promise<unknown> | undefined) =>
        step && withTimeout(step, closeTimeoutMs, () => new Error('disconnect timed out')).catch(() => undefined);
      await Promise.all([bounded(tail?.close()), bounded(producer?.disconnect()), bounded(wire.close())]);
      await bounded(admin.disconnect());
    })();
    return closing;
  }

  try {
    await withTimeout(start(), startTimeoutMs, () => backendError(`start-up took longer than ${startTimeoutMs} ms`, undefined, true));
  } catch (error) {
    await close();
    throw error instanceof BackendError ? error : backendError('could not start', error);
  }

  return {
    adapter: ADAPTER,
    // Every partition from its first record (time 0: nothing published before it is left out).
    startCursor: encodeCursor({ time: 0, positions: new Map() }),
    capabilities,
    follows: kafkaFollows,
    publish: (records) => (closed ? Promise.reject(backendError('the bus is closed')) : publisher.publish(records)),
    tail(deliver) {
      // Without topics to tail nothing is ever delivered.
      return tail ? tail.listen(deliver, knownPositions().snapshot()) : () => false;
    },
    readAfter: kafkaReplay({ wire, topics, idempotencyTopic, isClosed: () => closed, backendError }),
    health: () => probeHealth('bus', ADAPTER, probe),
    close,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  // The loser keeps running; its failure must not surface as an unhandled rejection.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
