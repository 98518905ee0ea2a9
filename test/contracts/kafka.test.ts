import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, LogOrderBuffer, mergeInLogOrder, type Ordered } from '../../src/backends/bus/kafka-cursor.ts';
import { createKafkaBus, type KafkaBus, type KafkaBusOptions } from '../../src/backends/bus/kafka.ts';
import type { BusRecord, LogEntry } from '../../src/backends/bus/port.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { describeWithPeer, freePort } from '../helpers/peers.ts';
import { describeBusContract } from './bus.contract.ts';

/**
 * The Kafka adapter against librdkafka's mock cluster (kcat): kafkajs really produces, joins
 * consumer groups and fetches over the Kafka protocol. One broker: the mock gives every topic 4
 * partitions whatever the broker count, and replication is not what is under test here.
 */

const execFileAsync = promisify(execFile);

describeWithPeer('kafka adapter', 'kcat', 'kcat', (kcat) => {
  let mock: KafkaMock;
  const buses: KafkaBus[] = [];
  // The mock answers an idle fetch only when its MaxWait is over (a produce does not wake it), so
  // the tail polls every 20 ms here; Kafka answers as soon as a record arrives.
  const open = async (options: Partial<KafkaBusOptions> & Pick<KafkaBusOptions, 'topics'>): Promise<KafkaBus> => {
    const bus = await createKafkaBus({ brokers: mock.brokers, logLevel: 'nothing', tailMaxWaitMs: 20, closeTimeoutMs: 1_000, ...options });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    mock = await startKafkaMock({ binary: kcat });
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await mock?.stop();
  });

  describeBusContract('kafka', () => open({ topics: ['topic_contract_a', 'topic_contract_b'] }));

  describe('kafka specifics', () => {
    let n = 0;
    const record = (topic: string, idempotencyKey: string | null = null): BusRecord => {
      n += 1;
      return { topic, key: `USER${String(n % 7).padStart(6, '0')}`, eventId: `evt-kafka-${n}`, value: JSON.stringify({ n }), idempotencyKey };
    };
    const topicA = 'topic_kafka_bookings';
    const topicB = 'topic_kafka_users';
    let first: KafkaBus;
    let second: KafkaBus;

    beforeAll(async () => {
      // Two gateway instances: each joins a group of its own (3 s initial rebalance delay each, in parallel).
      [first, second] = await Promise.all([open({ topics: [topicA, topicB] }), open({ topics: [topicA, topicB] })]);
    });

    it('reports what the mock cluster supports: no controller, so no idempotent producer and no CreateTopics', () => {
      expect(first.capabilities).toEqual({ idempotentProducer: false, createTopics: false });
    });

    it('delivers every record to every instance, each once, in partition order', async () => {
      const seen = [[], []] as LogEntry[][];
      const stops = [first.tail((e) => seen[0]!.push(...e)), second.tail((e) => seen[1]!.push(...e))];
      const records = Array.from({ length: 12 }, (_, i) => record(i % 2 ? topicA : topicB));
      await first.publish(records.slice(0, 6));
      await Promise.all(records.slice(6).map((r, i) => (i % 2 ? first : second).publish([r])));
      await until(() => seen.every((entries) => entries.length >= records.length));
      for (const entries of seen) {
        expect(entries.map((e) => e.eventId).sort()).toEqual(records.map((r) => r.eventId).sort());
        for (const [, partition] of groupBy(entries, (e) => `${e.topic}/${e.partition}`)) {
          const offsets = partition.map((e) => BigInt(e.offset));
          expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : 1)));
        }
      }
      stops.forEach((stop) => stop());
    });

    it('resumes from a tailed entry cursor with exactly the records it missed, on both topics', async () => {
      const seen: LogEntry[] = [];
      const stop = second.tail((e) => seen.push(...e));
      const before = Array.from({ length: 6 }, (_, i) => record(i % 3 ? topicA : topicB));
      await first.publish(before);
      await until(() => seen.length >= before.length);
      // The subscriber saw the first three, then went away; records keep arriving on both topics.
      const resumeFrom = seen[2]!;
      const missedLive = seen.slice(3).map((e) => e.eventId);
      const after = Array.from({ length: 6 }, (_, i) => record(i % 2 ? topicA : topicB));
      await first.publish(after.slice(0, 3));
      await second.publish(after.slice(3));
      await until(() => seen.length >= before.length + after.length);
      stop();

      const replay = await first.readAfter(resumeFrom.cursor, 100);
      const ids = replay.map((e) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual([...missedLive, ...after.map((r) => r.eventId)].sort());
      // The replay's own cursors page through the same records.
      const firstPage = await first.readAfter(resumeFrom.cursor, 4);
      const rest = await first.readAfter(firstPage[3]!.cursor, 100);
      expect([...firstPage, ...rest].map((e) => e.eventId).sort()).toEqual(ids);
    });

    it('publishes to a topic it has never seen (auto-created by the cluster)', async () => {
      const topic = `topic_kafka_fresh_${randomUUID().slice(0, 8)}`;
      const [ack] = await first.publish([record(topic)]);
      expect(ack).toMatchObject({ topic, offset: '0', duplicate: false });
      const later = record(topic);
      await first.publish([later]);
      // Other topics' records the tail had not delivered when the ack's cursor was cut also come
      // after it (partitions have no order between them but the tail's): only this topic's are checked.
      const after = (await first.readAfter(ack!.cursor, 10)).filter((e) => e.topic === topic);
      expect(after.map((e) => e.eventId)).toEqual([later.eventId]);
    });

    it('remembers idempotency keys across a restart (through the idempotency topic)', async () => {
      const key = `order-${randomUUID()}`;
      const [original] = await first.publish([record(topicA, key)]);
      const restarted = await open({ topics: [topicA, topicB] });
      const [again] = await restarted.publish([record(topicA, key)]);
      expect(again).toEqual({ ...original, duplicate: true });
      expect(await restarted.readAfter(original!.cursor, 10)).toEqual([]);
    });

    it('writes records other clients read with their key, value and headers (a dead letter, read back by kcat)', async () => {
      // Dead letters are ordinary publishes to the dead-letter topic, as the medallion sends them.
      const failed = record('topic_dead_letter', `dead-letter:${randomUUID()}`);
      const [ack] = await first.publish([failed]);
      expect(ack).toMatchObject({ topic: 'topic_dead_letter', eventId: failed.eventId, duplicate: false });
      const { stdout } = await execFileAsync(
        kcat,
        ['-b', mock.brokers.join(','), '-C', '-t', ack!.topic, '-p', String(ack!.partition), '-o', ack!.offset, '-c', '1', '-e', '-J', '-q'],
        { timeout: 10_000 },
      );
      const { key, payload, headers } = JSON.parse(stdout) as { key: string; payload: string; headers: string[] };
      expect({ key, payload }).toEqual({ key: failed.key, payload: failed.value });
      const byName = Object.fromEntries(headers.flatMap((_, i) => (i % 2 ? [] : [[headers[i], headers[i + 1]]])));
      expect(byName).toEqual({ eventId: failed.eventId, idempotencyKey: failed.idempotencyKey });
    });

    it('fails start-up with a BackendError when no broker answers, within its budget', async () => {
      const started = performance.now();
      await expect(
        createKafkaBus({ brokers: [`127.0.0.1:${await freePort()}`], topics: [topicA], logLevel: 'nothing', startTimeoutMs: 1_500, closeTimeoutMs: 500 }),
      ).rejects.toMatchObject({ name: 'BackendError', role: 'bus', adapter: 'kafka' });
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('reports DOWN within its budget once the cluster is gone', async () => {
      expect(await first.health()).toMatchObject({ role: 'bus', adapter: 'kafka', status: 'OK', error: null });
      await mock.stop();
      const started = performance.now();
      const report = await first.health();
      expect(report).toMatchObject({ role: 'bus', adapter: 'kafka', status: 'DOWN' });
      expect(performance.now() - started).toBeLessThan(5_000);
    });
  });
});

// Pure pieces, no broker needed.
describe('kafka cursors and log order', () => {
  const record = (topic: string, partition: number, offset: number, timestamp: number): Ordered => ({ topic, partition, offset: BigInt(offset), timestamp });

  it('round-trips positions and refuses anything it did not make', () => {
    const positions = new Map([
      ['topic_booking_events', new Map([[0, 41n], [3, -1n]])],
      ['topic_user_events', new Map([[1, 9_007_199_254_740_993n]])],
    ]);
    const cursor = encodeCursor({ time: 1_700_000_000_000, positions });
    expect(decodeCursor(cursor)).toEqual({ time: 1_700_000_000_000, positions });
    for (const junk of ['42', 'not-an-offset', '', cursor.slice(0, -2), `${cursor}A`, Buffer.from('{"v":1,"t":0,"p":{"a b":"1"}}').toString('base64url')]) {
      expect(decodeCursor(junk)).toBeUndefined();
    }
  });

  it('merges partitions by publish time without reordering a partition', () => {
    // Partition 1's second record carries an earlier timestamp (another producer's clock): it still follows its first.
    const p0 = [record('t', 0, 0, 10), record('t', 0, 1, 30)];
    const p1 = [record('t', 1, 0, 20), record('t', 1, 1, 5)];
    expect(mergeInLogOrder([p0, p1]).map((r) => `${r.partition}:${r.offset}`)).toEqual(['0:0', '1:0', '1:1', '0:1']);
    expect(mergeInLogOrder([p0, p1], 2)).toHaveLength(2);
  });

  it('holds records back while a partition that is behind may hold earlier ones', () => {
    const buffer = new LogOrderBuffer<Ordered>();
    buffer.add('a', [record('a', 0, 7, 100)], 100, true); // more to read on a
    buffer.add('b', [record('b', 0, 3, 120)], 120, false);
    expect(buffer.release().map((r) => r.topic)).toEqual(['a']);
    expect(buffer.size).toBe(1);
    buffer.add('a', [record('a', 0, 8, 110)], 110, false); // a caught up
    expect(buffer.release().map((r) => `${r.topic}:${r.offset}`)).toEqual(['a:8', 'b:3']);
    buffer.add('a', [], 130, true);
    buffer.add('b', [record('b', 0, 4, 140)], 140, false);
    expect(buffer.release()).toEqual([]);
    expect(buffer.release(true)).toHaveLength(1);
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
