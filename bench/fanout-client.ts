/**
 * Subscription fan-out, client side (its own process, on the load core): opens
 * `BENCH_SUBSCRIBERS` graphql-ws clients on the gateway at `BENCH_URL`, each subscribed to
 * bookings, then sends `BENCH_EVENTS` bookings one after another with `ingestEvent`. Each booking
 * carries its send time in `payload.sentAt`; every subscriber records arrival − sentAt. The next
 * booking leaves once every subscriber has the previous one (or after a timeout), so latencies
 * are not queueing behind each other.
 *
 * Prints one `FanoutResult` line, then holds the subscriptions open until stdin closes so the
 * runner can read the gateway's memory with every subscriber still connected. With
 * `BENCH_PAUSE_SUBSCRIBED=1` it also stops once every subscription is live, before measuring:
 * prints `{"benchSubscribed":true,…}` and waits for a line on stdin (the runner reads the server's
 * memory with every subscriber connected and idle meanwhile).
 *
 * Both clocks are this process's (`performance.timeOrigin + performance.now()`), so no skew. The
 * figures include this process's own serial work: one core parses the N copies of each message
 * in turn, so "to the last subscriber" is an upper bound on the gateway's share.
 */
import { createInterface } from 'node:readline';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { EVENT_INGESTED, INGEST_ONE, bookingInput, postRequest } from './documents.ts';
import { summarise, type LatencySummary } from './stats.ts';

/** What the fan-out client reports. */
export interface FanoutResult {
  benchReady: true;
  subscribers: number;
  /** Clients whose connection the gateway acknowledged. */
  connected: number;
  /** Subscribers that received a probe booking before measuring (their subscription is live). */
  live: number;
  connectMs: number;
  events: number;
  deliveries: number;
  /** Expected deliveries (events × live subscribers) that did not arrive within the timeout. */
  missed: number;
  /** Every delivery to every subscriber. */
  delivery: LatencySummary;
  /** Per event, the latency to the last subscriber to get it. */
  toLastSubscriber: LatencySummary;
  /** Per event, the latency to the first subscriber to get it. */
  toFirstSubscriber: LatencySummary;
  /** Round trip of the `ingestEvent` mutation itself (durable write acknowledged). */
  mutationAck: LatencySummary;
  /** First few errors (connection, subscription, mutation), verbatim. */
  errors: string[];
}

const httpUrl = process.env['BENCH_URL'] ?? 'http://127.0.0.1:4000';
const subscriberCount = Number(process.env['BENCH_SUBSCRIBERS'] ?? 1_000);
const eventCount = Number(process.env['BENCH_EVENTS'] ?? 50);
const wsUrl = `${httpUrl.replace(/^http/, 'ws')}/graphql`;
const DELIVERY_TIMEOUT_MS = 5_000;
const CONNECT_BATCH = 100;
const pauseSubscribed = process.env['BENCH_PAUSE_SUBSCRIBED'] === '1';

// Lines from the runner: the go-ahead after a pause; the end of stdin means disconnect and exit.
const stdinLines: string[] = [];
let lineArrived: (() => void) | undefined;
let stdinClosed = false;
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  stdinLines.push(line);
  lineArrived?.();
});
input.on('close', () => {
  stdinClosed = true;
  lineArrived?.();
});
async function nextLine(): Promise<void> {
  while (stdinLines.length === 0 && !stdinClosed) await new Promise<void>((resolve) => (lineArrived = resolve));
  stdinLines.shift();
}

const now = () => performance.timeOrigin + performance.now();
const errors: string[] = [];
const noteError = (where: string, error: unknown) => {
  if (errors.length < 10) errors.push(`${where}: ${describe(error)}`);
};

/** Arrivals of the booking being measured (or probed); `expected` deliveries settle `done`. */
interface Round {
  id: string;
  sentAt: number;
  latencies: number[];
  seen: Uint8Array;
  expected: number;
  done: () => void;
}
let round: Round | undefined;
const everProbed = new Uint8Array(subscriberCount);

function onBooking(index: number, payload: unknown): void {
  const arrived = now();
  if (!round || typeof payload !== 'object' || payload === null) return;
  const { roundId, sentAt } = payload as { roundId?: unknown; sentAt?: unknown };
  if (roundId !== round.id || typeof sentAt !== 'number' || round.seen[index]) return;
  round.seen[index] = 1;
  everProbed[index] = 1;
  round.latencies.push(arrived - sentAt);
  if (round.latencies.length >= round.expected) round.done();
}

// Connect in batches so the gateway is not asked to accept a thousand handshakes at once.
const clients: Client[] = [];
const connectStarted = now();
let connected = 0;
for (let start = 0; start < subscriberCount; start += CONNECT_BATCH) {
  const batch: Promise<void>[] = [];
  for (let index = start; index < Math.min(subscriberCount, start + CONNECT_BATCH); index += 1) {
    batch.push(
      new Promise<void>((resolve) => {
        // A handshake that neither succeeds nor fails in time leaves this subscriber out.
        const timer = setTimeout(resolve, 10_000);
        const client = createClient({
          url: wsUrl,
          webSocketImpl: WebSocket,
          lazy: false,
          retryAttempts: 0,
          // Without this, a non-lazy client prints every close to the console.
          onNonLazyError: (error) => noteError('connection', error),
          on: {
            connected: () => {
              connected += 1;
              clearTimeout(timer);
              resolve();
            },
            error: (error) => {
              noteError('connection', error);
              clearTimeout(timer);
              resolve();
            },
          },
        });
        clients.push(client);
        client.subscribe<{ eventIngested: { payload: unknown } }>(
          { query: EVENT_INGESTED },
          {
            next: (message) => {
              if (message.errors) noteError('subscription', message.errors);
              onBooking(index, message.data?.eventIngested.payload);
            },
            error: (error) => noteError('subscription', error),
            complete: () => undefined,
          },
        );
      }),
    );
  }
  await Promise.all(batch);
}
const connectMs = now() - connectStarted;

/** Sends one booking stamped with `roundId` and waits until `expected` subscribers have it. */
async function sendRound(id: string, expected: number): Promise<{ latencies: number[]; ackMs: number | undefined }> {
  let done!: () => void;
  const delivered = new Promise<void>((resolve) => (done = resolve));
  const sentAt = now();
  round = { id, sentAt, latencies: [], seen: new Uint8Array(subscriberCount), expected, done };
  const current = round;
  const request = postRequest(INGEST_ONE, { input: bookingInput(Number(id.replace(/\D/g, '')) || 0, { roundId: id, sentAt }) });
  let ackMs: number | undefined;
  try {
    const response = await fetch(httpUrl + request.path, { method: 'POST', headers: request.headers, body: request.body ?? null });
    const body = (await response.json()) as { errors?: unknown };
    ackMs = now() - sentAt;
    if (response.status !== 200 || body.errors) noteError('ingestEvent', JSON.stringify(body));
  } catch (error) {
    noteError('ingestEvent', error);
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([delivered, new Promise<void>((resolve) => (timer = setTimeout(resolve, DELIVERY_TIMEOUT_MS)))]);
  clearTimeout(timer);
  round = undefined;
  return { latencies: current.latencies, ackMs };
}

// Warm-up: probe bookings until every connected subscriber has received one, so each
// subscription is known to be live (graphql-ws does not acknowledge a subscribe), then a few more.
let live = 0;
for (let attempt = 0; attempt < 10 && live < connected; attempt += 1) {
  await sendRound(`probe${attempt}`, connected);
  live = everProbed.reduce((sum, seen) => sum + seen, 0);
}
if (pauseSubscribed) {
  process.stdout.write(`${JSON.stringify({ benchSubscribed: true, connected, live })}\n`);
  await nextLine();
}
for (let i = 0; i < 5; i += 1) await sendRound(`warm${i}`, live);

const deliveries: number[] = [];
const lastPerEvent: number[] = [];
const firstPerEvent: number[] = [];
const acks: number[] = [];
let missed = 0;
for (let seq = 0; seq < eventCount; seq += 1) {
  const { latencies, ackMs } = await sendRound(`event${seq}`, live);
  if (ackMs !== undefined) acks.push(ackMs);
  missed += live - latencies.length;
  if (latencies.length === 0) continue;
  deliveries.push(...latencies);
  lastPerEvent.push(Math.max(...latencies));
  firstPerEvent.push(Math.min(...latencies));
}

const result: FanoutResult = {
  benchReady: true,
  subscribers: subscriberCount,
  connected,
  live,
  connectMs: Math.round(connectMs),
  events: eventCount,
  deliveries: deliveries.length,
  missed,
  delivery: summarise(deliveries),
  toLastSubscriber: summarise(lastPerEvent),
  toFirstSubscriber: summarise(firstPerEvent),
  mutationAck: summarise(acks),
  errors,
};
process.stdout.write(`${JSON.stringify(result)}\n`);

while (!stdinClosed) await nextLine();
await Promise.all(clients.map((client) => client.dispose()));
process.exit(0);

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'code' in error && 'reason' in error) {
    return `closed ${String(error.code)} ${String(error.reason)}`;
  }
  if (typeof error === 'object' && error !== null && 'type' in error) return `socket ${String(error.type)}`;
  return JSON.stringify(error);
}
