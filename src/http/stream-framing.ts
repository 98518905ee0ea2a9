/**
 * How a streamed GraphQL answer is written on an HTTP response: Server-Sent Events in the
 * graphql-sse protocol, or Apollo's multipart subscription protocol
 * (https://www.apollographql.com/docs/graphos/routing/operations/subscriptions/multipart-protocol).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/** One way of framing a stream of results. */
export interface StreamFraming {
  /** Response headers besides the common ones. */
  readonly contentType: string;
  /** Bytes written when the stream opens. */
  readonly opening: string;
  /** Bytes of a keep-alive, and how often it is written (ms). */
  readonly keepAlive: string;
  readonly keepAliveMs: number;
  /** One result (`id` is its resume position, where the framing can carry one). */
  result(json: string, id: string | undefined): string;
  /** The stream ending normally. */
  readonly closing: string;
}

/**
 * graphql-sse (distinct connections): `next` events carrying results, `complete` at the end; the
 * opening comment makes browsers report the stream open, the keep-alive comments pass 30 s proxy idle timeouts.
 */
export const SSE_FRAMING: StreamFraming = {
  contentType: 'text/event-stream; charset=utf-8',
  opening: ':\n\n',
  keepAlive: ':\n\n',
  keepAliveMs: 12_000,
  result: (json, id) => `${id === undefined ? '' : `id: ${id}\n`}event: next\ndata: ${json}\n\n`,
  closing: 'event: complete\ndata:\n\n',
};

/**
 * Apollo's multipart subscriptions: each part `{"payload": <result>}` followed at once by the next
 * boundary (a part counts as received when its closing boundary arrives), `{}` parts as
 * heartbeats every 5 s, and the final boundary at the end.
 */
export const MULTIPART_FRAMING: StreamFraming = {
  contentType: 'multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"',
  opening: '\r\n--graphql',
  keepAlive: '\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{}\r\n--graphql',
  keepAliveMs: 5_000,
  result: (json) => `\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{"payload":${json}}\r\n--graphql`,
  closing: '--\r\n',
};

/** The framing a request asks for, or undefined when it asks for no stream. */
export function framingFor(headers: IncomingHttpHeaders): StreamFraming | undefined {
  const accept = headers.accept ?? '';
  if (accept.includes('text/event-stream')) return SSE_FRAMING;
  if (accept.includes('multipart/mixed') && accept.includes('subscriptionSpec')) return MULTIPART_FRAMING;
  return undefined;
}

/** An open stream of results on `res`; `next` resolves once the client can take more. */
export interface ResultStream {
  next(result: unknown, id: string | undefined): Promise<void>;
  complete(): void;
}

/** Starts the streamed answer on `res`. */
export function openResultStream(res: ServerResponse, framing: StreamFraming): ResultStream {
  res.writeHead(200, {
    'content-type': framing.contentType,
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // Proxies that buffer answers (nginx) would hold results back.
    'x-accel-buffering': 'no',
  });
  res.write(framing.opening);
  const keepAlive = setInterval(() => res.write(framing.keepAlive), framing.keepAliveMs);
  keepAlive.unref();
  res.once('close', () => clearInterval(keepAlive));
  return {
    next(result, id) {
      if (res.writableEnded) return Promise.resolve();
      // Backpressure: a client that reads slowly leaves results waiting in its subscription's
      // bounded buffer, which cuts it off when full (as graphql-ws does).
      if (res.write(framing.result(JSON.stringify(result), id))) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    },
    complete() {
      clearInterval(keepAlive);
      if (!res.writableEnded) res.end(framing.closing);
    },
  };
}
