import { Partitioners } from 'kafkajs';
import type { Message, PartitionMetadata, Producer } from 'kafkajs';
import { BackendError } from '../../errors.ts';
import { GroupCommit } from './group-commit.ts';
import type { PositionTracker } from './kafka-cursor.ts';
import type { IdempotencyKeys } from './kafka-idempotency.ts';
import { findInDoubtWrites, InDoubtWrites } from './kafka-in-doubt.ts';
import { ackOfRecord, HEADER, headerText } from './kafka-records.ts';
import { partitionKey, type KafkaWire } from './kafka-wire.ts';
import type { BusRecord, PublishAck } from './port.ts';

/** What publishing takes from the rest of the bus. */
export interface KafkaPublisherOptions {
  /** The producer (connected at start-up, before the first publish). */
  producer: () => Producer;
  wire: KafkaWire;
  /** Makes sure topics exist; answers their partition counts. */
  ensureTopics: (topics: readonly string[]) => Promise<Map<string, number>>;
  keys: IdempotencyKeys;
  /** Offsets this process had acknowledged; advanced by each write. */
  acked: PositionTracker;
  /** Positions of the event topics known now (tailed or acknowledged), plus `extraTopic`'s acknowledged ones. */
  knownPositions: (extraTopic?: string) => PositionTracker;
  requestTimeoutMs: number;
  /** Longest a publish waits for its acknowledgement, queueing included. */
  publishTimeoutMs: number;
  backendError: (message: string, cause?: unknown) => BackendError;
}

/** The write side of the Kafka bus. */
export interface KafkaPublisher {
  /** See `BusPort.publish`. */
  publish(records: readonly BusRecord[]): Promise<PublishAck[]>;
  /** Resolves once everything queued is written (or failed). */
  idle(): Promise<void>;
}

interface Pending {
  records: readonly BusRecord[];
  resolve: (acks: PublishAck[]) => void;
  reject: (error: unknown) => void;
  /** `queued` until its group is taken; `sent` once written (or being written); `settled` after answering. */
  state: 'queued' | 'sent' | 'settled';
  /** Rejects the publish when it has waited `publishTimeoutMs`. */
  deadline: NodeJS.Timeout | undefined;
}

/** A record of a group, with where it goes once produced. */
interface Fresh {
  record: BusRecord;
  partition: number;
  /** The lowest offset it can take, known once its request is about to be sent. */
  from?: bigint;
}

/** Each record of a publish: an ack stored earlier, or a record written by this group (maybe twice in it). */
type Slot = { stored: PublishAck } | { fresh: number; duplicate: boolean };

/**
 * Publishes on Kafka. Publishes are grouped while one is in flight (one produce request for
 * concurrent mutations) and acknowledged from the produce response, after every in-sync replica
 * has the records (acks=-1). Each record goes to the partition of its key (kafkajs's default,
 * Java-compatible murmur2 partitioner, applied here so each ack knows its partition and offset).
 * A keyed write whose outcome stayed unknown is looked for before its key is written again
 * (`kafka-in-doubt.ts`).
 */
export function createKafkaPublisher(options: KafkaPublisherOptions): KafkaPublisher {
  const { wire, keys, acked, knownPositions, requestTimeoutMs, publishTimeoutMs, backendError } = options;
  const commits = new GroupCommit<Pending>(writeGroup);
  /** Keyed writes that failed after being sent: they may be in the log. */
  const inDoubt = new InDoubtWrites();
  const partitioner = Partitioners.DefaultPartitioner();

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
      commits.withdraw(pending);
      settle(pending, { error: backendError(`no acknowledgement within ${publishTimeoutMs} ms (the brokers are not answering); nothing was written`) });
    } else {
      settle(pending, {
        error: backendError(
          `no acknowledgement within ${publishTimeoutMs} ms; the write may still complete: publish again with the same idempotency key to get its outcome without writing it twice`,
        ),
      });
    }
  }

  async function writeGroup(group: Pending[]): Promise<void> {
    for (const pending of group) pending.state = 'sent';
    const persisted = new Map<string, PublishAck>();
    try {
      for (const [key, ack] of await settleInDoubt(group)) persisted.set(key, ack);
    } catch (error) {
      const failure = backendError('could not learn whether an earlier attempt of this write was made', error);
      for (const pending of group) settle(pending, { error: failure });
      return;
    }
    const timestamp = Date.now();
    const fresh: Fresh[] = [];
    const inGroup = new Map<string, number>();
    const slots: Slot[][] = group.map((pending) =>
      pending.records.map((record): Slot => {
        const key = record.idempotencyKey;
        const stored = key ? keys.get(key) : undefined;
        if (stored) return { stored };
        const earlier = key ? inGroup.get(key) : undefined;
        if (earlier !== undefined) return { fresh: earlier, duplicate: true };
        if (key) inGroup.set(key, fresh.length);
        fresh.push({ record, partition: 0 });
        return { fresh: fresh.length - 1, duplicate: false };
      }),
    );

    let acks: PublishAck[];
    try {
      acks = fresh.length > 0 ? await produce(fresh, timestamp) : [];
    } catch (error) {
      for (const { record, partition, from } of fresh) {
        // Sent (`from` is set just before) and failed: it may be in the log all the same.
        if (record.idempotencyKey && from !== undefined) inDoubt.mark(record.idempotencyKey, { topic: record.topic, partition, from });
      }
      const failure = error instanceof BackendError ? error : backendError('the write was not acknowledged', error);
      for (const pending of group) settle(pending, { error: failure });
      return;
    }

    for (const [key, index] of inGroup) {
      const ack = acks[index]!;
      keys.set(key, ack);
      persisted.set(key, ack);
    }
    await keys.persist(options.producer(), persisted, timestamp);
    group.forEach((pending, i) =>
      settle(pending, {
        acks: slots[i]!.map((slot) => ('stored' in slot ? { ...slot.stored, duplicate: true } : { ...acks[slot.fresh]!, duplicate: slot.duplicate })),
      }),
    );
  }

  /**
   * Looks for the earlier, in-doubt writes of the group's idempotency keys; those found become the
   * keys' first acks (returned, to be persisted). Throws when the log could not be read.
   */
  async function settleInDoubt(group: readonly Pending[]): Promise<Map<string, PublishAck>> {
    const learned = new Map<string, PublishAck>();
    if (inDoubt.size === 0) return learned;
    const doubtful = inDoubt.take(group.flatMap((pending) => pending.records.flatMap((record) => (record.idempotencyKey ? [record.idempotencyKey] : []))));
    if (doubtful.size === 0) return learned;
    try {
      const found = await findInDoubtWrites(wire, doubtful, (record) => headerText(record.headers, HEADER.idempotencyKey));
      for (const [key, record] of found) {
        const ack = ackOfRecord(record);
        keys.set(key, ack);
        learned.set(key, ack);
      }
      return learned;
    } catch (error) {
      inDoubt.restore(doubtful);
      throw error;
    }
  }

  /** Writes `fresh` in one produce request; acks in input order. */
  async function produce(fresh: Fresh[], timestamp: number): Promise<PublishAck[]> {
    const counts = await options.ensureTopics([...new Set(fresh.map(({ record }) => record.topic))]);
    const byTopic = new Map<string, Message[]>();
    for (const entry of fresh) {
      const { record } = entry;
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
        headers: {
          [HEADER.eventId]: record.eventId,
          ...(record.idempotencyKey ? { [HEADER.idempotencyKey]: record.idempotencyKey } : {}),
        },
      });
    }
    // Where each record can land at the earliest, should the outcome of this request stay unknown.
    const known = knownPositions();
    for (const entry of fresh) entry.from = (known.get(entry.record.topic, entry.partition) ?? -1n) + 1n;
    const results = await options.producer().sendBatch({
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
    return fresh.map(({ record, partition }) => {
      const { topic } = record;
      const key = partitionKey(topic, partition);
      const first = base.get(key);
      if (first === undefined) throw backendError(`no offset in the produce response for ${topic}[${partition}]`);
      const index = seen.get(key) ?? 0n;
      seen.set(key, index + 1n);
      const offset = first + index;
      acked.advance(topic, partition, offset);
      return {
        eventId: record.eventId,
        topic,
        partition,
        offset: offset.toString(),
        duplicate: false,
        cursor: knownPositions(topic).cursor(timestamp),
      };
    });
  }

  return {
    publish(records) {
      if (records.length === 0) return Promise.resolve([]);
      return new Promise<PublishAck[]>((resolve, reject) => {
        const pending: Pending = { records, resolve, reject, state: 'queued', deadline: undefined };
        pending.deadline = setTimeout(() => expire(pending), publishTimeoutMs);
        commits.add(pending);
      });
    },
    idle: () => commits.idle(),
  };
}

/** Partition metadata of a topic with `count` partitions, as the partitioner reads it (it only counts them). */
function partitionsOf(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [], isr: [] }));
}
