import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startKafkaMock } from '../helpers/kafka-mock.ts';
import { describeWithPeer } from '../helpers/peers.ts';

const execFileAsync = promisify(execFile);

describeWithPeer('gateway with KAFKA_BROKERS', 'kcat', 'kcat', (kcat) => {
  let kafka: Awaited<ReturnType<typeof startKafkaMock>>;
  let gw: TestGateway;
  let client: Client;
  beforeAll(async () => {
    kafka = await startKafkaMock();
    gw = await startTestGateway({ env: { KAFKA_BROKERS: kafka.brokers.join(',') } });
    client = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0 });
  }, 60_000);
  afterAll(async () => {
    await client?.dispose();
    await gw?.close();
    await kafka?.stop();
  });

  it('publishes an accepted booking to Kafka and delivers it to a subscriber over graphql-ws', async () => {
    const health = (await (await fetch(`${gw.url}/health`)).json()) as { backends: { role: string; adapter: string; status: string }[] };
    expect(health.backends.find((b) => b.role === 'bus')).toMatchObject({ adapter: 'kafka', status: 'OK' });

    const received = new Promise<{ eventId: string; offset: string; eventType: string }>((resolve, reject) => {
      client.subscribe<{ eventIngested: { eventId: string; offset: string; eventType: string } }>(
        { query: 'subscription { eventIngested(filter: { eventTypes: [BOOKING] }) { eventId eventType offset } }' },
        { next: (result) => result.data && resolve(result.data.eventIngested), error: reject, complete: () => undefined },
      );
    });
    while (gw.gateway.services.fanout.size < 1) await new Promise((resolve) => setTimeout(resolve, 5));

    const refused = await gw.request('mutation { ingestEvent(input: { eventType: BOOKING, userId: "U", tourId: "TOUR0001", amount: 0, currency: "USD" }) { offset } }');
    expect(refused.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');

    const { body } = await gw.request<{ ingestEvent: { eventId: string; topic: string; offset: string } }>(
      'mutation { ingestEvent(input: { eventType: BOOKING, userId: "USER000001", tourId: "TOUR0001", region: "VN", amount: 120, currency: "USD" }, idempotencyKey: "kafka-1") { eventId topic offset } }',
    );
    expect(body.data?.ingestEvent.topic).toBe('topic_booking_events');
    const event = await received;
    expect(event).toMatchObject({ eventId: body.data!.ingestEvent.eventId, eventType: 'BOOKING' });

    const again = await gw.request<{ ingestEvent: { eventId: string; duplicate: boolean } }>(
      'mutation { ingestEvent(input: { eventType: BOOKING, userId: "USER000001", tourId: "TOUR0001", region: "VN", amount: 120, currency: "USD" }, idempotencyKey: "kafka-1") { eventId duplicate } }',
    );
    expect(again.body.data?.ingestEvent).toEqual({ eventId: body.data!.ingestEvent.eventId, duplicate: true });
  }, 30_000);

  it('runs the medallion from Kafka: good records reach silver and gold, bad ones the quarantine and the dead-letter topic', async () => {
    const userId = 'USER-KAFKA-MEDALLION';
    const { body } = await gw.request<{ ingestEvents: { accepted: number } }>(
      `mutation { ingestEvents(inputs: [
         { eventType: BOOKING, userId: "${userId}", tourId: "TOUR0002", amount: 250, currency: "USD" },
         { eventType: VIEW, userId: "${userId}", tourId: "TOUR-UNKNOWN" }
       ]) { accepted } }`,
    );
    expect(body.data?.ingestEvents.accepted).toBe(2);
    await gw.gateway.services.pipeline!.settle();
    const { body: after } = await gw.request<{
      user: { profile: { totalBookings: number; totalSpend: number } };
      platform: { quarantine: { rule: string; sourceId: string; deadLettered: boolean }[] };
    }>(`{ user(id: "${userId}") { profile { totalBookings totalSpend } } platform { quarantine(first: 5, rule: "known_tour") { rule sourceId deadLettered } } }`);
    expect(after.errors).toBeUndefined();
    expect(after.data!.user.profile).toEqual({ totalBookings: 1, totalSpend: 250 });
    expect(after.data!.platform.quarantine).toContainEqual({ rule: 'known_tour', sourceId: 'gateway_user_events', deadLettered: true });
    // The dead letter is a Kafka record too: read the topic back from its start with kcat.
    const { stdout } = await execFileAsync(kcat, ['-b', kafka.brokers.join(','), '-C', '-t', 'topic_dead_letter', '-o', 'beginning', '-e', '-J', '-q'], {
      timeout: 10_000,
    });
    const letters = stdout.trim().split('\n').map((line) => JSON.parse((JSON.parse(line) as { payload: string }).payload) as { rule: string; sourceId: string });
    expect(letters).toContainEqual(expect.objectContaining({ rule: 'known_tour', sourceId: 'gateway_user_events' }));
  }, 60_000);
});
