import { decodeCursor, mergeInLogOrder, PositionTracker } from './kafka-cursor.ts';
import { draftOf, toEntry } from './kafka-records.ts';
import { partitionKey, type KafkaWire, type PartitionRange } from './kafka-wire.ts';
import type { BackendError } from '../../errors.ts';
import { isUnknownPosition, unknownPosition, type LogEntry } from './port.ts';

/** What a replay reads. */
export interface KafkaReplayOptions {
  wire: KafkaWire;
  /** The event topics (read whatever the cursor names). */
  topics: readonly string[];
  /** Never read, whatever a cursor says. */
  idempotencyTopic: string | null;
  /** Whether the bus is closed (a replay then fails). */
  isClosed: () => boolean;
  backendError: (message: string, cause?: unknown) => BackendError;
}

/**
 * `readAfter` of the Kafka bus: reads offset ranges directly (`kafka-wire.ts`), from the cursor's
 * offset on each partition it names, and merges partitions in log order. Rejects with
 * `unknownPosition` for a cursor this bus never made, with a `BackendError` when the cluster fails.
 */
export function kafkaReplay(options: KafkaReplayOptions): (cursor: string, limit: number) => Promise<LogEntry[]> {
  const { wire, topics, idempotencyTopic, backendError } = options;
  return async function readAfter(cursor, limit) {
    const position = decodeCursor(cursor);
    if (!position) {
      throw unknownPosition(`"${cursor.slice(0, 40)}" is not a position on this event bus (expected the offset of an event it delivered).`);
    }
    if (options.isClosed()) throw backendError('the bus is closed');
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
  };
}

/** `follows` of the Kafka bus: whether an entry lies after `cursor` as `readAfter` reads; undefined for a cursor it never made. */
export function kafkaFollows(cursor: string): ((entry: LogEntry) => boolean) | undefined {
  const position = decodeCursor(cursor);
  if (!position) return undefined;
  // As readAfter reads: past the named offset on a partition the cursor names, else from its time on.
  return (entry) => {
    const last = position.positions.get(entry.topic)?.get(entry.partition);
    return last !== undefined ? BigInt(entry.offset) > last : entry.publishedAt.getTime() >= position.time;
  };
}

/** The refusal of a cursor past a partition's end (`high`: its high watermark; undefined: no such partition). */
function beyondEnd(topic: string, partition: number, last: bigint, high: bigint | undefined): Error {
  const end = high === undefined ? 'which this cluster does not have' : high === 0n ? 'which is empty' : `whose last offset is ${high - 1n}`;
  return unknownPosition(
    `The position names offset ${last} of ${topic}[${partition}], ${end}: it was not delivered by this event bus (another cluster, or before a data reset). Resubscribe without fromOffset, or with an offset it delivered.`,
  );
}
