/**
 * Cross-origin access for browsers (https://fetch.spec.whatwg.org/#http-cors-protocol), applied
 * once in front of every route: preflights are answered before routing, allowed origins get their
 * `Access-Control-*` headers on every answer, and long-lived channels (graphql-ws upgrades, event
 * streams) from a page of a disallowed origin are refused outright.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import cors from 'cors';
import type { CorsConfig } from './cors-config.ts';
import { errorBody } from './graphql-http.ts';

/** Request headers a browser client may send: GraphQL over HTTP, auth, tracing, Apollo clients, graphql-sse. */
export const ALLOWED_HEADERS = [
  'content-type',
  'accept',
  'authorization',
  'x-api-key',
  'x-request-id',
  'traceparent',
  'tracestate',
  // Apollo Client and Apollo's persisted-query / CSRF conventions.
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'apollographql-client-name',
  'apollographql-client-version',
  // graphql-sse: resuming a stream, and its single-connection token header.
  'last-event-id',
  'x-graphql-event-stream-token',
];

/** Response headers a browser client may read besides the CORS-safelisted ones. */
export const EXPOSED_HEADERS = ['x-request-id', 'x-cache', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after', 'www-authenticate'];

/**
 * Methods a preflight may allow: GraphQL uses GET and POST; the others are for REST routes served
 * beside it, each of which still checks credentials itself.
 */
const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

const JSON_TYPE = 'application/json; charset=utf-8';

/** The gateway's CORS policy. */
export interface CorsPolicy {
  /** Whether a page of this origin may call the gateway (CORS_ORIGINS). */
  allows(origin: string): boolean;
  /**
   * Whether a request may open a long-lived channel: no `Origin` (not a browser), the gateway's
   * own origin (GraphiQL), or an allowed one.
   */
  admitsChannel(req: Pick<IncomingMessage, 'headers'>): boolean;
  /** Wraps the server's request listener: CORS headers on every answer, preflights answered here. */
  wrap(listener: RequestListener): RequestListener;
}

/** Builds the policy of a configuration. */
export function createCorsPolicy(config: CorsConfig): CorsPolicy {
  const allows = (origin: string) => config.patterns.some((pattern) => pattern.test(origin));
  const middleware = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allows(origin)),
    methods: ALLOWED_METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: config.credentials,
    maxAge: config.maxAgeSeconds,
    optionsSuccessStatus: 204,
    preflightContinue: false,
  });
  return {
    allows,
    admitsChannel(req) {
      const origin = req.headers.origin;
      return origin === undefined || sameOrigin(origin, req.headers.host) || allows(origin);
    },
    wrap(listener) {
      return (req, res) => {
        const origin = req.headers.origin;
        // Not a browser's cross-origin request: nothing to add.
        if (origin === undefined) {
          listener(req, res);
          return;
        }
        // Answers differ by Origin (allowed or not), so shared caches must key on it.
        res.setHeader('vary', 'Origin');
        // The cors callbacks run synchronously (the origin check is synchronous).
        middleware(req, res, () => {
          if (isPreflight(req)) refusePreflight(res, origin);
          else listener(req, res);
        });
      };
    },
  };
}

/** A CORS preflight: OPTIONS naming the method the page wants to send. */
function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
}

/** A preflight from a disallowed origin: 403 without `Access-Control-Allow-Origin`, with a reason for the developer reading the network log. */
function refusePreflight(res: ServerResponse, origin: string): void {
  res.writeHead(403, { 'content-type': JSON_TYPE });
  res.end(errorBody(`Origin ${origin} may not call this gateway from a browser: it is not in CORS_ORIGINS.`, 'FORBIDDEN'));
}

/** Whether `origin` is the gateway's own (same host and port as the request was sent to). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Refuses an event stream opened by a page of a disallowed origin (403, as graphql-ws upgrades are refused). */
export function refuseChannel(res: ServerResponse, origin: string | undefined): void {
  res.writeHead(403, { 'content-type': JSON_TYPE });
  res.end(errorBody(`Origin ${origin ?? '(none)'} may not open subscriptions on this gateway: it is not in CORS_ORIGINS.`, 'FORBIDDEN'));
}
