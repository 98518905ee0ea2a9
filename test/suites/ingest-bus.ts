import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { expect } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/backends/bus/kafka-cursor.ts';
import type { BusPort, LogEntry } from '../../src/backends/bus/port.ts';

/** The bus adapters the ingest and subscription suites run on. */
export type BusAdapter = 'embedded' | 'kafka';

/** What an ingest receipt says: where the event now lives. */
export interface ReceiptPosition {
  topic: string;
  partition: number;
  /** Offset in the partition, decimal on every bus. */
  offset: string;
}

/** What each bus decides for itself, and so what the suites expect of it. */
export interface BusBehaviour {
  /** The partition a record of `key` goes to: one key, one partition (a user's events stay in order). */
  partitionOf(topic: string, key: string): number;
  /** Asserts that `offset`, an `Event.offset` delivered live, has this bus's form for the event of `receipt`. */
  expectDeliveredOffset(offset: string, receipt: ReceiptPosition): void;
  /** Asserts that offsets delivered to one subscriber, in delivery order, follow the log order. */
  expectLogOrder(offsets: readonly string[]): void;
  /** The `Event.offset` a query answers for a promoted event of `receipt`. */
  queriedOffset(receipt: ReceiptPosition): string | null;
  /**
   * Bound on publish-to-subscriber delivery the suite asserts, or none. The embedded log wakes
   * subscribers in-process on commit; Kafka's tail is a fetch loop that may hold records back to
   * merge partitions in log order (`tailReorderMs`), and its latency is measured in bench/.
   */
  liveWithinMs: number | undefined;
  /** A position of this bus's form `records` past a delivered one: what a client saved before the data was reset. */
  beyondEnd(delivered: string, records: bigint): string;
}

/**
 * Partitions of an auto-created topic on librdkafka's mock cluster, the Kafka peer of these suites
 * (its `defaults.partition_cnt`).
 */
const KAFKA_MOCK_PARTITIONS = 4;

const kafkaPartitioner = Partitioners.DefaultPartitioner();
const mockPartitions: PartitionMetadata[] = Array.from({ length: KAFKA_MOCK_PARTITIONS }, (_, partitionId) => ({
  partitionId,
  leader: 1,
  partitionErrorCode: 0,
  replicas: [1],
  isr: [1],
}));

export const BUS_BEHAVIOUR: Record<BusAdapter, BusBehaviour> = {
  embedded: {
    // One log, one partition, one global offset that is also the resume position.
    partitionOf: () => 0,
    expectDeliveredOffset: (offset, receipt) => expect(offset).toBe(receipt.offset),
    expectLogOrder: (offsets) => {
      const numbers = offsets.map((o) => BigInt(o));
      expect([...numbers].sort((a, b) => (a < b ? -1 : 1))).toEqual(numbers);
    },
    queriedOffset: (receipt) => receipt.offset,
    liveWithinMs: 1_000,
    beyondEnd: (delivered, records) => String(BigInt(delivered) + records),
  },
  kafka: {
    // The Java client's murmur2 placement, so other Kafka producers and consumers agree on it.
    partitionOf: (topic, key) => kafkaPartitioner({ topic, partitionMetadata: mockPartitions, message: { key, value: null } }),
    // A position across every partition (base64url), opaque to clients; never the receipt's partition offset.
    expectDeliveredOffset: (offset, receipt) => {
      expect(offset).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(offset).not.toBe(receipt.offset);
    },
    // Opaque: order shows in what a resume returns, which the suites check; here, one position per event.
    expectLogOrder: (offsets) => {
      expect(new Set(offsets).size).toBe(offsets.length);
      for (const offset of offsets) expect(offset).toMatch(/^[A-Za-z0-9_-]+$/);
    },
    // The position the medallion read the event at: a cursor (base64url) a client may pass to
    // `fromOffset`, not the receipt's partition offset.
    queriedOffset: () => expect.stringMatching(/^[A-Za-z0-9_-]{8,}$/) as unknown as string,
    liveWithinMs: undefined,
    beyondEnd: (delivered, records) => {
      const cursor = decodeCursor(delivered)!;
      for (const partitions of cursor.positions.values()) for (const [partition, offset] of partitions) partitions.set(partition, offset + records);
      return encodeCursor(cursor);
    },
  },
};

const DEAD_LETTER_TOPIC = 'topic_dead_letter';
const PAGE = 1_000;

/** The bus read back through its port, as any consumer reads it (dead letters left out). */
export interface PublishedRecords {
  /** Every record published after the previous call (after the log's start on the first). */
  since(): Promise<LogEntry[]>;
  /** Every record on the log. */
  all(): Promise<LogEntry[]>;
}

/** Follows what `bus()` holds; works on every bus (Kafka's `readAfter` reads the event topics). */
export function publishedRecords(bus: () => BusPort): PublishedRecords {
  let cursor: string | undefined;

  async function readFrom(from: string): Promise<{ entries: LogEntry[]; cursor: string }> {
    const entries: LogEntry[] = [];
    let position = from;
    for (;;) {
      const page = await bus().readAfter(position, PAGE);
      entries.push(...page);
      position = page[page.length - 1]?.cursor ?? position;
      if (page.length < PAGE) break;
    }
    return { entries: entries.filter((entry) => entry.topic !== DEAD_LETTER_TOPIC), cursor: position };
  }

  return {
    async since() {
      const read = await readFrom(cursor ?? bus().startCursor);
      cursor = read.cursor;
      return read.entries;
    },
    async all() {
      return (await readFrom(bus().startCursor)).entries;
    },
  };
}
