import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../helpers/gateway.ts';
import { BUS_BEHAVIOUR, publishedRecords, type BusAdapter } from './ingest-bus.ts';

const INGEST = `mutation ($input: EventInput!, $key: String) {
  ingestEvent(input: $input, idempotencyKey: $key) { eventId topic partition offset duplicate }
}`;

interface Receipt {
  eventId: string;
  topic: string;
  partition: number;
  offset: string;
  duplicate: boolean;
}

const booking = (overrides: Record<string, unknown> = {}) => ({
  eventType: 'BOOKING',
  userId: 'USER000042',
  tourId: 'TOUR0007',
  region: 'JP',
  amount: 420.5,
  currency: 'USD',
  ...overrides,
});

/**
 * The write API (ingestEvent, ingestEvents) and what follows from it in queries, written once
 * and run on every bus: the durable write is observed through the bus port, as any consumer
 * would read it, and promotion through the medallion's `settle()`.
 */
export function describeIngestSuite(label: string, start: () => Promise<TestGateway>, bus: BusAdapter): void {
  const behaviour = BUS_BEHAVIOUR[bus];

  describe(`ingest: ${label}`, () => {
    let gw: TestGateway;
    const published = publishedRecords(() => gw.gateway.services.backends.bus);
    beforeAll(async () => {
      gw = await start();
    }, 120_000);
    afterAll(async () => {
      await gw?.close();
    });

    describe('ingestEvent', () => {
      it('routes a booking to the booking topic and answers after the durable write', async () => {
        await published.since();
        const { body } = await gw.request<{ ingestEvent: Receipt }>(INGEST, { input: booking() });
        expect(body.errors).toBeUndefined();
        const receipt = body.data!.ingestEvent;
        expect(receipt).toMatchObject({ topic: 'topic_booking_events', partition: behaviour.partitionOf('topic_booking_events', 'USER000042'), duplicate: false });
        expect(receipt.offset).toMatch(/^\d+$/);
        // Durable before the answer: the record is on the log, exactly where the receipt says.
        const records = await published.since();
        expect(records.map(({ eventId, topic, partition, offset }) => ({ eventId, topic, partition, offset }))).toEqual([
          { eventId: receipt.eventId, topic: 'topic_booking_events', partition: receipt.partition, offset: receipt.offset },
        ]);
        expect(JSON.parse(records[0]!.value)).toMatchObject({ eventType: 'booking', amount: 420.5, source: 'gateway', contractVersion: 1 });
      });

      it('routes other activity to the user-events topic', async () => {
        const { body } = await gw.request<{ ingestEvent: Receipt }>(INGEST, { input: { eventType: 'VIEW', userId: 'USER000042', tourId: 'TOUR0007' } });
        expect(body.data!.ingestEvent).toMatchObject({ topic: 'topic_user_events', partition: behaviour.partitionOf('topic_user_events', 'USER000042') });
      });

      it.each([
        ['a negative amount', booking({ amount: -5 }), ['input', 'amount']],
        ['a lower-case currency', booking({ currency: 'usd' }), ['input', 'currency']],
        ['a booking without a tour', booking({ tourId: null }), ['input', 'tourId']],
        ['a region that is not a country code', booking({ region: 'Japan' }), ['input', 'region']],
        ['a search without a query', { eventType: 'SEARCH', userId: 'U1', payload: { text: 'x' } }, ['input', 'payload', 'query']],
        ['a review rating out of range', { eventType: 'REVIEW', userId: 'U1', tourId: 'TOUR0001', payload: { rating: 9 } }, ['input', 'payload', 'rating']],
        ['a time in the future', booking({ occurredAt: '2999-01-01T00:00:00Z' }), ['input', 'occurredAt']],
      ])('refuses %s with BAD_USER_INPUT and the failing path, publishing nothing', async (_, input, fieldPath) => {
        await published.since();
        const { status, body } = await gw.request(INGEST, { input });
        expect(status).toBe(200);
        expect(body.data).toBeNull();
        expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fieldPath });
        expect(body.errors?.[0]?.path).toEqual(['ingestEvent']);
        expect(await published.since()).toEqual([]);
      });

      it('refuses an unknown event type at validation, before any resolver runs', async () => {
        await published.since();
        const { status, body } = await gw.request(INGEST, { input: { ...booking(), eventType: 'PURCHASE' } });
        expect(status).toBe(400);
        expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
        expect(await published.since()).toEqual([]);
      });

      it('answers a retried idempotency key with the first receipt and publishes nothing new', async () => {
        const first = await gw.request<{ ingestEvent: Receipt }>(INGEST, { input: booking(), key: 'order-771' });
        await published.since();
        const again = await gw.request<{ ingestEvent: Receipt }>(INGEST, { input: booking({ amount: 999 }), key: 'order-771' });
        expect(again.body.data!.ingestEvent).toEqual({ ...first.body.data!.ingestEvent, duplicate: true });
        expect(await published.since()).toEqual([]);
      });

      it('deduplicates concurrent retries of one key', async () => {
        await published.since();
        const answers = await Promise.all(Array.from({ length: 5 }, () => gw.request<{ ingestEvent: Receipt }>(INGEST, { input: booking(), key: 'burst-1' })));
        const positions = new Set(answers.map((a) => `${a.body.data!.ingestEvent.partition}:${a.body.data!.ingestEvent.offset}`));
        expect(positions.size).toBe(1);
        expect(answers.filter((a) => !a.body.data!.ingestEvent.duplicate)).toHaveLength(1);
        expect(await published.since()).toHaveLength(1);
      });
    });

    describe('ingestEvents', () => {
      const BATCH = `mutation ($inputs: [EventInput!]!, $key: String) {
        ingestEvents(inputs: $inputs, idempotencyKey: $key) {
          accepted rejected results { index receipt { offset topic duplicate } rejection { code message path } }
        }
      }`;

      it('accepts the valid items and rejects the invalid ones, item by item', async () => {
        await published.since();
        const inputs = [booking(), booking({ amount: 0 }), { eventType: 'CLICK', userId: 'USER000042', tourId: 'TOUR0002' }, booking({ currency: 'EURO' })];
        const { body } = await gw.request<{ ingestEvents: { accepted: number; rejected: number; results: { index: number; receipt: { topic: string } | null; rejection: { code: string; path: string[] } | null }[] } }>(BATCH, { inputs });
        const result = body.data!.ingestEvents;
        expect(result).toMatchObject({ accepted: 2, rejected: 2 });
        expect(result.results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
        expect(result.results[1]!.rejection).toMatchObject({ code: 'BAD_USER_INPUT', path: ['inputs', '1', 'amount'] });
        expect(result.results[3]!.rejection?.path).toEqual(['inputs', '3', 'currency']);
        expect(result.results[2]!.receipt?.topic).toBe('topic_user_events');
        expect((await published.since()).map((r) => r.topic).sort()).toEqual(['topic_booking_events', 'topic_user_events']);
      });

      it('makes a retried batch with the same key publish nothing twice', async () => {
        const inputs = [booking(), booking({ userId: 'USER000043' })];
        await gw.request(BATCH, { inputs, key: 'batch-9' });
        await published.since();
        const { body } = await gw.request<{ ingestEvents: { results: { receipt: { duplicate: boolean } }[] } }>(BATCH, { inputs, key: 'batch-9' });
        expect(body.data!.ingestEvents.results.map((r) => r.receipt.duplicate)).toEqual([true, true]);
        expect(await published.since()).toEqual([]);
      });
    });

    describe('from mutation to queries', () => {
      it('makes an accepted booking visible in events, the user profile and regional stats', async () => {
        const user = 'USER-NEW-7';
        const stats = '{ regionalStats(regions: ["MV"]) { bookings revenue } }';
        const before = (await gw.request<{ regionalStats: { bookings: number; revenue: number }[] }>(stats)).body.data!.regionalStats[0]!;
        const { body } = await gw.request<{ ingestEvent: Receipt }>(INGEST, { input: booking({ userId: user, region: 'MV', amount: 1234.5, tourId: 'TOUR0018' }) });
        await gw.gateway.services.pipeline!.settle();

        const after = await gw.request<{
          events: { edges: { node: { eventId: string; offset: string | null } }[] };
          user: { profile: { totalBookings: number; totalSpend: number } };
          regionalStats: { bookings: number; revenue: number }[];
        }>(`{ events(filter: { userId: "${user}" }) { edges { node { eventId offset } } } user(id: "${user}") { profile { totalBookings totalSpend } } regionalStats(regions: ["MV"]) { bookings revenue } }`);
        expect(after.body.errors).toBeUndefined();
        const receipt = body.data!.ingestEvent;
        expect(after.body.data!.events.edges.map((e) => e.node)).toEqual([{ eventId: receipt.eventId, offset: behaviour.queriedOffset(receipt) }]);
        expect(after.body.data!.user.profile).toEqual({ totalBookings: 1, totalSpend: 1234.5 });
        expect(after.body.data!.regionalStats[0]!.bookings).toBe(before.bookings + 1);
        expect(after.body.data!.regionalStats[0]!.revenue).toBeCloseTo(before.revenue + 1234.5, 2);

        // The new user joins the analytics users dimension with the segment their profile shows.
        const segment = await gw.request<{ user: { profile: { segment: string } }; analytics: { rows: { userSegment: string; bookings: number }[] } }>(
          `{ user(id: "${user}") { profile { segment } } analytics(query: { measures: [BOOKINGS], dimensions: [USER_SEGMENT], filters: [{ member: USER, equals: "${user}" }] }) { rows { userSegment bookings } } }`,
        );
        expect(segment.body.errors).toBeUndefined();
        expect(segment.body.data).toEqual({ user: { profile: { segment: 'OCCASIONAL' } }, analytics: { rows: [{ userSegment: 'OCCASIONAL', bookings: 1 }] } });
      });

      it('records each promotion as a pipeline run', async () => {
        await gw.gateway.services.pipeline!.settle();
        const { body } = await gw.request<{ platform: { pipelineRuns: { status: string; layer: string; recordsOut: number; recordsRejected: number }[] } }>(
          '{ platform { pipelineRuns(first: 100, layer: "silver") { status layer recordsOut recordsRejected } } }',
        );
        const runs = body.data!.platform.pipelineRuns;
        expect(runs.length).toBeGreaterThan(0);
        expect(runs.every((r) => r.status === 'SUCCESS' && r.layer === 'silver')).toBe(true);
        // Every accepted event reached silver or the quarantine, once.
        expect(runs.reduce((n, r) => n + r.recordsOut + r.recordsRejected, 0)).toBe((await published.all()).length);
      });
    });
  });
}
