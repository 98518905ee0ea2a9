import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One HTTP request a client sent to the engine, as it went on the wire. */
export interface CapturedRequest {
  method: string;
  /** Path and query string. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A recording pass-through in front of an engine's HTTP interface. */
export interface EngineCapture {
  /** `http://127.0.0.1:PORT`: give it to the client instead of the engine's URL. */
  url: string;
  /** Every request forwarded so far, oldest first. */
  readonly requests: readonly CapturedRequest[];
  close(): Promise<void>;
}

/**
 * Forwards every request to `target` unchanged and keeps a copy, so a benchmark can replay the
 * exact statement a client sent (its SQL, format and settings) rather than a hand-written one.
 */
export async function startEngineCapture(target: string): Promise<EngineCapture> {
  const upstream = new URL(target);
  const requests: CapturedRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: incoming.method ?? 'GET', path: incoming.url ?? '/', headers: incoming.headers, body: body.toString('utf8') });
      const forwarded = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forwarded.on('error', (error) => outgoing.destroy(error));
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
