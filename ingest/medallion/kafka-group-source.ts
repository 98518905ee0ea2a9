import type { Admin, Consumer } from 'kafkajs';
import { decodeCursor, mergeInLogOrder, PositionTracker, type Ordered } from '../../src/backends/bus/kafka-cursor.ts';
import { createKafkaClient, type KafkaLogLevel, type KafkaLogSink } from '../../src/backends/bus/kafka-client.ts';
import { HEADER, headerText } from '../../src/backends/bus/kafka-records.ts';
import { partitionKey } from '../../src/backends/bus/kafka-wire.ts';
import type { LogEntry } from '../../src/backends/bus/port.ts';
import type { RecordSource } from './record-source.ts';
import { singleActiveAssigner } from './single-active-assigner.ts';

/** Options of the Kafka consumer-group source. */
export interface KafkaGroupSourceOptions {
  /** Bootstrap brokers, `host:port`. Required. */
  brokers: readonly string[];
  /** Topics to consume (the registry's source topics). */
  topics: readonly string[];
  /** Consumer group. Default `'nexus-medallion'`. */
  groupId?: string;
  /** Client id the brokers see. Default `'nexus-medallion'`. */
  clientId?: string;
  /** Records that make a full batch: `onAvailable` says `full` from there on. Default 10,000. */
  batchSize?: number;
  /** Records buffered before fetching pauses until a landing commits. Default 2 × `batchSize`. */
  maxBuffered?: number;
  /** Budget of one request to a broker. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Group session timeout: how long a dead member keeps its partitions before a standby takes over. Default 30,000 ms. */
  sessionTimeoutMs?: number;
  /** Longest a fetch waits for new records on an idle cluster. Default 500 ms. */
  maxWaitMs?: number;
  /** Longest `start` waits to join the group. Default 30,000 ms. */
  startTimeoutMs?: number;
  /** kafkajs log level. Default `'warn'`. */
  logLevel?: KafkaLogLevel;
  /** Log sink (kafkajs and this source). Default: dropped. */
  log?: KafkaLogSink;
  /**
   * Runs after the landing of a batch committed and before its offsets are committed to the
   * group; a rejection skips the offset commit (the batch is consumed again). For fault tests.
   */
  beforeOffsetCommit?: (position: string) => Promise<void>;
}

/** The Kafka source, plus what the worker watches. */
export interface KafkaGroupSource extends RecordSource {
  /** Whether this member holds the group's partitions (false: a standby, or not joined). */
  readonly active: boolean;
  /** Connects and joins the group (as the active member or a standby). Idempotent. */
  start(): Promise<void>;
  /** Leaves the group (a standby takes over at once). Idempotent. */
  close(): Promise<void>;
  /** Calls `listener` whenever the member becomes active or stops being active. */
  onActiveChange(listener: (active: boolean) => void): () => void;
}

/** A record waiting in the buffer, before its cursor is known. */
interface Buffered extends Ordered {
  key: string;
  eventId: string;
  value: string;
}

/**
 * The production medallion's record source: a Kafka consumer group (autoCommit off) whose
 * partitions all go to one member (`single-active-assigner.ts`). Fetched records wait in a
 * buffer, per partition; `next` hands them out in log order with Kafka-bus cursors (the same
 * encoding the gateway's Kafka bus uses, so a commit's position means the same thing on every
 * gateway), and `committed` — called only once the landing committed in the lakehouse —
 * commits the offsets to the group and drops the records. A crash between the two re-delivers
 * the batch to whichever member takes over: bronze may hold it twice, silver keeps each event
 * id once.
 */
export function createKafkaGroupSource(options: KafkaGroupSourceOptions): KafkaGroupSource {
  const groupId = options.groupId ?? 'nexus-medallion';
  const batchSize = options.batchSize ?? 10_000;
  const maxBuffered = options.maxBuffered ?? 2 * batchSize;
  const topics = [...new Set(options.topics)];
  const log: KafkaLogSink = options.log ?? (() => undefined);
  const { kafka } = createKafkaClient({
    clientId: options.clientId ?? 'nexus-medallion',
    brokers: options.brokers,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    logLevel: options.logLevel,
    log,
  });
  const since = Date.now();
  let active = false;
  const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout,
    // Kafka's advice: a third of the session timeout, so two lost heartbeats do not evict a live member.
    heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
    maxWaitTimeInMs: options.maxWaitMs ?? 500,
    partitionAssigners: [singleActiveAssigner(() => ({ since, active }))],
    allowAutoTopicCreation: false,
  });
  const admin: Admin = kafka.admin();

  /** Partitions this member holds, by `partitionKey`. */
  let assigned = new Map<string, { topic: string; partition: number }>();
  /** Per partition: records fetched and not yet committed, in offset order. */
  const buffers = new Map<string, Buffered[]>();
  /** Per partition: the next offset the buffer takes (a rejoin re-fetches from the committed offset). */
  const nextOffset = new Map<string, bigint>();
  /** Last committed offset per partition: the cursor `next` starts from. */
  let base = new PositionTracker();
  /** Publish time of the last committed record (the cursor's time). */
  let baseTime = 0;
  let buffered = 0;
  let paused = false;
  let closed = false;
  const availableListeners = new Set<(full: boolean) => void>();
  const activeListeners = new Set<(active: boolean) => void>();

  function setActive(now: boolean, why = now ? 'this replica holds the partitions: active' : 'this replica holds no partitions: standby'): void {
    if (now === active) return;
    active = now;
    log('info', 'MedallionSource', why, { groupId });
    for (const listener of activeListeners) listener(now);
  }

  /** On every (re)join: drop what belonged to partitions now elsewhere, learn the committed offsets of the rest. */
  async function joined(assignment: Record<string, number[]>): Promise<void> {
    if (closed) return;
    const now = new Map<string, { topic: string; partition: number }>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const partition of partitions) now.set(partitionKey(topic, partition), { topic, partition });
    for (const key of assigned.keys()) {
      if (now.has(key)) continue;
      buffered -= buffers.get(key)?.length ?? 0;
      buffers.delete(key);
      nextOffset.delete(key);
    }
    assigned = now;
    if (now.size > 0) {
      const committed = await admin.fetchOffsets({ groupId, topics: [...new Set([...now.values()].map((p) => p.topic))] });
      const fresh = new PositionTracker();
      for (const { topic, partitions } of committed) {
        for (const { partition, offset } of partitions) {
          if (!now.has(partitionKey(topic, partition))) continue;
          // No committed offset: the group starts at the partition's start, nothing consumed yet.
          fresh.advance(topic, partition, Number(offset) >= 0 ? BigInt(offset) - 1n : -1n);
        }
      }
      // A landing that committed while the offsets were being read is not undone.
      for (const [topic, partitions] of base.snapshot()) for (const [partition, last] of partitions) if (now.has(partitionKey(topic, partition))) fresh.advance(topic, partition, last);
      base = fresh;
    } else {
      base = new PositionTracker();
    }
    // Records of partitions now elsewhere were dropped: fetching may go on.
    resumeIfRoom();
    setActive(now.size > 0);
  }

  function take(topic: string, partition: number, messages: readonly { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown> }[]): void {
    const key = partitionKey(topic, partition);
    if (!assigned.has(key)) return;
    let buffer = buffers.get(key);
    if (!buffer) buffers.set(key, (buffer = []));
    let expected = nextOffset.get(key);
    for (const message of messages) {
      const offset = BigInt(message.offset);
      // Fetched again after a rejoin (kafkajs restarts from the committed offset): buffered already.
      if (expected !== undefined && offset < expected) continue;
      expected = offset + 1n;
      buffer.push({
        topic,
        partition,
        offset,
        timestamp: Number(message.timestamp),
        key: message.key?.toString('utf8') ?? '',
        eventId: headerText(message.headers, HEADER.eventId) ?? `${topic}/${partition}/${offset}`,
        value: message.value?.toString('utf8') ?? '',
      });
      buffered += 1;
    }
    if (expected !== undefined) nextOffset.set(key, expected);
  }

  function pauseIfFull(): void {
    if (paused || buffered < maxBuffered) return;
    paused = true;
    consumer.pause(topics.map((topic) => ({ topic })));
  }

  function resumeIfRoom(): void {
    if (!paused || buffered >= maxBuffered / 2) return;
    paused = false;
    consumer.resume(topics.map((topic) => ({ topic })));
  }

  /** Connects, subscribes and waits for the first group join (active or standby). */
  async function join(): Promise<void> {
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    await admin.connect();
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    let first!: () => void;
    let failed!: (error: Error) => void;
    const firstJoin = new Promise<void>((resolve, reject) => {
      first = resolve;
      failed = reject;
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      joined(payload.memberAssignment).then(first, (error: unknown) => {
        if (closed) return;
        log('error', 'MedallionSource', 'could not read the group offsets after a rebalance', { error: String(error) });
        failed(error instanceof Error ? error : new Error(String(error)));
      });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      setActive(false, 'the group consumer crashed: this replica holds no partitions until it rejoins');
      log('error', 'MedallionSource', 'the group consumer crashed', { error: payload.error.message, restart: payload.restart });
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        take(batch.topic, batch.partition, batch.messages);
        pauseIfFull();
        const full = buffered >= batchSize;
        for (const listener of availableListeners) listener(full);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      firstJoin,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not join the consumer group "${groupId}" within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  let starting: Promise<void> | undefined;

  return {
    kind: 'kafka-group',
    get active() {
      return active;
    },
    onActiveChange(listener) {
      activeListeners.add(listener);
      return () => activeListeners.delete(listener);
    },
    start() {
      starting ??= join();
      return starting;
    },
    async next(max) {
      const queues = [...buffers.values()];
      const drafts = mergeInLogOrder(queues, max);
      const positions = new PositionTracker(base.snapshot());
      const entries: LogEntry[] = drafts.map((draft) => {
        positions.advance(draft.topic, draft.partition, draft.offset);
        return {
          topic: draft.topic,
          partition: draft.partition,
          offset: draft.offset.toString(),
          key: draft.key,
          eventId: draft.eventId,
          value: draft.value,
          publishedAt: new Date(draft.timestamp),
          cursor: positions.cursor(draft.timestamp),
        };
      });
      return { entries, position: entries[entries.length - 1]?.cursor ?? positions.cursor(baseTime) };
    },
    async committed(position, entries) {
      const decoded = decodeCursor(position);
      if (!decoded || closed) return;
      await options.beforeOffsetCommit?.(position);
      const offsets: { topic: string; partition: number; offset: string }[] = [];
      for (const [topic, partitions] of decoded.positions) {
        for (const [partition, last] of partitions) {
          const key = partitionKey(topic, partition);
          // Not ours any more (a rebalance during the pass): its new owner consumes it from the group's offset.
          if (!assigned.has(key) || last < 0n || (base.get(topic, partition) ?? -1n) >= last) continue;
          offsets.push({ topic, partition, offset: (last + 1n).toString() });
          const buffer = buffers.get(key) ?? [];
          const keep = buffer.filter((record) => record.offset > last);
          buffered -= buffer.length - keep.length;
          buffers.set(key, keep);
          base.advance(topic, partition, last);
        }
      }
      const newest = entries[entries.length - 1];
      if (newest) baseTime = Math.max(baseTime, newest.publishedAt.getTime());
      resumeIfRoom();
      if (offsets.length === 0) return;
      try {
        await consumer.commitOffsets(offsets);
      } catch (error) {
        // The landing stands; the group consumes these records again (silver keeps each event id once).
        log('warn', 'MedallionSource', 'offsets not committed after the landing; the records will be landed again', { error: String(error), offsets });
      }
    },
    onAvailable(listener) {
      availableListeners.add(listener);
      return () => availableListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      setActive(false, 'this replica leaves the group');
      // Leaving the group (disconnect) rebalances at once: a standby takes over without waiting for the session timeout.
      await Promise.allSettled([consumer.disconnect(), admin.disconnect()]);
    },
  };
}
