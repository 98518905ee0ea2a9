import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/backends/bus/kafka-cursor.ts';
import { isUnknownPosition, type BusPort, type BusRecord, type LogEntry } from '../../src/backends/bus/port.ts';
import { BUS_BEHAVIOUR, type BusAdapter } from '../suites/ingest-bus.ts';

/** The bus role's behaviour, written once and run against every adapter. */
export function describeBusContract(name: string, make: () => Promise<BusPort>): void {
  describe(`bus contract: ${name}`, () => {
    let bus: BusPort;
    let n = 0;
    const record = (topic: string, idempotencyKey: string | null = null): BusRecord => {
      n += 1;
      return { topic, key: `user-${n % 3}`, eventId: `evt-${name}-${n}`, value: JSON.stringify({ n }), idempotencyKey };
    };
    beforeAll(async () => {
      bus = await make();
    });
    afterAll(async () => {
      await bus?.close();
    });

    it('acknowledges each record with its topic and an increasing offset, in input order', async () => {
      // One key, so both records of topic_contract_a share a partition where the bus has several.
      const records = [record('topic_contract_a'), record('topic_contract_a'), record('topic_contract_b')].map((r) => ({ ...r, key: 'same-user' }));
      const acks = await bus.publish(records);
      expect(acks.map((a) => a.eventId)).toEqual(records.map((r) => r.eventId));
      expect(acks.map((a) => a.topic)).toEqual(['topic_contract_a', 'topic_contract_a', 'topic_contract_b']);
      expect(BigInt(acks[1]!.offset)).toBeGreaterThan(BigInt(acks[0]!.offset));
      expect(acks.every((a) => !a.duplicate)).toBe(true);
    });

    it('returns acknowledged records when read back after a cursor', async () => {
      const [before] = await bus.publish([record('topic_contract_a')]);
      const records = [record('topic_contract_a'), record('topic_contract_b')];
      await bus.publish(records);
      const entries = await bus.readAfter(before!.cursor, 100);
      expect(entries.map((e) => e.eventId)).toEqual(records.map((r) => r.eventId));
      expect(entries[0]).toMatchObject({ topic: 'topic_contract_a', key: records[0]!.key, value: records[0]!.value });
      expect(entries[0]!.publishedAt).toBeInstanceOf(Date);
    });

    it('pages a replay with limit', async () => {
      const [start] = await bus.publish([record('topic_contract_a')]);
      await bus.publish([record('topic_contract_a'), record('topic_contract_a'), record('topic_contract_a')]);
      const page = await bus.readAfter(start!.cursor, 2);
      const rest = await bus.readAfter(page[1]!.cursor, 10);
      expect(page).toHaveLength(2);
      expect(rest).toHaveLength(1);
    });

    it('answers a repeated idempotency key with the first ack and writes nothing', async () => {
      const [first] = await bus.publish([record('topic_contract_a', 'contract-key-1')]);
      const [again] = await bus.publish([record('topic_contract_a', 'contract-key-1')]);
      expect(again).toEqual({ ...first, duplicate: true });
      expect(await bus.readAfter(first!.cursor, 10)).toEqual([]);
    });

    it('tails every record made durable after subscribing, in log order', async () => {
      const seen: LogEntry[] = [];
      const stop = bus.tail((entries) => seen.push(...entries));
      const records = [record('topic_contract_a'), record('topic_contract_b')];
      await Promise.all([bus.publish([records[0]!]), bus.publish([records[1]!])]);
      while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      stop();
      expect(seen.map((e) => e.eventId)).toEqual(records.map((r) => r.eventId));
      await bus.publish([record('topic_contract_a')]);
      expect(seen).toHaveLength(2);
    });

    it('refuses a cursor it never made', async () => {
      await expect(bus.readAfter('not-an-offset', 10)).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    });

    it("refuses a position beyond its end, and another bus's position, as positions it never made", async () => {
      const [ack] = await bus.publish([record('topic_contract_a')]);
      const beyond = BUS_BEHAVIOUR[bus.adapter as BusAdapter].beyondEnd(ack!.cursor, 1_000_000n);
      const embeddedOffset = '0';
      const kafkaCursor = encodeCursor({ time: 0, positions: new Map([['topic_contract_a', new Map([[0, 0n]])]]) });
      // Records consumed on a topic this bus never had (another cluster's).
      const otherCluster = encodeCursor({ time: 0, positions: new Map([['topic_contract_elsewhere', new Map([[0, 5n]])]]) });
      for (const foreign of [beyond, otherCluster, bus.adapter === 'embedded' ? kafkaCursor : embeddedOffset]) {
        const refusal = await bus.readAfter(foreign, 10).then(() => undefined, (error: unknown) => error);
        expect(isUnknownPosition(refusal), String(refusal)).toBe(true);
        expect(refusal).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'fromOffset' } });
      }
      // The last position it made is not beyond its end.
      await expect(bus.readAfter(ack!.cursor, 10)).resolves.toBeInstanceOf(Array);
    });

    it('tells which entries follow a cursor exactly as a replay from it returns them', async () => {
      const [before] = await bus.publish([record('topic_contract_a')]);
      await bus.publish([record('topic_contract_a'), record('topic_contract_b'), record('topic_contract_a')]);
      const log = await bus.readAfter(bus.startCursor, 100_000);
      const from = log.find((e) => e.eventId === before!.eventId)!;
      const follows = bus.follows(from.cursor)!;
      const replayed = new Set((await bus.readAfter(from.cursor, 100_000)).map((e) => e.eventId));
      expect(replayed.size).toBe(3);
      for (const entry of log) expect(follows(entry), entry.eventId).toBe(replayed.has(entry.eventId));
      expect(bus.follows('not-an-offset')).toBeUndefined();
    });

    it('reports its health', async () => {
      expect(await bus.health()).toMatchObject({ role: 'bus', adapter: bus.adapter, status: 'OK' });
    });
  });
}
