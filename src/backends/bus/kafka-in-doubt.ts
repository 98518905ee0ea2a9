import { partitionKey, type FetchedRecord, type KafkaWire, type PartitionRange } from './kafka-wire.ts';

/**
 * Keyed writes whose outcome is unknown. A produce request that failed after it was sent (the
 * broker stopped answering, the connection dropped, the publish ran out of time) may still have
 * been written: the broker can append it and lose only the answer, or append it late, once it
 * answers again. Kafka's idempotent producer hides that for its own retries, not for a client
 * that publishes again after an error. So the bus remembers where such a write would have gone,
 * and when the same idempotency key is published again it first looks there: a record carrying
 * the key is the answer (the first ack, `duplicate: true`), and only otherwise is it written.
 */

/** Where an in-doubt write would be: its partition, from the first offset it could have taken. */
export interface InDoubtWrite {
  topic: string;
  partition: number;
  /** Lowest offset the record can have: the partition's known end when the request was sent. */
  from: bigint;
}

/** Keys of writes with an unknown outcome, oldest first, at most `limit` (the oldest are forgotten). */
export class InDoubtWrites {
  private readonly writes = new Map<string, InDoubtWrite>();
  private readonly limit: number;

  constructor(limit = 100_000) {
    this.limit = limit;
  }

  get size(): number {
    return this.writes.size;
  }

  /** Records that the write of `key` may or may not have happened. */
  mark(key: string, write: InDoubtWrite): void {
    this.writes.delete(key);
    this.writes.set(key, write);
    if (this.writes.size > this.limit) {
      const oldest = this.writes.keys().next();
      if (!oldest.done) this.writes.delete(oldest.value);
    }
  }

  /** Removes and returns the in-doubt writes among `keys`. */
  take(keys: Iterable<string>): Map<string, InDoubtWrite> {
    const taken = new Map<string, InDoubtWrite>();
    for (const key of keys) {
      const write = this.writes.get(key);
      if (!write) continue;
      taken.set(key, write);
      this.writes.delete(key);
    }
    return taken;
  }

  /** Puts back writes `take` returned, when looking for them failed. */
  restore(writes: ReadonlyMap<string, InDoubtWrite>): void {
    for (const [key, write] of writes) if (!this.writes.has(key)) this.writes.set(key, write);
  }
}

/**
 * Looks for the records of in-doubt writes: reads each partition concerned from the lowest
 * offset any of its writes could have, up to its high watermark, keeping records whose
 * idempotency key (`keyOf`) is wanted. Returns the first record found per key; a key without
 * one was not written.
 */
export async function findInDoubtWrites(
  wire: KafkaWire,
  writes: ReadonlyMap<string, InDoubtWrite>,
  keyOf: (record: FetchedRecord) => string | undefined,
): Promise<Map<string, FetchedRecord>> {
  const byPartition = new Map<string, { topic: string; partition: number; from: bigint; keys: Set<string> }>();
  for (const [key, write] of writes) {
    const id = partitionKey(write.topic, write.partition);
    const group = byPartition.get(id);
    if (!group) byPartition.set(id, { topic: write.topic, partition: write.partition, from: write.from, keys: new Set([key]) });
    else {
      group.keys.add(key);
      if (write.from < group.from) group.from = write.from;
    }
  }
  const counts = await wire.partitionCounts([...new Set([...writes.values()].map((write) => write.topic))]);
  const marks = await wire.watermarks(counts);
  const ranges: PartitionRange[] = [];
  for (const [id, group] of byPartition) {
    const mark = marks.get(id);
    if (!mark) continue; // the topic or partition does not exist: nothing was written there
    ranges.push({
      topic: group.topic,
      partition: group.partition,
      from: group.from > mark.low ? group.from : mark.low,
      to: mark.high,
      accept: (record) => group.keys.has(keyOf(record) ?? ''),
    });
  }
  const found = new Map<string, FetchedRecord>();
  // To the end of each range: a key may already be there twice (only the first counts).
  for (const queue of await wire.read(ranges, Number.POSITIVE_INFINITY)) {
    for (const record of queue) {
      const key = keyOf(record);
      if (key !== undefined && !found.has(key)) found.set(key, record);
    }
  }
  return found;
}
