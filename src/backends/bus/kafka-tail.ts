import type { Consumer, Kafka } from 'kafkajs';
import { errorMessage, type KafkaLogSink } from './kafka-client.ts';
import { LogOrderBuffer, type PositionTracker, type Positions } from './kafka-cursor.ts';
import type { IdempotencyKeys } from './kafka-idempotency.ts';
import { draftOf, toEntry, type Draft } from './kafka-records.ts';
import { partitionKey } from './kafka-wire.ts';
import type { LogEntry } from './port.ts';

/** What the tail reads, and the positions it shares with the rest of the bus. */
export interface KafkaTailOptions {
  kafka: Kafka;
  /** Its consumer group: unique to the instance, so every instance reads every event. */
  groupId: string;
  /** The event topics, and the idempotency topic when there is one. */
  topics: readonly string[];
  /** Learns the keys of the idempotency topic. */
  keys: IdempotencyKeys;
  /** Next offset to deliver per partition (`partitionKey`), from the start-up offsets; advanced by the tail. */
  nextOffset: Map<string, bigint>;
  /** Last offset delivered per partition of the event topics (the cursor of tailed entries); advanced by the tail. */
  tailed: PositionTracker;
  /** Longest a fetch waits for new records on an idle cluster. */
  maxWaitMs: number;
  /** Longest records are held back while a partition that is behind catches up. */
  reorderMs: number;
  /** Whether the bus is closing (a crashed consumer is then not restarted). */
  isClosed: () => boolean;
  log: KafkaLogSink;
}

/** The live tail of the event topics. */
export interface KafkaTail {
  /** Joins the group; resolves once it has, the first time. */
  start(): Promise<void>;
  /**
   * Calls `deliver` with every record tailed from now on, in log order. `floor`: the positions known
   * when it subscribed (records at or below them are older than the subscription). Returns an unsubscribe function.
   */
  listen(deliver: (entries: readonly LogEntry[]) => void, floor: Positions): () => void;
  /** Whether the consumer was started and is not in the group now (crashed, restarting). */
  readonly down: boolean;
  /** Stops delivering; resolves once the consumer disconnected. */
  close(): Promise<void>;
}

interface Listener {
  deliver: (entries: readonly LogEntry[]) => void;
  /** Positions known when it subscribed: records at or below them are older than the subscription. */
  floor: Positions | undefined;
}

/**
 * One consumer per instance tails the event topics from the offsets of start-up, delivering in log
 * order across partitions (see `LogOrderBuffer`); it also follows the idempotency topic, so keys
 * other instances publish are known here.
 */
export function createKafkaTail(options: KafkaTailOptions): KafkaTail {
  const { nextOffset, tailed, keys, log } = options;
  const listeners = new Set<Listener>();
  const undelivered = new LogOrderBuffer<Draft>();
  let consumer: Consumer | undefined;
  let joined = false;
  let flushScheduled = false;
  let holdTimer: NodeJS.Timeout | undefined;

  async function start(): Promise<void> {
    const tail = options.kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: options.maxWaitMs,
      allowAutoTopicCreation: false,
      // kafkajs restarts a crashed consumer after a delay, also when the crash came from close().
      retry: { retries: 5, restartOnFailure: async () => !options.isClosed() },
    });
    consumer = tail;
    let firstJoin!: () => void;
    const joinedOnce = new Promise<void>((resolve) => (firstJoin = resolve));
    // On every (re)join, start where the tail stopped: from the start-up offsets the first time,
    // after a crash or rebalance from the last delivered record. A partition unknown at start-up
    // was created since, so all of it is new.
    tail.on(tail.events.GROUP_JOIN, ({ payload }) => {
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          tail.seek({ topic, partition, offset: (nextOffset.get(partitionKey(topic, partition)) ?? 0n).toString() });
        }
      }
      joined = true;
      firstJoin();
    });
    tail.on(tail.events.CRASH, ({ payload }) => {
      joined = false;
      log('error', 'KafkaBus', 'the tail consumer crashed', { error: errorMessage(payload.error), restart: payload.restart });
    });
    await tail.connect();
    await tail.subscribe({ topics: [...options.topics], fromBeginning: false });
    tail
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const key = partitionKey(batch.topic, batch.partition);
          let expected = nextOffset.get(key) ?? 0n;
          const drafts: Draft[] = [];
          const isKeys = batch.topic === keys.topic;
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            // Redelivered after a rejoin: each record goes out once.
            if (offset < expected) continue;
            expected = offset + 1n;
            if (isKeys) {
              keys.learn(message.key, message.value);
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
          if (isKeys) return;
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

  /** Hands the records ready in log order to the listeners; a partition that stays behind holds the others back for at most `reorderMs`. */
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
      }, options.reorderMs);
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

  return {
    start,
    listen(deliver, floor) {
      const listener: Listener = { deliver, floor };
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get down() {
      return consumer !== undefined && !joined;
    },
    async close() {
      clearTimeout(holdTimer);
      listeners.clear();
      await consumer?.disconnect();
    },
  };
}

function isAfterFloor(listener: Listener, entry: LogEntry): boolean {
  const floor = listener.floor?.get(entry.topic)?.get(entry.partition);
  return floor === undefined || BigInt(entry.offset) > floor;
}
