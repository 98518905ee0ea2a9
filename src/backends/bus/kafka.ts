import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel as KafkaJsLevel } from 'kafkajs';
import type { Consumer, IHeaders, logCreator, Message, PartitionMetadata, Producer } from 'kafkajs';
import { BackendError } from '../../errors.ts';
import { probeHealth } from '../health.ts';
import { decodeCursor, encodeCursor, LogOrderBuffer, mergeInLogOrder, PositionTracker, type Ordered, type Positions } from './kafka-cursor.ts';
import { findInDoubtWrites, InDoubtWrites } from './kafka-in-doubt.ts';
import { openKafkaWire, partitionKey, type FetchedRecord, type PartitionRange } from './kafka-wire.ts';
import { isUnknownPosition, unknownPosition, type BusPort, type BusRecord, type LogEntry, type PublishAck } from './port.ts';

/** How much kafkajs and this adapter log. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** Where log lines go: `namespace` names the kafkajs component (or `KafkaBus`). */
export type KafkaLogSink = (level: Exclude<KafkaLogLevel, 'nothing'>, namespace: string, message: string, extra: Record<string, unknown>) => void;

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
  /** Topic `deadLetter` writes to. Default `'topic_dead_letter'`. */
  deadLetterTopic?: string;
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

/** The Kafka bus: the bus port, plus what it found the cluster able to do, plus a dead-letter topic. */
export interface KafkaBus extends BusPort {
  readonly capabilities: KafkaCapabilities;
  /**
   * Publishes `record` to the dead-letter topic (key and value unchanged) with `reason`, its
   * original topic and the time in headers; resolves once durable. Idempotency keys are kept as
   * a header but not applied: every dead-lettering is written.
   */
  deadLetter(record: BusRecord, reason: string): Promise<PublishAck>;
}

const ADAPTER = 'kafka';
/** Record headers written by this adapter. */
export const HEADER = {
  eventId: 'eventId',
  idempotencyKey: 'idempotencyKey',
  reason: 'deadLetterReason',
  originalTopic: 'originalTopic',
  deadLetteredAt: 'deadLetteredAt',
} as const;
const LEVELS: Record<KafkaLogLevel, number> = { nothing: 0, error: 1, warn: 2, info: 4, debug: 5 };

interface Outgoing {
  record: BusRecord;
  headers: Record<string, string>;
  /** Dead letters are always written, whatever their idempotency key. */
  deduplicate: boolean;
}

interface Pending {
  items: readonly Outgoing[];
  resolve: (acks: PublishAck[]) => void;
  reject: (error: unknown) => void;
  /** `queued` until its batch starts; `sent` once written (or being written); `settled` after answering. */
  state: 'queued' | 'sent' | 'settled';
  /** Rejects the publish when it has waited `publishTimeoutMs`. */
  deadline: NodeJS.Timeout | undefined;
}

/** A record on its way to the listeners, before its cursor is known. */
interface Draft extends Ordered {
  key: string;
  eventId: string;
  value: string;
}

interface Listener {
  deliver: (entries: readonly LogEntry[]) => void;
  /** Positions known when it subscribed: records at or below them are older than the subscription. */
  floor: Positions | undefined;
}

/**
 * The bus on Kafka. Publishes are grouped while one is in flight (one produce request for
 * concurrent mutations) and acknowledged from the produce response, after every in-sync replica
 * has the records (acks=-1). Each record goes to the partition of its key (kafkajs's default,
 * Java-compatible murmur2 partitioner, applied here so each ack knows its partition and offset).
 *
 * One consumer per instance tails the event topics from the offsets of start-up; its group is
 * unique to the instance. A cursor holds the last offset of every partition (see
 * `kafka-cursor.ts`): the cursor of a tailed entry names the entry and everything the tail
 * delivered before it, on every partition, so `readAfter(entry.cursor)` returns exactly what the
 * tail delivered after it. Replays read offset ranges directly (`kafka-wire.ts`) and merge
 * partitions by publish time. Order is Kafka's: strict per partition; across partitions, by
 * publish time (a partition catching up holds the others back, up to `tailReorderMs`).
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
  const deadLetterTopic = options.deadLetterTopic ?? 'topic_dead_letter';
  const idempotencyTopic = options.idempotencyTopic === undefined ? 'nexus_gateway_idempotency' : options.idempotencyTopic;
  const threshold = LEVELS[options.logLevel ?? 'warn'];
  const sink = options.log ?? stderrSink;
  const log: KafkaLogSink = (level, namespace, message, extra) => {
    if (LEVELS[level] <= threshold) sink(level, namespace, message, extra);
  };
  if (options.brokers.length === 0) throw new TypeError('createKafkaBus: `brokers` is empty (expected at least one "host:port")');
  for (const topic of [...topics, deadLetterTopic, ...(idempotencyTopic ? [idempotencyTopic] : [])]) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new TypeError(`createKafkaBus: "${topic}" is not a legal Kafka topic name`);
  }
  if (idempotencyTopic && topics.includes(idempotencyTopic)) {
    throw new TypeError(`createKafkaBus: the idempotency topic "${idempotencyTopic}" cannot also be an event topic`);
  }

  const kafka = new Kafka({
    clientId,
    brokers: [...options.brokers],
    requestTimeout: requestTimeoutMs,
    logLevel: toKafkaJsLevel(options.logLevel ?? 'warn'),
    logCreator: kafkaJsLogCreator(log),
  });
  const admin = kafka.admin();
  const wire = openKafkaWire(kafka);
  const backendError = (message: string, cause?: unknown, timedOut = false) =>
    new BackendError({ role: 'bus', adapter: ADAPTER, message, cause, timedOut });

  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  let capabilities: KafkaCapabilities = { idempotentProducer: false, createTopics: false };
  /** Last offset the tail delivered, per partition of the event topics (cursor of tailed entries). */
  const tailed = new PositionTracker();
  /** Next offset the tail consumer must deliver, per partition of every topic it reads. */
  const nextOffset = new Map<string, bigint>();
  /** Offsets this process had acknowledged (merged into ack cursors and subscription floors). */
  const acked = new PositionTracker();
  /** First ack of each idempotency key (stored with `duplicate: true`). */
  const byIdempotencyKey = new Map<string, PublishAck>();
  const listeners = new Set<Listener>();
  let tailJoined = false;

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

    const counts = await ensureTopics([...topics, ...(idempotencyTopic ? [idempotencyTopic] : [])]);
    const eventCounts = new Map(topics.map((topic) => [topic, counts.get(topic) ?? 0]));
    const marks = await wire.watermarks(counts);
    for (const [topic, count] of counts) {
      for (let partition = 0; partition < count; partition += 1) {
        const high = marks.get(partitionKey(topic, partition))?.high ?? 0n;
        nextOffset.set(partitionKey(topic, partition), high);
        if (eventCounts.has(topic)) tailed.advance(topic, partition, high - 1n);
      }
    }
    if (idempotencyTopic) await restoreIdempotencyKeys(idempotencyTopic, counts.get(idempotencyTopic) ?? 0, marks);

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

    const tailTopics = [...topics, ...(idempotencyTopic ? [idempotencyTopic] : [])];
    if (tailTopics.length > 0) await startTail(tailTopics);
  }

  /** Makes sure `wanted` exist; returns their partition counts. */
  async function ensureTopics(wanted: readonly string[]): Promise<Map<string, number>> {
    let counts = await wire.partitionCounts(wanted);
    let missing = wanted.filter((topic) => !counts.has(topic));
    if (missing.length === 0) return counts;
    if (capabilities.createTopics) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          timeout: requestTimeoutMs,
          topics: missing.map((topic) => ({
            topic,
            ...(options.numPartitions ? { numPartitions: options.numPartitions } : {}),
            ...(topic === idempotencyTopic
              ? {
                  configEntries: [
                    // Compacted: one record per key survives; deleted after the retention window.
                    { name: 'cleanup.policy', value: 'compact,delete' },
                    { name: 'retention.ms', value: String(options.idempotencyRetentionMs ?? 7 * 24 * 3_600_000) },
                  ],
                }
              : {}),
          })),
        });
      } catch (error) {
        // CreateTopics refused (policy, ACLs, an old broker): the produce path's auto-creation may still work.
        log('warn', 'KafkaBus', 'CreateTopics failed; relying on auto-creation', { topics: missing, error: errorMessage(error) });
      }
      counts = await wire.partitionCounts(wanted);
      missing = wanted.filter((topic) => !counts.has(topic));
    }
    if (missing.length > 0) {
      await wire.autoCreate(missing);
      counts = await wire.partitionCounts(wanted);
      missing = wanted.filter((topic) => !counts.has(topic));
    }
    if (missing.length > 0) {
      throw new Error(`topic(s) ${missing.join(', ')} do not exist and could not be created (is auto.create.topics.enable off?)`);
    }
    return counts;
  }

  async function restoreIdempotencyKeys(topic: string, count: number, marks: Map<string, { low: bigint; high: bigint }>): Promise<void> {
    const ranges: PartitionRange[] = [];
    for (let partition = 0; partition < count; partition += 1) {
      const mark = marks.get(partitionKey(topic, partition));
      if (mark) ranges.push({ topic, partition, from: mark.low, to: mark.high });
    }
    for (const queue of await wire.read(ranges, Number.POSITIVE_INFINITY)) for (const record of queue) rememberKey(record.key, record.value);
  }

  /** Learns a key from the idempotency topic. The first record of a key wins: one key, one partition, one order for every instance. */
  function rememberKey(key: Buffer | null, value: Buffer | null): void {
    if (!key || !value) return;
    const idempotencyKey = key.toString('utf8');
    if (byIdempotencyKey.has(idempotencyKey)) return;
    try {
      const ack = JSON.parse(value.toString('utf8')) as Partial<PublishAck>;
      if (typeof ack.eventId !== 'string' || typeof ack.topic !== 'string' || typeof ack.partition !== 'number') return;
      if (typeof ack.offset !== 'string' || typeof ack.cursor !== 'string') return;
      byIdempotencyKey.set(idempotencyKey, {
        eventId: ack.eventId,
        topic: ack.topic,
        partition: ack.partition,
        offset: ack.offset,
        duplicate: true,
        cursor: ack.cursor,
      });
    } catch {
      // Not written by this adapter: ignored.
    }
  }

  async function startTail(tailTopics: string[]): Promise<void> {
    if (closed) return;
    const tail = kafka.consumer({
      groupId: `${clientId}.tail.${instanceId}`,
      maxWaitTimeInMs: options.tailMaxWaitMs ?? 500,
      allowAutoTopicCreation: false,
      // kafkajs restarts a crashed consumer after a delay, also when the crash came from close().
      retry: { retries: 5, restartOnFailure: async () => !closed },
    });
    consumer = tail;
    let joined!: () => void;
    const joinedOnce = new Promise<void>((resolve) => (joined = resolve));
    // On every (re)join, start where the tail stopped: from the start-up offsets the first time,
    // after a crash or rebalance from the last delivered record. A partition unknown at start-up
    // was created since, so all of it is new.
    tail.on(tail.events.GROUP_JOIN, ({ payload }) => {
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          tail.seek({ topic, partition, offset: (nextOffset.get(partitionKey(topic, partition)) ?? 0n).toString() });
        }
      }
      tailJoined = true;
      joined();
    });
    tail.on(tail.events.CRASH, ({ payload }) => {
      tailJoined = false;
      log('error', 'KafkaBus', 'the tail consumer crashed', { error: errorMessage(payload.error), restart: payload.restart });
    });
    await tail.connect();
    await tail.subscribe({ topics: tailTopics, fromBeginning: false });
    tail
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const key = partitionKey(batch.topic, batch.partition);
          let expected = nextOffset.get(key) ?? 0n;
          const drafts: Draft[] = [];
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            // Redelivered after a rejoin: each record goes out once.
            if (offset < expected) continue;
            expected = offset + 1n;
            if (batch.topic === idempotencyTopic) {
              rememberKey(message.key, message.value);
              continue;
            }
            drafts.push(
              draftOf({
                topic: batch.topic,
                partition: batch.partition,
                offset,
                timestamp: Number(message.timestamp),
                key: message.key,
                value: message.value,
                headers: message.headers ?? {},
              }),
            );
          }
          nextOffset.set(key, expected);
          if (batch.topic === idempotencyTopic) return;
          const last = batch.messages[batch.messages.length - 1];
          undelivered.add(key, drafts, last && Number(last.timestamp), expected < BigInt(batch.highWatermark));
          // The other batches of this fetch are handed over before the next turn of the event loop.
          if (!flushScheduled) {
            flushScheduled = true;
            setImmediate(() => flush(false));
          }
        },
      })
      .catch((error: unknown) => log('error', 'KafkaBus', 'the tail consumer stopped', { error: errorMessage(error) }));
    await joinedOnce;
  }

  // Delivery in log order across partitions (see LogOrderBuffer); a partition that stays behind
  // holds the others back for at most `tailReorderMs`.
  const undelivered = new LogOrderBuffer<Draft>();
  const reorderMs = options.tailReorderMs ?? 250;
  let flushScheduled = false;
  let holdTimer: NodeJS.Timeout | undefined;

  function flush(force: boolean): void {
    flushScheduled = false;
    const entries = undelivered.release(force).map((draft) => {
      tailed.advance(draft.topic, draft.partition, draft.offset);
      return toEntry(draft, tailed.cursor(draft.timestamp));
    });
    if (undelivered.size === 0) {
      clearTimeout(holdTimer);
      holdTimer = undefined;
    } else {
      holdTimer ??= setTimeout(() => {
        holdTimer = undefined;
        flush(true);
      }, reorderMs);
    }
    if (entries.length === 0) return;
    for (const listener of listeners) {
      const fresh = listener.floor ? entries.filter((entry) => isAfterFloor(listener, entry)) : entries;
      if (listener.floor && [...listener.floor].every(([topic, partitions]) => [...partitions].every(([p, o]) => (tailed.get(topic, p) ?? -1n) >= o))) {
        listener.floor = undefined; // the tail has passed every record older than the subscription
      }
      if (fresh.length === 0) continue;
      try {
        listener.deliver(fresh);
      } catch (error) {
        log('error', 'KafkaBus', 'a tail listener threw', { error: errorMessage(error) });
      }
    }
  }

  /** Positions of the event topics known now: delivered by the tail or acknowledged here. */
  function knownPositions(extraTopic?: string): PositionTracker {
    const known = new PositionTracker(tailed.snapshot(topics));
    for (const [topic, partitions] of acked.snapshot(extraTopic === undefined ? topics : [...topics, extraTopic])) {
      for (const [partition, offset] of partitions) known.advance(topic, partition, offset);
    }
    return known;
  }

  // Group commit, as in the embedded log: publishes that arrive while a write is in flight go
  // out together in the next produce request.
  let queue: Pending[] = [];
  let writing: Promise<void> | undefined;
  let closed = false;

  /** Keyed writes that failed after being sent: they may be in the log. */
  const inDoubt = new InDoubtWrites();

  function enqueue(items: readonly Outgoing[]): Promise<PublishAck[]> {
    if (closed) return Promise.reject(backendError('the bus is closed'));
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<PublishAck[]>((resolve, reject) => {
      const pending: Pending = { items, resolve, reject, state: 'queued', deadline: undefined };
      pending.deadline = setTimeout(() => expire(pending), publishTimeoutMs);
      queue.push(pending);
      writing ??= drain();
    });
  }

  /** Answers a publish once: its deadline may have answered it already. */
  function settle(pending: Pending, outcome: { acks: PublishAck[] } | { error: unknown }): void {
    if (pending.state === 'settled') return;
    pending.state = 'settled';
    clearTimeout(pending.deadline);
    if ('acks' in outcome) pending.resolve(outcome.acks);
    else pending.reject(outcome.error);
  }

  /**
   * A publish out of time fails, acknowledging nothing. Still queued, it is dropped unwritten;
   * already sent (the brokers stopped answering mid-write), it may yet be written, which a
   * publish of the same idempotency key will find out (see `inDoubt`).
   */
  function expire(pending: Pending): void {
    if (pending.state === 'queued') {
      queue = queue.filter((other) => other !== pending);
      settle(pending, { error: backendError(`no acknowledgement within ${publishTimeoutMs} ms (the brokers are not answering); nothing was written`) });
    } else {
      settle(pending, {
        error: backendError(
          `no acknowledgement within ${publishTimeoutMs} ms; the write may still complete: publish again with the same idempotency key to get its outcome without writing it twice`,
        ),
      });
    }
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        await writeBatch(batch);
      }
    } finally {
      writing = undefined;
    }
  }

  type Slot = { stored: PublishAck } | { fresh: number; duplicate: boolean };

  async function writeBatch(batch: Pending[]): Promise<void> {
    for (const pending of batch) pending.state = 'sent';
    const keyed: Message[] = [];
    if (inDoubt.size > 0) {
      const doubtful = inDoubt.take(batch.flatMap((pending) => pending.items.flatMap((item) => (item.deduplicate && item.record.idempotencyKey ? [item.record.idempotencyKey] : []))));
      if (doubtful.size > 0) {
        try {
          const found = await findInDoubtWrites(wire, doubtful, (record) => headerText(record.headers, HEADER.idempotencyKey));
          for (const [key, record] of found) {
            const ack = ackOfRecord(record);
            byIdempotencyKey.set(key, ack);
            if (idempotencyTopic) keyed.push({ key, value: JSON.stringify(ack), timestamp: String(Date.now()) });
          }
        } catch (error) {
          inDoubt.restore(doubtful);
          const failure = backendError('could not learn whether an earlier attempt of this write was made', error);
          for (const pending of batch) settle(pending, { error: failure });
          return;
        }
      }
    }
    const timestamp = Date.now();
    const fresh: { item: Outgoing; partition: number; from?: bigint }[] = [];
    const inBatch = new Map<string, number>();
    const slots: Slot[][] = batch.map((pending) =>
      pending.items.map((item): Slot => {
        const key = item.deduplicate ? item.record.idempotencyKey : null;
        const stored = key ? byIdempotencyKey.get(key) : undefined;
        if (stored) return { stored };
        const earlier = key ? inBatch.get(key) : undefined;
        if (earlier !== undefined) return { fresh: earlier, duplicate: true };
        if (key) inBatch.set(key, fresh.length);
        fresh.push({ item, partition: 0 });
        return { fresh: fresh.length - 1, duplicate: false };
      }),
    );

    let acks: PublishAck[];
    try {
      acks = fresh.length > 0 ? await produce(fresh, timestamp) : [];
    } catch (error) {
      for (const { item, partition, from } of fresh) {
        const key = item.deduplicate ? item.record.idempotencyKey : null;
        // Sent (`from` is set just before) and failed: it may be in the log all the same.
        if (key && from !== undefined) inDoubt.mark(key, { topic: item.record.topic, partition, from });
      }
      const failure = error instanceof BackendError ? error : backendError('the write was not acknowledged', error);
      for (const pending of batch) settle(pending, { error: failure });
      return;
    }

    for (const [key, index] of inBatch) {
      const ack = acks[index]!;
      byIdempotencyKey.set(key, { ...ack, duplicate: true });
      if (idempotencyTopic) keyed.push({ key, value: JSON.stringify({ ...ack, duplicate: true }), timestamp: String(timestamp) });
    }
    if (keyed.length > 0 && idempotencyTopic) {
      try {
        // Before answering, so a retry after a crash finds the key; the records are durable
        // either way, so a failure here only costs that memory beyond this process.
        await producer!.send({ topic: idempotencyTopic, acks: -1, timeout: requestTimeoutMs, messages: keyed });
      } catch (error) {
        log('warn', 'KafkaBus', 'idempotency keys not persisted (this process still remembers them)', {
          keys: keyed.length,
          error: errorMessage(error),
        });
      }
    }
    batch.forEach((pending, i) =>
      settle(pending, {
        acks: slots[i]!.map((slot) =>
          'stored' in slot ? { ...slot.stored, duplicate: true } : { ...acks[slot.fresh]!, duplicate: slot.duplicate },
        ),
      }),
    );
  }

  /** The ack of a record found in the log (an in-doubt write that was made after all). */
  function ackOfRecord(record: FetchedRecord): PublishAck {
    const position = new PositionTracker();
    position.advance(record.topic, record.partition, record.offset);
    return {
      eventId: headerText(record.headers, HEADER.eventId) ?? `${record.topic}/${record.partition}/${record.offset}`,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset.toString(),
      duplicate: true,
      cursor: position.cursor(record.timestamp),
    };
  }

  const partitioner = Partitioners.DefaultPartitioner();

  /** Writes `fresh` in one produce request; acks in input order. */
  async function produce(fresh: { item: Outgoing; partition: number; from?: bigint }[], timestamp: number): Promise<PublishAck[]> {
    const counts = await ensureTopics([...new Set(fresh.map(({ item }) => item.record.topic))]);
    const byTopic = new Map<string, Message[]>();
    for (const entry of fresh) {
      const { record } = entry.item;
      entry.partition = partitioner({
        topic: record.topic,
        partitionMetadata: partitionsOf(counts.get(record.topic)!),
        message: { key: record.key, value: null },
      });
      let messages = byTopic.get(record.topic);
      if (!messages) byTopic.set(record.topic, (messages = []));
      messages.push({
        key: record.key,
        value: record.value,
        partition: entry.partition,
        timestamp: String(timestamp),
        headers: entry.item.headers,
      });
    }
    // Where each record can land at the earliest, should the outcome of this request stay unknown.
    const known = knownPositions();
    for (const entry of fresh) entry.from = (known.get(entry.item.record.topic, entry.partition) ?? -1n) + 1n;
    const results = await producer!.sendBatch({
      acks: -1,
      timeout: requestTimeoutMs,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    const base = new Map<string, bigint>();
    for (const result of results) {
      if (result.baseOffset !== undefined) base.set(partitionKey(result.topicName, result.partition), BigInt(result.baseOffset));
    }
    // kafkajs keeps each partition's messages in the order given: the n-th is at baseOffset + n.
    const seen = new Map<string, bigint>();
    return fresh.map(({ item, partition }) => {
      const { topic } = item.record;
      const key = partitionKey(topic, partition);
      const first = base.get(key);
      if (first === undefined) throw backendError(`no offset in the produce response for ${topic}[${partition}]`);
      const index = seen.get(key) ?? 0n;
      seen.set(key, index + 1n);
      const offset = first + index;
      acked.advance(topic, partition, offset);
      return {
        eventId: item.record.eventId,
        topic,
        partition,
        offset: offset.toString(),
        duplicate: false,
        cursor: knownPositions(topic).cursor(timestamp),
      };
    });
  }

  function toEntry(record: Draft, cursor: string): LogEntry {
    return {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset.toString(),
      key: record.key,
      eventId: record.eventId,
      value: record.value,
      publishedAt: new Date(record.timestamp),
      cursor,
    };
  }

  /** The fields a listener sees, from a record as kafkajs decoded it (tail or replay). */
  function draftOf(record: FetchedRecord): Draft {
    return {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      key: record.key?.toString('utf8') ?? '',
      eventId: headerText(record.headers, HEADER.eventId) ?? `${record.topic}/${record.partition}/${record.offset}`,
      value: record.value?.toString('utf8') ?? '',
    };
  }

  async function readAfter(cursor: string, limit: number): Promise<LogEntry[]> {
    const position = decodeCursor(cursor);
    if (!position) {
      throw unknownPosition(`"${cursor.slice(0, 40)}" is not a position on this event bus (expected the offset of an event it delivered).`);
    }
    if (closed) throw backendError('the bus is closed');
    if (limit <= 0) return [];
    try {
      // The cursor's topics and the event topics; never the idempotency topic, whatever a cursor says.
      const wanted = [...new Set([...position.positions.keys(), ...topics])].filter((topic) => topic !== idempotencyTopic);
      const counts = await wire.partitionCounts(wanted);
      // Records the cursor says were consumed, on a partition the cluster does not have.
      for (const topic of wanted) {
        for (const [partition, last] of position.positions.get(topic) ?? []) {
          if (last >= 0n && partition >= (counts.get(topic) ?? 0)) throw beyondEnd(topic, partition, last, undefined);
        }
      }
      const marks = await wire.watermarks(counts);
      const ranges: PartitionRange[] = [];
      for (const [topic, count] of counts) {
        for (let partition = 0; partition < count; partition += 1) {
          const mark = marks.get(partitionKey(topic, partition));
          if (!mark) continue;
          const last = position.positions.get(topic)?.get(partition);
          // Past the partition's end: made by another cluster, or before this one was reset.
          if (last !== undefined && last >= mark.high) throw beyondEnd(topic, partition, last, mark.high);
          if (last !== undefined) {
            ranges.push({ topic, partition, from: last + 1n > mark.low ? last + 1n : mark.low, to: mark.high });
          } else {
            // A partition the cursor does not name: created after it, or not known to the instance
            // that made it. Its records from the cursor's time on are "after" it; older ones are
            // history the client never asked for. (Read from its start: the by-time offset lookup
            // is not implemented by the mock cluster, which answers the high watermark.)
            ranges.push({ topic, partition, from: mark.low, to: mark.high, accept: (record) => record.timestamp >= position.time });
          }
        }
      }
      const queues = await wire.read(ranges, limit);
      const positions = new PositionTracker(position.positions);
      return mergeInLogOrder(queues, limit).map((record) => {
        positions.advance(record.topic, record.partition, record.offset);
        return toEntry(draftOf(record), positions.cursor(record.timestamp));
      });
    } catch (error) {
      if (isUnknownPosition(error)) throw error;
      throw backendError('replay failed', error);
    }
  }

  /** The refusal of a cursor past a partition's end (`high`: its high watermark; undefined: no such partition). */
  function beyondEnd(topic: string, partition: number, last: bigint, high: bigint | undefined): Error {
    const end = high === undefined ? 'which this cluster does not have' : high === 0n ? 'which is empty' : `whose last offset is ${high - 1n}`;
    return unknownPosition(
      `The position names offset ${last} of ${topic}[${partition}], ${end}: it was not delivered by this event bus (another cluster, or before a data reset). Resubscribe without fromOffset, or with an offset it delivered.`,
    );
  }

  async function probe(): Promise<'OK' | 'DEGRADED'> {
    if (closed) throw new Error('closed');
    await withTimeout(admin.describeCluster(), healthTimeoutMs, () => new Error(`no answer from the brokers within ${healthTimeoutMs} ms`));
    // The brokers answer but this instance's tail is down (crashed, restarting): publishes work, live events do not.
    return consumer && !tailJoined ? 'DEGRADED' : 'OK';
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      closed = true;
      clearTimeout(holdTimer);
      // Everything queued is written (or fails) before the producer goes.
      while (writing) await writing;
      listeners.clear();
      // With the brokers gone, kafkajs's consumer only stops once its retries are spent: close()
      // does not wait for that (the consumer stops by itself, and will not restart).
      const bounded = (step: Promise<unknown> | undefined) =>
        step && withTimeout(step, closeTimeoutMs, () => new Error('disconnect timed out')).catch(() => undefined);
      await Promise.all([bounded(consumer?.disconnect()), bounded(producer?.disconnect()), bounded(wire.close())]);
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
    follows(cursor) {
      const position = decodeCursor(cursor);
      if (!position) return undefined;
      // As readAfter reads: past the named offset on a partition the cursor names, else from its time on.
      return (entry) => {
        const last = position.positions.get(entry.topic)?.get(entry.partition);
        return last !== undefined ? BigInt(entry.offset) > last : entry.publishedAt.getTime() >= position.time;
      };
    },
    publish(records) {
      return enqueue(
        records.map((record) => ({
          record,
          deduplicate: true,
          headers: {
            [HEADER.eventId]: record.eventId,
            ...(record.idempotencyKey ? { [HEADER.idempotencyKey]: record.idempotencyKey } : {}),
          },
        })),
      );
    },
    async deadLetter(record, reason) {
      const [ack] = await enqueue([
        {
          record: { ...record, topic: deadLetterTopic },
          deduplicate: false,
          headers: {
            [HEADER.eventId]: record.eventId,
            [HEADER.reason]: reason,
            [HEADER.originalTopic]: record.topic,
            [HEADER.deadLetteredAt]: new Date().toISOString(),
            ...(record.idempotencyKey ? { [HEADER.idempotencyKey]: record.idempotencyKey } : {}),
          },
        },
      ]);
      return ack!;
    },
    tail(deliver) {
      const listener: Listener = { deliver, floor: knownPositions().snapshot() };
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    readAfter,
    health: () => probeHealth('bus', ADAPTER, probe),
    close,
  };

  function isAfterFloor(listener: Listener, entry: LogEntry): boolean {
    const floor = listener.floor?.get(entry.topic)?.get(entry.partition);
    return floor === undefined || BigInt(entry.offset) > floor;
  }
}

/** Partition metadata of a topic with `count` partitions, as the partitioner reads it (it only counts them). */
function partitionsOf(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [], isr: [] }));
}

/** A header's text, whichever way kafkajs decoded it. */
export function headerText(headers: IHeaders | Record<string, unknown> | undefined, name: string): string | undefined {
  const value: unknown = headers?.[name];
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (Buffer.isBuffer(first)) return first.toString('utf8');
  return typeof first === 'string' ? first : undefined;
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** kafkajs's level for ours. */
export function toKafkaJsLevel(level: KafkaLogLevel): KafkaJsLevel {
  switch (level) {
    case 'nothing':
      return KafkaJsLevel.NOTHING;
    case 'error':
      return KafkaJsLevel.ERROR;
    case 'warn':
      return KafkaJsLevel.WARN;
    case 'info':
      return KafkaJsLevel.INFO;
    case 'debug':
      return KafkaJsLevel.DEBUG;
  }
}

/** Routes kafkajs's log entries to the sink. */
export function kafkaJsLogCreator(log: KafkaLogSink): logCreator {
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry;
      const name = level === KafkaJsLevel.ERROR ? 'error' : level === KafkaJsLevel.WARN ? 'warn' : level === KafkaJsLevel.INFO ? 'info' : 'debug';
      log(name, namespace || 'kafkajs', message, extra);
    };
}

function stderrSink(level: string, namespace: string, message: string, extra: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), logger: `kafka:${namespace}`, message, ...extra })}\n`);
}
