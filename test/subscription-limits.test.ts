import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

interface Message {
  id?: string;
  type: string;
  payload?: unknown;
}

/**
 * A graphql-ws client speaking the protocol's messages itself (graphql-transport-ws), so a test
 * can see every reply and can stop reading its socket like a stalled mobile client.
 */
class RawClient {
  private readonly inbox = new Map<string, Message[]>();
  private readonly waiters = new Map<string, () => void>();
  private readonly socket: WebSocket;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as Message;
      const key = message.id ?? message.type;
      const list = this.inbox.get(key) ?? [];
      list.push(message);
      this.inbox.set(key, list);
      this.waiters.get(key)?.();
    });
  }

  static async connect(url: string): Promise<RawClient> {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    client.send({ type: 'connection_init', payload: {} });
    await client.next('connection_ack');
    return client;
  }

  send(message: Message): void {
    this.socket.send(JSON.stringify(message));
  }

  subscribe(id: string, query: string, variables: Record<string, unknown> = {}): void {
    this.send({ id, type: 'subscribe', payload: { query, variables } });
  }

  complete(id: string): void {
    this.send({ id, type: 'complete' });
  }

  /** Messages received so far for operation `id`. */
  received(id: string): Message[] {
    return this.inbox.get(id) ?? [];
  }

  /** Resolves with the `n`-th message (1-based) for `id` (or of `type` for id-less messages). */
  async next(key: string, n = 1): Promise<Message> {
    while (this.received(key).length < n) {
      await new Promise<void>((resolve) => this.waiters.set(key, resolve));
    }
    return this.received(key)[n - 1]!;
  }

  /** Stops reading from the TCP socket: the server's writes pile up in the kernel, then in the gateway. */
  pause(): void {
    this.tcp().pause();
  }

  resume(): void {
    this.tcp().resume();
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.terminate();
    await closed;
  }

  private tcp(): Socket {
    return (this.socket as unknown as { _socket: Socket })._socket;
  }
}

const LIVE = 'subscription ($regions: [String!]) { eventIngested(filter: { regions: $regions }) { id region } }';

let gw: TestGateway;
const clients: RawClient[] = [];
beforeAll(async () => {
  gw = await startTestGateway({ env: { SUBSCRIPTIONS_PER_CONNECTION: '3', SUBSCRIPTIONS_MAX: '5' } });
});
afterAll(async () => {
  await gw?.close();
});
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  while (gw.gateway.services.fanout.size > 0) await new Promise((resolve) => setTimeout(resolve, 2));
});

async function connect(): Promise<RawClient> {
  const client = await RawClient.connect(gw.wsEndpoint);
  clients.push(client);
  return client;
}

/** Resolves once the fan-out holds `n` subscribers (each subscription below has its own filter). */
async function fanoutReaches(n: number): Promise<void> {
  while (gw.gateway.services.fanout.size !== n) await new Promise((resolve) => setTimeout(resolve, 2));
}

let probes = 0;
/**
 * Runs `{ ping }` on `client` until one is admitted (an operation's slot is freed by graphql-ws
 * hooks that run just after the client's `complete` or another socket's close); each attempt
 * waits for the server's answer. Returns the refusals seen first.
 */
async function untilAdmitted(client: RawClient): Promise<number> {
  for (let refusals = 0; refusals < 500; refusals += 1) {
    const id = `probe-${(probes += 1)}`;
    client.subscribe(id, '{ ping }');
    const answer = await client.next(id);
    if (answer.type === 'next') return refusals;
    expect(answer.type).toBe('error');
  }
  throw new Error('no slot was freed');
}

describe('graphql-ws operation caps', () => {
  it('refuses an operation past SUBSCRIPTIONS_PER_CONNECTION with RATE_LIMITED, and admits again once one completes', async () => {
    const client = await connect();
    ['VN', 'TH', 'JP'].forEach((region, i) => client.subscribe(`live-${i}`, LIVE, { regions: [region] }));
    await fanoutReaches(3);
    client.subscribe('one-too-many', LIVE, { regions: ['ID'] });
    expect(await client.next('one-too-many')).toEqual({
      id: 'one-too-many',
      type: 'error',
      payload: [
        {
          message: 'This connection already runs 3 operations, the most one connection may; complete one first.',
          extensions: { code: 'RATE_LIMITED', reason: 'SUBSCRIPTIONS_PER_CONNECTION', limit: 3 },
        },
      ],
    });
    // Another connection is not affected by this one's cap.
    const other = await connect();
    expect(await untilAdmitted(other)).toBe(0);

    client.complete('live-0');
    await untilAdmitted(client);
    client.subscribe('live-again', LIVE, { regions: ['ID'] });
    await fanoutReaches(3);
    expect(client.received('live-again')).toEqual([]);
  });

  it('refuses an operation past SUBSCRIPTIONS_MAX across connections, and admits again once a connection closes', async () => {
    const first = await connect();
    ['VN', 'TH', 'JP'].forEach((region, i) => first.subscribe(`a-${i}`, LIVE, { regions: [region] }));
    const second = await connect();
    ['ID', 'MV'].forEach((region, i) => second.subscribe(`b-${i}`, LIVE, { regions: [region] }));
    await fanoutReaches(5);
    const third = await connect();
    third.subscribe('c-0', LIVE, { regions: ['KR'] });
    expect(await third.next('c-0')).toMatchObject({
      type: 'error',
      payload: [{ extensions: { code: 'RATE_LIMITED', reason: 'SUBSCRIPTIONS_MAX', limit: 5 } }],
    });

    await second.close();
    await untilAdmitted(third);
    third.subscribe('c-1', LIVE, { regions: ['KR'] });
    await fanoutReaches(4);
    expect(third.received('c-1')).toEqual([]);
  });
});

describe('slow consumers', () => {
  const BATCH = 50;
  const BATCHES_AT_MOST = 120;
  // Large payloads fill the kernel's socket buffers after a few hundred events, so the gateway's
  // own bounded buffer (1,000 events per subscriber) is what fills next.
  const payload = { note: 'x'.repeat(8_000) };
  const INGEST = 'mutation ($inputs: [EventInput!]!) { ingestEvents(inputs: $inputs) { accepted } }';
  let published = 0;

  async function publishBatch(): Promise<void> {
    const inputs = Array.from({ length: BATCH }, () => ({ eventType: 'BOOKING', userId: 'USER000001', tourId: 'TOUR0001', region: 'VN', amount: 10, currency: 'USD', payload }));
    const { body } = await gw.request<{ ingestEvents: { accepted: number } }>(INGEST, { inputs });
    expect(body.errors).toBeUndefined();
    published += body.data?.ingestEvents.accepted ?? 0;
  }

  it('drops a subscriber that stops reading instead of buffering for it, and keeps serving the others', async () => {
    const SELECTION = '{ id payload }';
    const healthy = await connect();
    healthy.subscribe('live', `subscription { eventIngested(filter: { regions: ["VN"] }) ${SELECTION} }`);
    // The same operation, shared with the healthy client's execution…
    const stalledShared = await connect();
    stalledShared.subscribe('live', `subscription { eventIngested(filter: { regions: ["VN"] }) ${SELECTION} }`);
    await fanoutReaches(1);
    // …and a personal one (a replay position) with a fan-out buffer of its own.
    const { body } = await gw.request<{ ingestEvent: { offset: string } }>(
      'mutation { ingestEvent(input: { eventType: BOOKING, userId: "USER000001", tourId: "TOUR0001", region: "VN", amount: 1, currency: "USD" }) { offset } }',
    );
    published += 1;
    const stalledPersonal = await connect();
    stalledPersonal.subscribe('live', `subscription ($from: String) { eventIngested(filter: { regions: ["VN"] }, fromOffset: $from) ${SELECTION} }`, {
      from: body.data?.ingestEvent.offset,
    });
    await fanoutReaches(2);
    await healthy.next('live', 1);
    stalledShared.pause();
    stalledPersonal.pause();

    // Publish until the personal subscriber's fan-out buffer overflowed and it was let go.
    let batches = 0;
    while (gw.gateway.services.fanout.size === 2 && batches < BATCHES_AT_MOST) {
      await publishBatch();
      batches += 1;
    }
    expect(gw.gateway.services.fanout.size).toBe(1);
    // Nothing is kept for the dropped subscribers from here on: this many more are never theirs.
    const AFTER_DROP = 60;
    for (let i = 0; i < AFTER_DROP; i += 1) await publishBatch();

    // The healthy subscriber received every event, in spite of the stalled ones.
    await healthy.next('live', published);
    expect(healthy.received('live').every((m) => m.type === 'next')).toBe(true);

    for (const stalled of [stalledShared, stalledPersonal]) {
      stalled.resume();
      // What was already on its way arrives, then the error that ends the subscription.
      while (!stalled.received('live').some((m) => m.type === 'error')) await stalled.next('live', stalled.received('live').length + 1);
      const messages = stalled.received('live');
      const error = messages.at(-1);
      expect(error?.type).toBe('error');
      // One error from the closed set ends it (the client resumes with `fromOffset`).
      const errors = error?.payload as { extensions?: { code?: string; reason?: string } }[];
      expect(errors).toHaveLength(1);
      expect(errors[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'SLOW_CONSUMER' });
      const delivered = messages.filter((m) => m.type === 'next').length;
      // Bounded: what the sockets held plus at most the 1,000 buffered; the rest was never kept.
      expect(delivered).toBeLessThan(published - AFTER_DROP * BATCH);
    }
  }, 120_000);
});
