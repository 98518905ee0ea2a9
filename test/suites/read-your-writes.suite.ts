import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../helpers/gateway.ts';

interface Receipt {
  eventId: string;
  position: string;
}

interface Answer {
  events: { edges: { node: { eventId: string } }[] };
  user: { profile: { totalBookings: number } | null } | null;
}

const INGEST = `mutation ($input: EventInput!) { ingestEvent(input: $input) { eventId position } }`;
const READ = (user: string) => `events(filter: { userId: "${user}" }) { edges { node { eventId } } } user(id: "${user}") { profile { totalBookings } }`;

/**
 * Read-your-writes on one bus: the medallion runs only when asked (a debounce far longer than
 * the test and no schedule), so an answer that holds the write proves the read waited for a pass.
 */
export function describeReadYourWrites(name: string, start: (env: Record<string, string>) => Promise<TestGateway>): void {
  describe(`read-your-writes: ${name}`, () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await start({ MEDALLION_DEBOUNCE_MS: '600000', MEDALLION_INTERVAL_MS: '0' });
    }, 60_000);
    afterAll(async () => {
      await gw?.close();
    });

    const ingest = async (user: string): Promise<Receipt> => {
      const { body } = await gw.request<{ ingestEvent: Receipt }>(INGEST, {
        input: { eventType: 'BOOKING', userId: user, tourId: 'TOUR0003', region: 'VN', amount: 80, currency: 'USD' },
      });
      expect(body.errors).toBeUndefined();
      return body.data!.ingestEvent;
    };

    it('answers a query marked @readAfter once the data includes the write', async () => {
      const user = 'USER-RYW-1';
      const receipt = await ingest(user);
      expect(receipt.position).toMatch(/^[\w.-]+$/);

      // Without it, the booking is not there yet: no pass has run since it was published.
      const plain = await gw.request<Answer>(`{ ${READ(user)} }`);
      expect(plain.body.data!.events.edges).toEqual([]);

      const read = await gw.request<Answer>(`query Profile($position: String!) @readAfter(position: $position, maxWaitMs: 20000) { ${READ(user)} }`, {
        position: receipt.position,
      });
      expect(read.body.errors).toBeUndefined();
      expect(read.body.data!.events.edges.map((e) => e.node.eventId)).toEqual([receipt.eventId]);
      expect(read.body.data!.user?.profile?.totalBookings).toBe(1);
      const freshness = (read.body as { extensions?: { freshness?: Record<string, unknown> } }).extensions?.freshness;
      expect(freshness?.['readAfter']).toEqual({ included: true, waitedMs: expect.any(Number) });
      expect(freshness?.['lakehouse']).toMatchObject({ position: expect.any(String), committedAt: expect.any(String), asOf: expect.any(String) });
    }, 30_000);

    it('answers anyway when the wait runs out first, saying the write is not included', async () => {
      const user = 'USER-RYW-2';
      const receipt = await ingest(user);
      const read = await gw.request<Answer>(`query @readAfter(position: "${receipt.position}", maxWaitMs: 0) { ${READ(user)} }`);
      expect(read.body.data!.events.edges).toEqual([]);
      const freshness = (read.body as { extensions?: { freshness?: Record<string, unknown> } }).extensions?.freshness;
      expect(freshness?.['readAfter']).toEqual({ included: false, waitedMs: expect.any(Number) });

      // The same question with time to wait includes it.
      const waited = await gw.request<Answer>(`query @readAfter(position: "${receipt.position}") { ${READ(user)} }`);
      expect(waited.body.data!.events.edges.map((e) => e.node.eventId)).toEqual([receipt.eventId]);
    }, 30_000);

    it('waits the same way for a query sent over graphql-ws', async () => {
      const user = 'USER-RYW-WS';
      const receipt = await ingest(user);
      const client = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
      try {
        const result = await new Promise<{ data?: Answer; extensions?: { freshness?: Record<string, unknown> } }>((resolve, reject) => {
          client.subscribe<Answer, { freshness?: Record<string, unknown> }>(
            { query: `query ($p: String!) @readAfter(position: $p, maxWaitMs: 20000) { ${READ(user)} }`, variables: { p: receipt.position } },
            { next: (value) => resolve(value as never), error: reject, complete: () => undefined },
          );
        });
        expect(result.data!.events.edges.map((e) => e.node.eventId)).toEqual([receipt.eventId]);
        expect(result.extensions?.freshness?.['readAfter']).toEqual({ included: true, waitedMs: expect.any(Number) });
      } finally {
        await client.dispose();
      }
    }, 30_000);

    it('refuses a position the gateway did not make, executing nothing', async () => {
      const { status, body } = await gw.request(`query @readAfter(position: "offset-42") { ${READ('USER-RYW-3')} }`);
      expect(status).toBe(400);
      expect(body.data).toBeUndefined();
      expect(body.errors).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', argumentName: 'position' }) }),
      ]);
      expect((body as { extensions?: { backends?: unknown } }).extensions?.backends).toBeUndefined();
    });

    it('refuses a negative wait, naming maxWaitMs', async () => {
      const receipt = await ingest('USER-RYW-4');
      const { status, body } = await gw.request(`query @readAfter(position: "${receipt.position}", maxWaitMs: -1) { ping }`);
      expect(status).toBe(400);
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'maxWaitMs' });
    });
  });
}
