import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MAX_BODY_BYTES = 1_048_576;
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES), RATE_LIMITS: 'false' } });
});
afterAll(async () => {
  await gw?.close();
});

function post(body: string | Uint8Array<ArrayBuffer>, contentType: string, accept = 'application/graphql-response+json') {
  return fetch(gw.endpoint, { method: 'POST', headers: { 'content-type': contentType, accept }, body });
}

interface ErrorBody {
  errors: { message: string; path?: unknown[]; extensions: Record<string, unknown> }[];
}

describe('graphql-http audit', () => {
  it('passes every audit of the GraphQL-over-HTTP spec, MUST and SHOULD, without a warning', async () => {
    const results = await Promise.all(serverAudits({ url: gw.endpoint }).map((audit) => audit.fn()));
    const failed = results.filter((result) => result.status !== 'ok').map((result) => `${result.status}: ${result.name}`);
    expect(failed).toEqual([]);
    expect(results.length).toBeGreaterThan(40);
  });
});

describe('legacy application/json clients', () => {
  // GraphQL over HTTP, "application/json" legacy watershed: such clients get 200 with the errors.
  it.each([
    ['a syntax error', { query: '{ tours(first: ) }' }, 'GRAPHQL_PARSE_FAILED'],
    ['an unknown field', { query: '{ nope }' }, 'GRAPHQL_VALIDATION_FAILED'],
    ['a variable of the wrong type', { query: 'query Tour($id: ID!) { tour(id: $id) { id } }', variables: { id: { no: 1 } } }, 'BAD_USER_INPUT'],
  ])('answers %s with 200 and the error in application/json', async (_what, body, reason) => {
    const response = await post(JSON.stringify(body), 'application/json', 'application/json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const answer = (await response.json()) as ErrorBody;
    expect(answer.errors[0]?.extensions['code']).toBe('BAD_USER_INPUT');
    if (reason !== 'BAD_USER_INPUT') expect(answer.errors[0]?.extensions['reason']).toBe(reason);
  });

  it('keeps 400 for clients that accept application/graphql-response+json', async () => {
    const response = await post(JSON.stringify({ query: '{ nope }' }), 'application/json', 'application/graphql-response+json, application/json;q=0.9');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/graphql-response+json');
  });
});

describe('request bodies', () => {
  it('accepts a JSON body that starts with a UTF-8 byte-order mark', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ query: '{ ping }' }))]);
    const response = await post(body, 'application/json');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { ping: true } });
  });

  it('answers an unsupported media type with 415 naming the accepted ones', async () => {
    const response = await post('query=%7B%20ping%20%7D', 'application/x-www-form-urlencoded');
    expect(response.status).toBe(415);
    expect(response.headers.get('accept-post')).toBe('application/json');
    const answer = (await response.json()) as ErrorBody;
    expect(answer.errors[0]?.message).toBe('Unsupported content-type "application/x-www-form-urlencoded": send the request as application/json.');
    expect(answer.errors[0]?.extensions['code']).toBe('BAD_USER_INPUT');
  });

  it('answers 415 to a POST without a content-type', async () => {
    const response = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(gw.endpoint, { method: 'POST', headers: { accept: 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{"query":"{ ping }"}');
    });
    expect(response).toBe(415);
  });

  it('lets a client still sending an oversized body read the 413 (no connection reset)', async () => {
    // Twice the limit, streamed: the answer comes while the client is still sending.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const body = JSON.stringify({ query: '{ ping }', variables: { pad: 'x'.repeat(2 * MAX_BODY_BYTES) } });
      const response = await post(body, 'application/json');
      expect(response.status).toBe(413);
      const answer = (await response.json()) as ErrorBody;
      expect(answer.errors[0]?.message).toBe(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
    }
  });

  it.each([
    ['with a content-length', true],
    ['chunked', false],
  ])('keeps the connection while a client still sends an oversized body (%s), then serves on it', async (_how, declared) => {
    const { port } = new URL(gw.url);
    const socket = connect(Number(port), '127.0.0.1');
    const failures: Error[] = [];
    socket.on('error', (error) => failures.push(error));
    let received = '';
    const answered = (count: number) =>
      new Promise<void>((resolve, reject) => {
        socket.once('close', () => reject(new Error(`connection closed after ${JSON.stringify(received.slice(0, 40))}: ${failures.join('; ')}`)));
        const check = () => {
          if ((received.match(/HTTP\/1\.1 /g) ?? []).length >= count && received.trimEnd().endsWith('}')) {
            socket.off('data', onData);
            resolve();
          }
        };
        const onData = (chunk: Buffer) => {
          received += chunk.toString('latin1');
          check();
        };
        socket.on('data', onData);
      });
    const size = 2 * MAX_BODY_BYTES;
    const head = declared ? `content-length: ${size}` : 'transfer-encoding: chunked';
    const first = answered(1);
    await write(socket, `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${head}\r\n\r\n`);
    const piece = 'x'.repeat(64 * 1024);
    const frame = (text: string) => (declared ? text : `${text.length.toString(16)}\r\n${text}\r\n`);
    // Past the limit, then the answer, then the rest of the body: the client never stopped sending.
    for (let sent = 0; sent <= MAX_BODY_BYTES; sent += piece.length) await write(socket, frame(piece));
    await first;
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    for (let sent = MAX_BODY_BYTES + piece.length; sent < size; sent += piece.length) await write(socket, frame(piece));
    if (!declared) await write(socket, '0\r\n\r\n');
    const ping = JSON.stringify({ query: '{ ping }' });
    const second = answered(2);
    await write(socket, `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${ping.length}\r\n\r\n${ping}`);
    await second;
    socket.destroy();
    expect(failures).toEqual([]);
    expect(received).toMatch(/HTTP\/1\.1 200 OK[\s\S]*\{"data":\{"ping":true\}\}\s*$/);
  });

  it('lets a client streaming an oversized body without a length read the 413', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 4 * MAX_BODY_BYTES) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const response = await fetch(gw.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
      expect(response.status).toBe(413);
    }
  });

  it('lets a client read the 413 when the body is many times the limit', async () => {
    const body = new Uint8Array(8 * MAX_BODY_BYTES).fill(0x20);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await post(body, 'application/json');
      expect(response.status).toBe(413);
    }
  });
});

describe('JSON argument values', () => {
  it('refuses a JSON value nested 100,000 levels deep with BAD_USER_INPUT and the path', async () => {
    const depth = 100_000;
    const payload = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const body = `{"query":"mutation Deep($payload: JSON) { ingestEvent(input: { eventType: VIEW, userId: \\"USER000001\\", tourId: \\"TOUR0001\\", payload: $payload }) { eventId } }","variables":{"payload":${payload}}}`;
    expect(body.length).toBeGreaterThan(600_000);
    const response = await fetch(gw.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body,
    });
    const answer = (await response.json()) as ErrorBody;
    expect(answer.errors[0]?.extensions['code']).toBe('BAD_USER_INPUT');
    expect(answer.errors[0]?.message).toBe(
      `Variable "$payload" got invalid value { a: { a: [Object] } }; JSON value nested deeper than 32 levels (objects and arrays, MAX_JSON_DEPTH): it goes deeper at ${Array(32).fill('a').join('.')}.`,
    );
  });

  it('refuses an inline JSON literal nested too deep too', async () => {
    const literal = `${'{a:'.repeat(40)}1${'}'.repeat(40)}`;
    const { body } = await gw.request(`mutation { ingestEvent(input: { eventType: VIEW, userId: "USER000001", tourId: "TOUR0001", payload: ${literal} }) { eventId } }`);
    expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toContain('nested deeper than 32 levels');
  });

  it('accepts a JSON value at the depth limit', async () => {
    const payload = JSON.parse(`${'{"a":'.repeat(32)}1${'}'.repeat(32)}`) as unknown;
    const { body } = await gw.request<{ ingestEvent: { eventId: string } }>(
      'mutation Ok($payload: JSON) { ingestEvent(input: { eventType: VIEW, userId: "USER000001", tourId: "TOUR0001", payload: $payload }) { eventId } }',
      { payload },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data?.ingestEvent.eventId).toBeTruthy();
  });
});

function write(socket: Socket, data: string): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve())));
}
