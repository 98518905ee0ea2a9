import { describe, expect, it } from 'vitest';
import { findInDoubtWrites, InDoubtWrites } from '../src/backends/bus/kafka-in-doubt.ts';
import { partitionKey, type FetchedRecord, type KafkaWire, type PartitionRange } from '../src/backends/bus/kafka-wire.ts';

/** A log in memory behind the wire's interface: topic → partitions → records (offset = index). */
function fakeWire(log: Record<string, string[][]>) {
  const reads: PartitionRange[][] = [];
  const recordAt = (topic: string, partition: number, offset: number): FetchedRecord => ({
    topic,
    partition,
    offset: BigInt(offset),
    timestamp: 1_000 + offset,
    key: Buffer.from('USER1'),
    value: Buffer.from('{}'),
    headers: { idempotencyKey: Buffer.from(log[topic]![partition]![offset]!), eventId: Buffer.from(`evt-${topic}-${partition}-${offset}`) },
  });
  const wire: KafkaWire = {
    partitionCounts: async (topics) => new Map(topics.filter((t) => log[t]).map((t) => [t, log[t]!.length])),
    autoCreate: async () => undefined,
    watermarks: async (topics) => {
      const marks = new Map<string, { low: bigint; high: bigint }>();
      for (const [topic, count] of topics) for (let p = 0; p < count; p += 1) marks.set(partitionKey(topic, p), { low: 0n, high: BigInt(log[topic]![p]!.length) });
      return marks;
    },
    read: async (ranges, want) => {
      reads.push([...ranges]);
      return ranges.map((range) => {
        const queue: FetchedRecord[] = [];
        for (let offset = Number(range.from); offset < Number(range.to) && queue.length < want; offset += 1) {
          const record = recordAt(range.topic, range.partition, offset);
          if (!range.accept || range.accept(record)) queue.push(record);
        }
        return queue;
      });
    },
    close: async () => undefined,
  };
  return { wire, reads };
}

const keyOf = (record: FetchedRecord) => (record.headers['idempotencyKey'] as Buffer | undefined)?.toString('utf8');

describe('in-doubt writes', () => {
  it('finds where a write with an unknown outcome landed, reading only from where it could be', async () => {
    const { wire, reads } = fakeWire({
      topic_booking_events: [
        ['a', 'late', 'b', 'late'], // partition 0: "late" landed at 1, and again at 3 (only the first counts)
        ['c', 'other'],
      ],
    });
    const doubtful = new Map([
      ['late', { topic: 'topic_booking_events', partition: 0, from: 1n }],
      ['never', { topic: 'topic_booking_events', partition: 1, from: 1n }],
      ['gone', { topic: 'topic_that_does_not_exist', partition: 0, from: 0n }],
    ]);
    const found = await findInDoubtWrites(wire, doubtful, keyOf);
    expect([...found.keys()]).toEqual(['late']);
    expect(found.get('late')).toMatchObject({ partition: 0, offset: 1n });
    expect(reads).toHaveLength(1);
    expect(reads[0]!.map((r) => [r.topic, r.partition, r.from, r.to])).toEqual([
      ['topic_booking_events', 0, 1n, 4n],
      ['topic_booking_events', 1, 1n, 2n],
    ]);
  });

  it('starts a partition at the lowest offset any of its in-doubt writes could have', async () => {
    const { wire, reads } = fakeWire({ t: [['x', 'k1', 'y', 'k2']] });
    const found = await findInDoubtWrites(
      wire,
      new Map([
        ['k2', { topic: 't', partition: 0, from: 3n }],
        ['k1', { topic: 't', partition: 0, from: 1n }],
      ]),
      keyOf,
    );
    expect(new Map([...found].map(([key, record]) => [key, record.offset]))).toEqual(new Map([['k1', 1n], ['k2', 3n]]));
    expect(reads[0]!.map((r) => r.from)).toEqual([1n]);
  });

  it('remembers keys until taken, gives back what a failed lookup took, and forgets the oldest past its limit', () => {
    const writes = new InDoubtWrites(2);
    writes.mark('a', { topic: 't', partition: 0, from: 0n });
    writes.mark('b', { topic: 't', partition: 0, from: 1n });
    writes.mark('c', { topic: 't', partition: 0, from: 2n });
    expect(writes.size).toBe(2);
    const taken = writes.take(['a', 'b', 'c', 'z']);
    expect([...taken.keys()]).toEqual(['b', 'c']);
    expect(writes.size).toBe(0);
    writes.restore(taken);
    expect([...writes.take(['c']).values()]).toEqual([{ topic: 't', partition: 0, from: 2n }]);
  });
});
