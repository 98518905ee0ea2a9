import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClickHouseServerError, appendedServerError, createClickHouseReads, type ClickHouseReads } from '../src/backends/clickhouse/http-reads.ts';
import { serverParameterText } from '../src/backends/clickhouse/quote.ts';

/**
 * The ClickHouse reads' transport at the wire, against a stand-in HTTP server: what a read sends,
 * how server errors come back, and the one resend on a kept-alive connection the server closed.
 */

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

let server: Server | undefined;
let reads: ClickHouseReads | undefined;

afterEach(async () => {
  reads?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  reads = undefined;
});

async function serve(handler: Handler): Promise<ClickHouseReads> {
  server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => handler(request, body, response));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  reads = createClickHouseReads({
    endpoint: new URL(`http://127.0.0.1:${port}/`),
    username: 'reader',
    password: 's3cret',
    database: 'analytics',
    maxSockets: 2,
    settings: { output_format_json_quote_64bit_integers: 1 },
  });
  return reads;
}

const signal = () => new AbortController().signal;

describe('ClickHouse reads over HTTP', () => {
  it('POSTs the statement with its id, settings, parameters and credentials, and answers the body', async () => {
    const seen: { url: string; body: string; authorization: string | undefined }[] = [];
    const transport = await serve((request, body, response) => {
      seen.push({ url: request.url ?? '', body, authorization: request.headers.authorization });
      response.end('{"data":[]}');
    });
    const answer = await transport.read({ sql: 'SELECT {p0:String}\nFORMAT JSON', queryId: 'nexus-1', settings: { max_execution_time: 3, skipped: undefined }, params: { p0: "it\\'s" }, signal: signal() });
    expect(answer).toBe('{"data":[]}');
    const [sent] = seen;
    const url = new URL(sent!.url, 'http://x');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      database: 'analytics',
      output_format_json_quote_64bit_integers: '1',
      query_id: 'nexus-1',
      max_execution_time: '3',
      param_p0: "it\\'s",
    });
    expect(sent!.body).toBe('SELECT {p0:String}\nFORMAT JSON');
    expect(sent!.authorization).toBe(`Basic ${Buffer.from('reader:s3cret').toString('base64')}`);
  });

  it("rejects with the server's error code and text, from the header or from an 18.x body", async () => {
    const transport = await serve((request, _body, response) => {
      if (request.url?.includes('query_id=new')) {
        response.writeHead(500, { 'x-clickhouse-exception-code': '60' });
        response.end('Code: 60. DB::Exception: Table analytics.nope does not exist. (UNKNOWN_TABLE)');
      } else {
        response.writeHead(500);
        response.end('Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.0 seconds, e.what() = DB::Exception\n');
      }
    });
    const failure = (id: string) => transport.read({ sql: 'SELECT 1', queryId: id, settings: {}, signal: signal() }).catch((error: unknown) => error);
    expect(await failure('new')).toMatchObject({ name: 'ClickHouseServerError', code: '60', status: 500, message: expect.stringContaining('UNKNOWN_TABLE') });
    const old = await failure('old');
    expect(old).toBeInstanceOf(ClickHouseServerError);
    expect(old).toMatchObject({ code: '159', message: expect.stringMatching(/^Code: 159, e\.displayText\(\)/) });
  });

  it('finds the exception a server appended to an answer it had started', () => {
    expect(appendedServerError('{"meta":[],"data":[{"a":1},\nCode: 241, e.displayText() = DB::Exception: Memory limit exceeded')).toMatchObject({ code: '241', status: 200 });
    expect(appendedServerError('{"data":[')).toBeUndefined();
  });

  it('sends a read once more when the kept-alive connection it went out on had been closed by the server', async () => {
    let requests = 0;
    const transport = await serve((request, _body, response) => {
      requests += 1;
      // The second request on the first connection: the server had closed it, the read is lost.
      if (requests === 2) request.socket.destroy();
      else response.end(`answer ${requests}`);
    });
    const read = () => transport.read({ sql: 'SELECT 1', queryId: `q${requests}`, settings: {}, signal: signal() });
    expect(await read()).toBe('answer 1');
    expect(await read()).toBe('answer 3');
    expect(requests).toBe(3);
  });

  it('aborts a read in flight with the signal’s reason', async () => {
    const transport = await serve(() => undefined); // never answers
    const controller = new AbortController();
    const pending = transport.read({ sql: 'SELECT sleep(3)', queryId: 'slow', settings: {}, signal: controller.signal }).catch((error: unknown) => error);
    const reason = new Error('caller gone');
    setImmediate(() => controller.abort(reason));
    expect(await pending).toBe(reason);
  });
});

describe('serverParameterText', () => {
  it("writes values in the text format of the parameter's type", () => {
    expect(serverParameterText(null)).toBe('\\N');
    expect(serverParameterText(true)).toBe('1');
    expect(serverParameterText(false)).toBe('0');
    expect(serverParameterText(42)).toBe('42');
    expect(serverParameterText(2.5)).toBe('2.5');
    expect(serverParameterText(2n ** 63n)).toBe('9223372036854775808');
    expect(serverParameterText("tab\tnew\nline\r'quote' back\\slash")).toBe("tab\\tnew\\nline\\r\\'quote\\' back\\\\slash");
    expect(serverParameterText(new Date('2026-03-01T10:15:00.000Z'))).toBe('1772360100');
    expect(serverParameterText(new Date('2026-03-01T10:15:00.250Z'))).toBe('1772360100.250');
    expect(serverParameterText(new Date('1969-12-31T23:59:59.500Z'))).toBe('-0.500');
  });
});
