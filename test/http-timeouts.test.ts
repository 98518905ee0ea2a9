/**
 * The HTTP server's connection timeouts at the wire, with small bounds: a client dripping its
 * headers, one dripping its body and a silent one are answered 408 and cut within their bound, a kept-alive connection closes after its keep-alive
 * timeout, while normal clients get their answers and an SSE stream and a graphql-ws
 * subscription opened before all that (silent for longer than the idle and request bounds) still
 * deliver the event published after it.
 */
import { connect, type Socket } from 'node:net';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const HEADERS_MS = 300;
const REQUEST_MS = 600;
const IDLE_MS = 450;
const KEEP_ALIVE_MS = 300;
/** Node checks the headers and request bounds every quarter of the shortest one; plus scheduling on a busy machine. */
const LATE_MS = HEADERS_MS / 4 + 400;
/** Longest any raw-socket wait below may take before the test fails instead of hanging. */
const BOUND_MS = 10_000;

let gw: TestGateway;
let port: number;
const wsClients: WsClient[] = [];

beforeAll(async () => {
  gw = await startTestGateway({
    env: {
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      HTTP_IDLE_TIMEOUT_MS: String(IDLE_MS),
      HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
      MEDALLION_INTERVAL_MS: '0',
      RATE_LIMITS: 'false',
    },
  });
  port = Number(new URL(gw.url).port);
}, 120_000);
afterAll(async () => {
  for (const c of wsClients) await c.dispose();
  await gw?.close();
});

/** A raw connection: what the server sent, and when (ms after connecting) it closed. */
interface RawClient {
  socket: Socket;
  received(): string;
  /** Resolves with the ms from connect to close; rejects past `BOUND_MS`. */
  closed: Promise<number>;
}

function rawClient(): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => undefined); // a reset is a close too
    socket.once('connect', () => {
      const start = performance.now();
      const closed = new Promise<number>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`the server kept the connection past ${BOUND_MS} ms; it sent ${JSON.stringify(data.slice(0, 200))}`)), BOUND_MS);
        socket.once('close', () => {
          clearTimeout(timer);
          done(performance.now() - start);
        });
      });
      resolve({ socket, received: () => data, closed });
    });
    socket.once('error', reject);
  });
}

/** Writes `chunks` one every `everyMs` until the socket closes. */
function drip(socket: Socket, chunks: string[], everyMs: number): void {
  const timer = setInterval(() => {
    const chunk = chunks.shift();
    if (chunk === undefined || socket.destroyed) return clearInterval(timer);
    socket.write(chunk);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** Runs `{ __typename }` over POST until `until` settles; returns each answer's status. */
async function normalClient(until: Promise<unknown>): Promise<number[]> {
  const statuses: number[] = [];
  let done = false;
  void until.finally(() => (done = true));
  while (!done) {
    const response = await fetch(gw.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    await response.text();
    statuses.push(response.status);
  }
  return statuses;
}

/** Resolves once the gateway has `n` live event subscribers (bounded). */
async function subscribers(n: number): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  while (gw.gateway.services.fanout.size < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} live subscribers, the gateway has ${gw.gateway.services.fanout.size}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Reads a streamed response until `marker` appears (bounded). */
async function readUntil(response: Response, marker: string): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => void reader.cancel(), BOUND_MS);
  try {
    while (!text.includes(marker)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

it('cuts slow-header, slow-body and silent clients within their bounds while normal clients and live streams carry on', async () => {
  // Live streams first: they must outlive every bound below.
  const sse = await fetch(`${gw.endpoint}?query=${encodeURIComponent('subscription { eventIngested { eventId } }')}`, { headers: { accept: 'text/event-stream' } });
  expect(sse.status).toBe(200);
  const ws = createWsClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0 });
  wsClients.push(ws);
  const wsEvent = new Promise<string>((resolve, reject) => {
    ws.subscribe<{ eventIngested: { eventId: string } }>(
      { query: 'subscription { eventIngested(filter: { eventTypes: [VIEW] }) { eventId } }' },
      { next: (result) => (result.data ? resolve(result.data.eventIngested.eventId) : reject(new Error(JSON.stringify(result.errors)))), error: reject, complete: () => reject(new Error('the graphql-ws subscription completed')) },
    );
  });
  wsEvent.catch(() => undefined); // awaited below; a failure before then must not go unhandled
  await subscribers(2);

  const slowHeaders = await rawClient();
  drip(slowHeaders.socket, ['GET /health HTTP/1.1\r\n', 'Host: x\r\n', ...Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: y\r\n`)], 50);
  const slowBody = await rawClient();
  slowBody.socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
  drip(slowBody.socket, Array.from({ length: 1_000 }, () => ' '), 50);
  const silent = await rawClient();
  // A crowd of silent connections is cut as one is.
  const crowd = await Promise.all(Array.from({ length: 100 }, () => rawClient()));
  const keptAlive = await rawClient();
  keptAlive.socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n');

  const cuts = Promise.all([slowHeaders.closed, slowBody.closed, silent.closed, keptAlive.closed, Promise.all(crowd.map((client) => client.closed))]);
  const [statuses, [headersCut, bodyCut, silentCut, keepAliveCut, crowdCuts]] = await Promise.all([normalClient(cuts), cuts]);

  expect(slowHeaders.received()).toMatch(/^HTTP\/1\.1 408 /);
  expect(headersCut).toBeGreaterThanOrEqual(HEADERS_MS - 20);
  expect(headersCut).toBeLessThan(HEADERS_MS + LATE_MS);
  expect(slowBody.received()).toMatch(/^HTTP\/1\.1 408 /);
  expect(bodyCut).toBeGreaterThanOrEqual(REQUEST_MS - 20);
  expect(bodyCut).toBeLessThan(REQUEST_MS + LATE_MS);
  // Node counts a connection's headers from the moment it opens: one that sends nothing gets the same 408.
  expect(silent.received()).toMatch(/^HTTP\/1\.1 408 /);
  expect(silentCut).toBeGreaterThanOrEqual(HEADERS_MS - 20);
  expect(silentCut).toBeLessThan(HEADERS_MS + LATE_MS);
  expect(Math.max(...crowdCuts)).toBeLessThan(HEADERS_MS + LATE_MS);
  expect(keptAlive.received()).toMatch(/^HTTP\/1\.1 200 /);
  expect(keepAliveCut).toBeLessThan(KEEP_ALIVE_MS + LATE_MS + 1_000);

  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.every((status) => status === 200)).toBe(true);

  // Both streams outlived the request and idle bounds: the event published now reaches them.
  const ingested = await gw.request<{ ingestEvent: { eventId: string } }>(
    'mutation { ingestEvent(input: { eventType: VIEW, userId: "USER000001", tourId: "TOUR0001" }) { eventId } }',
  );
  const eventId = ingested.body.data!.ingestEvent.eventId;
  expect(await readUntil(sse, eventId)).toContain(`"eventId":"${eventId}"`);
  expect(await wsEvent).toBe(eventId);
}, 30_000);
