import type { Kafka, PartitionMetadata } from 'kafkajs';

/**
 * What the Kafka bus needs beyond kafkajs's public API: topic metadata that never creates a
 * topic, and reads of given offset ranges without a consumer group. kafkajs (2.2.4, its last
 * release) only reads through a group consumer, and joining a fresh group costs the broker's
 * `group.initial.rebalance.delay.ms` (3 s by default, also on librdkafka's mock cluster) on every
 * replay. So replays use the same `Cluster` kafkajs builds for its own clients (same brokers,
 * TLS, SASL, retries), obtained from the `Kafka` instance, and send Fetch requests directly.
 * Everything that leans on kafkajs internals is in this file and checked when it is opened.
 */

/** A record as fetched, in its partition's offset order. */
export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** Publish time (CreateTime or LogAppendTime, as the topic says), ms since the epoch. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, unknown>;
}

/** A partition to read from `from` (inclusive) up to `to` (exclusive: the high watermark). */
export interface PartitionRange {
  topic: string;
  partition: number;
  from: bigint;
  to: bigint;
  /** Only records it accepts count towards `want` and are returned. Default: all. */
  accept?: (record: FetchedRecord) => boolean;
}

/** Earliest offset still stored and next offset to be written (the high watermark). */
export interface Watermarks {
  low: bigint;
  high: bigint;
}

/** Raw access to the cluster (see the file comment). */
export interface KafkaWire {
  /** Partition counts of those `topics` that exist; a missing topic is left out, never created. */
  partitionCounts(topics: readonly string[]): Promise<Map<string, number>>;
  /** Asks the brokers to auto-create `topics` (a metadata request that allows it). */
  autoCreate(topics: readonly string[]): Promise<void>;
  /** Watermarks of every partition of `topics` (which must exist), keyed by `partitionKey`. */
  watermarks(topics: ReadonlyMap<string, number>): Promise<Map<string, Watermarks>>;
  /** Reads each range until `want` accepted records or its end; one queue per range, in offset order. */
  read(ranges: readonly PartitionRange[], want: number): Promise<FetchedRecord[][]>;
  /** Closes the connections this opened. Idempotent. */
  close(): Promise<void>;
}

/** Map key of a topic-partition. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** kafkajs's broker, as far as this file uses it. */
interface WireBroker {
  fetch(request: {
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    isolationLevel: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: { partition: number; messages: WireMessage[] }[] }[] }>;
}

interface WireMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, unknown>;
  isControlRecord?: boolean;
}

/** kafkajs's `Cluster`, as far as this file uses it. */
interface WireCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  metadata(): Promise<{ topicMetadata: { topic: string }[] }>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): PartitionMetadata[];
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: string }): Promise<WireBroker>;
  fetchTopicsOffset(
    topics: { topic: string; partitions: { partition: number }[]; fromBeginning: boolean }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

const READ_COMMITTED = 1;
const FETCH_MAX_BYTES = 16 * 1024 * 1024;
const PARTITION_MAX_BYTES = 1024 * 1024;
/** Errors after which fresh metadata usually helps (leader moved, topic just created). */
const STALE_METADATA = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH']);
const ATTEMPTS = 3;

/** Opens (lazily: the first call connects) raw access to the cluster of `kafka`. */
export function openKafkaWire(kafka: Kafka): KafkaWire {
  const createCluster = clusterFactory(kafka);
  let reader: Promise<WireCluster> | undefined;
  let creator: Promise<WireCluster> | undefined;
  const existing = new Set<string>();
  let closed = false;

  const connect = (allowAutoTopicCreation: boolean): Promise<WireCluster> => {
    if (closed) return Promise.reject(new Error('the Kafka connection is closed'));
    const cluster = createCluster({ allowAutoTopicCreation });
    const connecting = cluster.connect().then(() => cluster);
    // A failed connection is forgotten, so the next call tries again.
    connecting.catch(() => {
      if (allowAutoTopicCreation) creator = undefined;
      else reader = undefined;
    });
    return connecting;
  };
  const readerCluster = (): Promise<WireCluster> => (reader ??= connect(false));

  async function partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const cluster = await readerCluster();
    if (topics.some((topic) => !existing.has(topic))) {
      // Asking for a missing topic by name fails (after retries) or, where the broker ignores
      // the flag, creates it; listing every topic does neither.
      for (const { topic } of (await cluster.metadata()).topicMetadata) existing.add(topic);
    }
    const present = topics.filter((topic) => existing.has(topic));
    if (present.length > 0) {
      await cluster.addMultipleTargetTopics(present);
      await cluster.refreshMetadataIfNecessary();
    }
    const counts = new Map<string, number>();
    for (const topic of present) {
      const count = cluster.findTopicPartitionMetadata(topic).length;
      if (count > 0) counts.set(topic, count);
    }
    return counts;
  }

  async function autoCreate(topics: readonly string[]): Promise<void> {
    const cluster = await (creator ??= connect(true));
    await cluster.addMultipleTargetTopics([...topics]);
    // The reader refreshes its metadata when it is next asked for them (new target topics).
    for (const topic of topics) existing.add(topic);
  }

  async function watermarks(topics: ReadonlyMap<string, number>): Promise<Map<string, Watermarks>> {
    const cluster = await readerCluster();
    const request = (fromBeginning: boolean) =>
      [...topics].map(([topic, count]) => ({
        topic,
        fromBeginning,
        partitions: Array.from({ length: count }, (_, partition) => ({ partition })),
      }));
    const [lows, highs] = await Promise.all([cluster.fetchTopicsOffset(request(true)), cluster.fetchTopicsOffset(request(false))]);
    const result = new Map<string, Watermarks>();
    for (const { topic, partitions } of lows) {
      for (const { partition, offset } of partitions) result.set(partitionKey(topic, partition), { low: BigInt(offset), high: BigInt(offset) });
    }
    for (const { topic, partitions } of highs) {
      for (const { partition, offset } of partitions) {
        const entry = result.get(partitionKey(topic, partition));
        if (entry) entry.high = BigInt(offset);
      }
    }
    return result;
  }

  async function read(ranges: readonly PartitionRange[], want: number): Promise<FetchedRecord[][]> {
    const cluster = await readerCluster();
    const queues = ranges.map((): FetchedRecord[] => []);
    const next = ranges.map((range) => range.from);
    const done = ranges.map((range) => range.from >= range.to || want <= 0);
    const stalled = ranges.map(() => 0);
    let failures = 0;
    while (done.some((d) => !d)) {
      // One Fetch per leader, partitions of every topic together.
      const byLeader = new Map<string, number[]>();
      ranges.forEach((range, i) => {
        if (done[i]) return;
        const leaders = cluster.findLeaderForPartitions(range.topic, [range.partition]);
        const [leader] = Object.keys(leaders);
        if (leader === undefined) {
          done[i] = true; // the partition is gone (topic deleted since the watermarks)
          return;
        }
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), i]);
      });
      try {
        await Promise.all([...byLeader].map(([nodeId, indexes]) => fetchFrom(cluster, nodeId, indexes)));
        failures = 0;
      } catch (error) {
        failures += 1;
        const type = (error as { type?: unknown }).type;
        if (failures >= ATTEMPTS || typeof type !== 'string') throw error;
        if (type === 'OFFSET_OUT_OF_RANGE') {
          // Retention removed the records the range starts at: start at what is left.
          const marks = await watermarks(new Map(ranges.map((range) => [range.topic, cluster.findTopicPartitionMetadata(range.topic).length])));
          ranges.forEach((range, i) => {
            const low = marks.get(partitionKey(range.topic, range.partition))?.low;
            if (low !== undefined && next[i]! < low) next[i] = low;
          });
        } else if (STALE_METADATA.has(type)) {
          await cluster.refreshMetadata();
        } else {
          throw error;
        }
      }
    }
    return queues;

    async function fetchFrom(cluster: WireCluster, nodeId: string, indexes: number[]): Promise<void> {
      const broker = await cluster.findBroker({ nodeId });
      const topics = new Map<string, { partition: number; fetchOffset: string; maxBytes: number }[]>();
      for (const i of indexes) {
        const range = ranges[i]!;
        topics.set(range.topic, [
          ...(topics.get(range.topic) ?? []),
          { partition: range.partition, fetchOffset: next[i]!.toString(), maxBytes: PARTITION_MAX_BYTES },
        ]);
      }
      const { responses } = await broker.fetch({
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        isolationLevel: READ_COMMITTED,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      });
      for (const { topicName, partitions } of responses) {
        for (const { partition, messages } of partitions) {
          const i = indexes.find((index) => ranges[index]!.topic === topicName && ranges[index]!.partition === partition);
          if (i === undefined) continue;
          const range = ranges[i]!;
          const queue = queues[i]!;
          const before = next[i]!;
          for (const message of messages) {
            const offset = BigInt(message.offset);
            // A fetch answers whole batches: the one holding `fetchOffset` may start before it.
            if (offset < next[i]!) continue;
            if (offset >= range.to || queue.length >= want) break;
            next[i] = offset + 1n;
            if (message.isControlRecord) continue;
            const record: FetchedRecord = {
              topic: topicName,
              partition,
              offset,
              timestamp: Number(message.timestamp),
              key: message.key,
              value: message.value,
              headers: message.headers ?? {},
            };
            if (!range.accept || range.accept(record)) queue.push(record);
          }
          // No progress below the high watermark, round after round (an open transaction, a
          // batch too large to decode): stop rather than loop; what was read is returned. One
          // empty answer alone can be the response size limit spent on other partitions.
          stalled[i] = next[i] === before ? stalled[i]! + 1 : 0;
          if (next[i]! >= range.to || queue.length >= want || stalled[i]! >= ATTEMPTS) done[i] = true;
        }
      }
      // A partition the broker left out of its answer is asked again on the next round.
    }
  }

  return {
    partitionCounts,
    autoCreate,
    watermarks,
    read,
    async close() {
      if (closed) return;
      closed = true;
      const clusters = [reader, creator].filter((c): c is Promise<WireCluster> => c !== undefined);
      await Promise.allSettled(clusters.map(async (c) => (await c).disconnect()));
    },
  };
}

/** kafkajs builds every client's `Cluster` with a factory kept under a private symbol of `Kafka`. */
function clusterFactory(kafka: Kafka): (options: { allowAutoTopicCreation: boolean }) => WireCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const factory: unknown = symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function') {
    throw new Error('this kafkajs version has no internal cluster factory (the Kafka bus is written against kafkajs 2.2.x)');
  }
  return (options) => factory(options) as WireCluster;
}
