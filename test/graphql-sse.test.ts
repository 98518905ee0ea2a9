/**
 * Subscriptions over HTTP: GraphQL over Server-Sent Events (graphql-sse protocol, distinct
 * connections) on /graphql with the real graphql-sse client, under enforced access; Apollo's
 * multipart subscriptions; and the 406 that names the transports when a subscription is POSTed as
 * plain GraphQL over HTTP.
 */
import { createHash } from 'node:crypto';
import { createClient, type Client, type ExecutionResult } from 'graphql-sse';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEYS = { analyst: 'analyst-key-0123456789abcdef0123456789', admin: 'admin-key-0123456789abcdef0123456789ab' };
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const API_KEYS = JSON.stringify([
  { id: 'analyst-1', sha256: sha256(KEYS.analyst), role: 'analyst' },
  { id: 'ops', sha256: sha256(KEYS.admin), role: 'admin' },
]);

const SUBSCRIPTION = 'subscription ($filter: EventSubscriptionFilter) { eventIngested(filter: $filter) { id: eventId eventType region offset } }';
const INGEST = 'mutation ($input: EventInput!) { ingestEvent(input: $input) { eventId offset } }';

interface LiveEvent {
  id: string;
  eventType: string;
  region: string | null;
  offset: string;
}
type Result = ExecutionResult<Record<string, unknown>, unknown>;

let gw: TestGateway;
const clients: Client[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ env: { API_KEYS, MAX_QUERY_DEPTH: '3', MEDALLION_INTERVAL_MS: '0' } });
}, 120_000);
afterAll(async () => {
  await gw?.close();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  await subscribers(0);
});

function client(headers: Record<string, string> = { 'x-api-key': KEYS.analyst }): Client {
  const c = createClient({ url: gw.endpoint, headers, retryAttempts: 0, fetchFn: fetch });
  clients.push(c);
  return c;
}

/** Subscribes; `next(n)` waits for the n-th result, `ended` for completion or an error. */
function collect(c: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: Result[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let settle: (outcome: { error?: unknown }) => void = () => undefined;
  const ended = new Promise<{ error?: unknown }>((resolve) => (settle = resolve));
  const wake = () => {
    for (const w of waiters.filter((w) => results.length >= w.n)) w.resolve();
  };
  c.subscribe<Record<string, unknown>>(
    { query, variables },
    {
      next: (result) => {
        results.push(result);
        wake();
      },
      error: (error) => settle({ error }),
      complete: () => settle({}),
    },
  );
  void ended.then(() => waiters.forEach((w) => w.resolve()));
  return {
    results,
    ended,
    next: (n: number) => (results.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  };
}

async function ingest(input: Record<string, unknown>): Promise<{ eventId: string; offset: string }> {
  const response = await fetch(gw.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin },
    body: JSON.stringify({ query: INGEST, variables: { input } }),
  });
  const body = (await response.json()) as { data?: { ingestEvent: { eventId: string; offset: string } }; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data.ingestEvent;
}

/** Resolves once the gateway has exactly `n` live event subscribers. */
async function subscribers(n: number): Promise<void> {
  // Bounded, so a failed test that leaves a stream open fails its hook instead of hanging the run.
  const deadline = Date.now() + 10_000;
  while (gw.gateway.services.fanout.size !== n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} live subscribers, the gateway has ${gw.gateway.services.fanout.size}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const eventOf = (result: Result | undefined) => result?.data?.['eventIngested'] as LiveEvent;

/** Reads raw SSE frames of a response until `until` holds for the frames so far. */
async function readFrames(response: Response, until: (frames: SseFrame[]) => boolean): Promise<SseFrame[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const frames: SseFrame[] = [];
  let buffer = '';
  while (!until(frames)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame: SseFrame = {};
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue; // comments (keep-alives)
        const field = line.slice(0, colon);
        const value = line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id' || field === 'event' || field === 'data') frame[field] = value;
      }
      if (frame.event) frames.push(frame);
    }
  }
  await reader.cancel();
  return frames;
}
interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
}

describe('GraphQL over SSE (graphql-sse client)', () => {
  it('delivers an ingested event to a subscriber over SSE, with its filter applied', async () => {
    const bookingsInVN = collect(client(), SUBSCRIPTION, { filter: { eventTypes: ['BOOKING'], regions: ['VN'] } });
    await subscribers(1);
    await ingest({ eventType: 'VIEW', userId: 'USER000005', tourId: 'TOUR0001', region: 'VN' });
    const booking = await ingest({ eventType: 'BOOKING', userId: 'USER000005', tourId: 'TOUR0001', region: 'VN', amount: 120, currency: 'USD' });
    await bookingsInVN.next(1);
    expect(bookingsInVN.results).toHaveLength(1);
    expect(eventOf(bookingsInVN.results[0])).toEqual({ id: booking.eventId, eventType: 'BOOKING', region: 'VN', offset: expect.any(String) });
  });

  it('answers a query over SSE with one result, then completes', async () => {
    const query = collect(client(), '{ __typename }');
    expect(await query.ended).toEqual({});
    expect(query.results).toEqual([{ data: { __typename: 'Query' } }]);
  });

  it('enforces access: refused credentials get 401, a caller without them an UNAUTHENTICATED result (the field needs the analyst role)', async () => {
    const wrongKey = collect(client({ 'x-api-key': 'not-a-key' }), SUBSCRIPTION);
    const { error } = await wrongKey.ended;
    expect((error as { response?: Response }).response?.status).toBe(401);
    expect(await (error as { response: Response }).response.json()).toEqual({
      errors: [{ message: 'The API key is not valid.', extensions: { code: 'UNAUTHENTICATED' } }],
    });

    const anonymous = collect(client({}), SUBSCRIPTION);
    expect(await anonymous.ended).toEqual({});
    expect(anonymous.results).toHaveLength(1);
    expect(anonymous.results[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(gw.gateway.services.fanout.size).toBe(0);
  });

  it('refuses a subscription over the depth limit before it starts', async () => {
    const deep = collect(client(), 'subscription { eventIngested { tour { destination { name } } } }');
    expect(await deep.ended).toEqual({});
    expect(deep.results).toHaveLength(1);
    expect(deep.results[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX' });
    expect(gw.gateway.services.fanout.size).toBe(0);
  });

  it('marks each event with its bus position and resumes after Last-Event-ID with what was missed', async () => {
    const open = (lastEventId?: string) =>
      fetch(gw.endpoint, {
        method: 'POST',
        headers: {
          accept: 'text/event-stream',
          'content-type': 'application/json',
          'x-api-key': KEYS.analyst,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        body: JSON.stringify({ query: SUBSCRIPTION, variables: { filter: { regions: ['JP'] } } }),
      });
    const first = await open();
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await subscribers(1);
    const seen = await ingest({ eventType: 'VIEW', userId: 'USER000007', tourId: 'TOUR0002', region: 'JP' });
    const [frame] = await readFrames(first, (frames) => frames.length >= 1);
    expect(frame?.event).toBe('next');
    expect(frame?.id).toBe(seen.offset);
    expect(eventOf(JSON.parse(frame?.data ?? '{}') as Result).offset).toBe(seen.offset);
    await subscribers(0); // the reader was cancelled: the connection is gone

    // Published while the client was away: one in its filter, one not.
    const missed = await ingest({ eventType: 'BOOKING', userId: 'USER000007', tourId: 'TOUR0002', region: 'JP', amount: 80, currency: 'USD' });
    await ingest({ eventType: 'VIEW', userId: 'USER000007', tourId: 'TOUR0002', region: 'TH' });

    const resumed = await open(frame?.id);
    expect(resumed.status).toBe(200);
    const [replayed] = await readFrames(resumed, (frames) => frames.length >= 1);
    expect(replayed?.id).toBe(missed.offset);
    expect(eventOf(JSON.parse(replayed?.data ?? '{}') as Result)).toMatchObject({ id: missed.eventId, region: 'JP' });
  });

  it('refuses a Last-Event-ID that is not a position', async () => {
    const response = await fetch(gw.endpoint, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', 'x-api-key': KEYS.analyst, 'last-event-id': 'x y' },
      body: JSON.stringify({ query: SUBSCRIPTION }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { extensions: unknown }[] }).errors[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT' });
  });
});

describe("Apollo's multipart subscriptions", () => {
  const post = (query: string) =>
    fetch(gw.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec="1.0", application/json', 'x-api-key': KEYS.analyst },
      body: JSON.stringify({ query }),
    });
  const PART = '\r\ncontent-type: application/json; charset=utf-8\r\n\r\n';

  it('streams each event as a {"payload": …} part closed by the next boundary', async () => {
    const response = await post(SUBSCRIPTION);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"');
    await subscribers(1);
    const receipt = await ingest({ eventType: 'CLICK', userId: 'USER000009', tourId: 'TOUR0004', region: 'ID' });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes(receipt.eventId)) text += decoder.decode((await reader.read()).value, { stream: true });
    await reader.cancel();
    const parts = text.split('\r\n--graphql').filter((part) => part.startsWith(PART) && part !== `${PART}{}`);
    expect(parts.map((part) => JSON.parse(part.slice(PART.length)) as unknown)).toEqual([
      { payload: { data: { eventIngested: { id: receipt.eventId, eventType: 'CLICK', region: 'ID', offset: receipt.offset } } } },
    ]);
  });

  it('answers a query as one part, then the closing boundary', async () => {
    const response = await post('{ __typename }');
    expect(await response.text()).toBe(`\r\n--graphql${PART}{"payload":{"data":{"__typename":"Query"}}}\r\n--graphql--\r\n`);
  });
});

describe('subscriptions over plain GraphQL over HTTP', () => {
  // The second is what Apollo Client sends for queries (@defer), not a subscription protocol.
  for (const accept of ['application/graphql-response+json, application/json', 'multipart/mixed;deferSpec=20220824, application/json']) {
    it(`answer 406 naming graphql-ws, SSE and multipart (Accept: ${accept.split(',')[0]})`, async () => {
      const response = await fetch(gw.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept, 'x-api-key': KEYS.analyst },
        body: JSON.stringify({ query: SUBSCRIPTION }),
      });
      expect(response.status).toBe(406);
      const body = (await response.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      const host = new URL(gw.url).host;
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0]?.message).toBe(
        `Subscriptions are not answered over plain GraphQL over HTTP. Subscribe over graphql-ws at ws://${host}/graphql (subprotocol graphql-transport-ws) ` +
          `or over HTTP at http://${host}/graphql: Server-Sent Events with "Accept: text/event-stream" (the graphql-sse protocol) ` +
          `or Apollo's multipart subscriptions with "Accept: multipart/mixed;subscriptionSpec=1.0".`,
      );
      expect(body.errors[0]?.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        transports: [
          { protocol: 'graphql-transport-ws', url: `ws://${host}/graphql` },
          { protocol: 'graphql-sse', url: `http://${host}/graphql`, accept: 'text/event-stream' },
          { protocol: 'multipart-subscriptions', url: `http://${host}/graphql`, accept: 'multipart/mixed;subscriptionSpec=1.0' },
        ],
      });
    });
  }
});
