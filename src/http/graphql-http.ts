import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { GatewayContext, GatewayServices } from '../context.ts';
import type { Logger } from '../logger.ts';
import { logRequest } from '../observability/request-log.ts';
import { withOperationSpan } from '../observability/tracing.ts';
import { createRequestContext } from '../request-context.ts';
import { answerScope } from '../security/auth-directive.ts';
import { AuthenticationError, AuthenticationUnavailableError, httpCredentials, type Authenticator } from '../security/authenticator.ts';
import type { Principal } from '../security/principal.ts';
import type { AllowList } from '../security/persisted-queries.ts';
import { admitHttp, effectiveRole, rateLimitKey, type PrincipalRateLimiter } from '../security/rate-limit.ts';
import { refuseOversizedBody } from './body-limit.ts';
import { legacyJsonStatus } from './legacy-json-status.ts';
import type { HttpReply } from './http-reply.ts';
import type { CachedResponse, ResponseCache } from './response-cache.ts';
import { storableAnswer, withCacheAge } from '../freshness/cache-age.ts';

/** Options of the GraphQL-over-HTTP endpoint. */
export interface GraphQLHttpOptions {
  apollo: ApolloServer<GatewayContext>;
  services: GatewayServices;
  /** Absent: every request is executed. */
  responseCache: ResponseCache | undefined;
  logger: Logger;
  /** Establishes the caller's principal before the response cache or Apollo see the request. */
  authenticator: Authenticator;
  /** Largest request body accepted, in bytes. Default 1 MiB; larger bodies get 413. */
  maxBodyBytes?: number;
  /**
   * Operations one POST may batch as a JSON array. Default 1: an array is refused (400,
   * BAD_USER_INPUT); above 1, Apollo must allow batching and larger arrays are refused.
   */
  maxBatchOperations?: number;
  /** Per-principal rate limits, counted before the response cache (hits count too); absent: none. */
  rateLimiter?: PrincipalRateLimiter | undefined;
  /** Allow-list mode: unlisted operations are refused (403) before the cache or Apollo; absent: off. */
  allowList?: AllowList | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** One GraphQL-over-HTTP request, its body read and parsed. */
export interface GraphQLHttpRequest {
  method: 'GET' | 'POST';
  /** The URL's query string (`?query=…` for GET), or `''`. */
  search: string;
  /** The raw POST body, or the query string for GET: what the response cache keys on. */
  payload: string;
  /** The parsed POST body; undefined for GET. */
  body: unknown;
  /** Headers Apollo sees instead of the request's own (e.g. `accept`, `content-type`). */
  headers?: Readonly<Record<string, string>>;
  /** Operations the gateway defines itself (the REST mapping): the allow list does not apply. */
  trusted?: boolean;
}

/**
 * The GraphQL-over-HTTP handler, with the pipeline behind it (authentication, rate limits, the
 * allow list, the response cache, Apollo) open to other transports through `serveOperation`.
 */
export interface GraphQLHttpHandler {
  (req: IncomingMessage, res: ServerResponse, search: string): void;
  /** Runs an already-read request through the whole pipeline and writes the answer to `reply`. */
  serveOperation(req: IncomingMessage, reply: HttpReply, request: GraphQLHttpRequest): Promise<void>;
}

/**
 * GraphQL over HTTP (GET for queries, POST) on Apollo's transport-neutral entry point, with the
 * response cache checked before anything is parsed.
 */
export function createGraphQLHttpHandler(options: GraphQLHttpOptions): GraphQLHttpHandler {
  const { apollo, services, responseCache, logger, authenticator, rateLimiter, allowList } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const maxBatchOperations = options.maxBatchOperations ?? 1;
  // Stampede protection: identical requests that miss the cache together wait for the first one's
  // execution and share its answer when it turns out cacheable (otherwise they run their own).
  const inflight = new Map<string, Promise<CachedResponse | undefined>>();
  // Cache results are counted as plain increments: the hit path can afford nothing more.
  const counts = responseCache ? services.metrics?.cacheCounts : undefined;
  // Replayed answers are logged at debug only; the level is checked once, not per hit.
  const logReplays = logger.isLevelEnabled('debug');
  /** Counts a request refused before execution (it never reaches Apollo's metrics plugin). */
  const refused = (code: string): void => services.metrics?.refused(code);

  const handler = (req: IncomingMessage, res: ServerResponse, search: string): void => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST', 'content-type': JSON_TYPE });
      refused('BAD_USER_INPUT');
      res.end(errorBody('GraphQL accepts GET (queries) and POST.', 'BAD_USER_INPUT'));
      return;
    }
    if (method === 'GET') {
      void serve(req, res, { method, search, payload: search, body: undefined });
      return;
    }
    readBody(req, maxBodyBytes).then(
      (raw) => {
        const unsupported = unsupportedMediaType(req.headers['content-type']);
        if (unsupported) {
          res.writeHead(415, { 'content-type': JSON_TYPE, 'accept-post': 'application/json' });
          refused('BAD_USER_INPUT');
          res.end(errorBody(unsupported, 'BAD_USER_INPUT'));
          return;
        }
        let body: unknown;
        try {
          body = parseJsonBody(raw);
        } catch {
          res.writeHead(400, { 'content-type': JSON_TYPE });
          refused('BAD_USER_INPUT');
          res.end(errorBody('The request body is not valid JSON.', 'BAD_USER_INPUT'));
          return;
        }
        if (Array.isArray(body)) {
          const refusal = batchRefusal(body.length, maxBatchOperations);
          if (refusal) {
            res.writeHead(400, { 'content-type': JSON_TYPE });
            refused('BAD_USER_INPUT');
            res.end(errorBody(refusal, 'BAD_USER_INPUT'));
            return;
          }
        }
        void serve(req, res, { method, search, payload: raw, body });
      },
      (error: Error & { status?: number }) => {
        refused('BAD_USER_INPUT');
        if (error.status === 413) return refuseOversizedBody(req, res, errorBody(error.message, 'BAD_USER_INPUT'));
        res.writeHead(error.status ?? 400, { 'content-type': JSON_TYPE, connection: 'close' });
        res.end(errorBody(error.message, 'BAD_USER_INPUT'));
      },
    );
  };
  return Object.assign(handler, { serveOperation: serve });

  async function serve(req: IncomingMessage, res: HttpReply, request: GraphQLHttpRequest): Promise<void> {
    const { method, search, payload, body } = request;
    // Authenticated before the cache is consulted: bad credentials never get a cached answer, and
    // answers are cached per scope (role, and below analyst the user), so no role sees another's.
    let principal = authenticate(req, res);
    if (principal instanceof Promise) principal = await principal;
    if (!principal) return;
    // Counted before the response cache: hits are cheap, but the budget protects the whole service.
    const limiting = rateLimiter?.consume(rateLimitKey(principal, req), principal.role, Array.isArray(body) ? body.length : 1);
    if (limiting && !admitHttp(res, await limiting)) return refused('RATE_LIMITED');
    if (allowList && !request.trusted && !allowList.admitHttp(res, effectiveRole(principal), method, search, body)) return refused('FORBIDDEN');
    const accept = request.headers?.['accept'] ?? req.headers.accept ?? '';
    // A batch is never cached nor coalesced: its operations share one context and cache policy.
    const key = Array.isArray(body) ? undefined : responseCache?.keyOf(method, accept, answerScope(principal), payload);
    try {
      let hit = key === undefined ? undefined : responseCache?.lookup(key);
      if (hit instanceof Promise) hit = await hit;
      if (hit) {
        hit = withCacheAge(hit);
        if (counts) counts.hit += 1;
        res.writeHead(hit.status, { 'content-type': hit.contentType, 'content-length': hit.length, 'x-cache': 'HIT' });
        res.end(hit.body);
        if (logReplays) logRequest(logger, { requestId: headerValue(req.headers['x-request-id']), status: hit.status, cache: 'HIT' });
        return;
      }
      const leader = key === undefined ? undefined : inflight.get(key);
      if (leader) {
        const led = await leader;
        if (led) {
          const shared = withCacheAge(led);
          if (counts) counts.coalesced += 1;
          res.writeHead(shared.status, { 'content-type': shared.contentType, 'content-length': shared.length, 'x-cache': 'COALESCED' });
          res.end(shared.body);
          if (logReplays) logRequest(logger, { requestId: headerValue(req.headers['x-request-id']), status: shared.status, cache: 'COALESCED' });
          return;
        }
      }
      let share: ((response: CachedResponse | undefined) => void) | undefined;
      if (key !== undefined && !inflight.has(key)) inflight.set(key, new Promise((resolve) => (share = resolve)));
      let shareable: CachedResponse | undefined;
      try {
        shareable = await execute(req, res, request, key, principal);
      } finally {
        if (share && key !== undefined) inflight.delete(key);
        share?.(shareable);
      }
    } catch (error) {
      logger.error({ err: error }, 'GraphQL request failed outside execution');
      if (!res.headersSent) res.writeHead(500, { 'content-type': JSON_TYPE });
      refused('INTERNAL');
      res.end(errorBody('Internal error.', 'INTERNAL'));
    }
  }

  /**
   * The caller's principal; undefined when credentials were refused, the answer (401, or 503 when
   * they cannot be checked now) already written.
   */
  function authenticate(req: IncomingMessage, res: HttpReply): Principal | undefined | Promise<Principal | undefined> {
    // Synchronous when the authenticator is (open mode, API keys): the cache-hit path awaits nothing.
    try {
      const principal = authenticator.authenticate(httpCredentials(req.headers), req.socket.remoteAddress);
      return principal instanceof Promise ? principal.catch((error: unknown) => refuseCredentials(res, error)) : principal;
    } catch (error) {
      return refuseCredentials(res, error);
    }
  }

  /** Answers refused or uncheckable credentials (401, 503) and resolves to no principal. */
  function refuseCredentials(res: HttpReply, error: unknown): undefined {
    refused(answerCredentialFailure(res, error, logger));
    return undefined;
  }

  /** Runs the operation through Apollo and writes the answer; returns it when it may be cached (and shared). */
  async function execute(
    req: IncomingMessage,
    res: HttpReply,
    { method, search, body, headers: replaced }: GraphQLHttpRequest,
    key: string | undefined,
    principal: Principal,
  ): Promise<CachedResponse | undefined> {
    const started = performance.now();
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    for (const [name, value] of Object.entries(replaced ?? {})) headers.set(name, value);
    const context = createRequestContext(services, headerValue(req.headers['x-request-id']), principal);
    // Noted before executing: an answer whose tables change meanwhile is not stored (it may be older).
    const since = responseCache?.readStarts() ?? 0;
    // In an operation span when tracing (it parents the loader batches and backend calls).
    const response = await withOperationSpan(services.tracer, req.headers, () =>
      apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers, search, body },
        context: async () => context,
      }),
    );
    const finished = (status: number, cached: boolean) => {
      if (counts) counts[cached ? 'miss' : 'bypass'] += 1;
      logRequest(logger, { requestId: context.requestId, observed: context.observed, context, status, cache: cached ? 'MISS' : 'BYPASS', durationMs: performance.now() - started });
    };
    const status = legacyJsonStatus(response.status ?? 200, response.headers.get('content-type'), headers);
    const outgoing: Record<string, string> = { 'x-request-id': context.requestId };
    for (const [name, value] of response.headers) outgoing[name] = value;
    if (response.body.kind !== 'complete') {
      res.writeHead(status, outgoing);
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
      finished(status, false);
      return undefined;
    }
    const text = response.body.string;
    const length = Buffer.byteLength(text);
    let cacheable: CachedResponse | undefined;
    if (responseCache && key !== undefined && status === 200 && context.cachePolicy.maxAge > 0) {
      outgoing['x-cache'] = 'MISS';
      const stored = storableAnswer(text, Date.now());
      cacheable = { status, contentType: outgoing['content-type'] ?? JSON_TYPE, body: stored, length: Buffer.byteLength(stored) };
      const { tables } = context.cachePolicy;
      responseCache.store(key, cacheable, context.cachePolicy.maxAge * 1000, tables && { tables, since });
    }
    outgoing['content-length'] = String(length);
    res.writeHead(status, outgoing);
    res.end(text);
    finished(status, cacheable !== undefined);
    return cacheable;
  }
}

/** A header value usable as a request id (word characters, `.:-`, up to 128), else undefined. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && /^[\w.:-]{1,128}$/.test(first) ? first : undefined;
}

/** Why a batch of `size` operations is refused, or undefined when it may run. */
function batchRefusal(size: number, max: number): string | undefined {
  if (max <= 1) return 'Batched requests are not accepted: send one operation per request (a JSON object, not an array).';
  if (size === 0) return 'The batch is empty: send at least one operation.';
  if (size > max) return `The batch holds ${size} operations; at most ${max} are accepted per request.`;
  return undefined;
}

/**
 * Answers credentials that were refused (401 with the challenge), could not be checked now (503)
 * or failed unexpectedly (500, logged); returns the error code sent.
 */
export function answerCredentialFailure(res: HttpReply, error: unknown, logger: Logger): 'UNAUTHENTICATED' | 'BACKEND_UNAVAILABLE' | 'INTERNAL' {
  if (error instanceof AuthenticationError) {
    res.writeHead(401, { 'content-type': JSON_TYPE, 'www-authenticate': error.challenge });
    res.end(errorBody(error.message, 'UNAUTHENTICATED'));
    return 'UNAUTHENTICATED';
  }
  if (error instanceof AuthenticationUnavailableError) {
    logger.warn({ err: error }, 'credentials could not be verified');
    res.writeHead(503, { 'content-type': JSON_TYPE, 'retry-after': '5' });
    res.end(errorBody(error.message, 'BACKEND_UNAVAILABLE'));
    return 'BACKEND_UNAVAILABLE';
  }
  logger.error({ err: error }, 'authentication failed');
  res.writeHead(500, { 'content-type': JSON_TYPE });
  res.end(errorBody('Internal error.', 'INTERNAL'));
  return 'INTERNAL';
}

/**
 * Why a POST's media type is refused (415), or undefined for JSON. GraphQL over HTTP requires
 * `application/json` (any `+json` suffix and parameters accepted); `application/graphql` is optional
 * and not served. https://graphql.github.io/graphql-over-http/draft/#sec-POST
 */
function unsupportedMediaType(contentType: string | undefined): string | undefined {
  const essence = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (essence === 'application/json' || /^application\/[\w.-]+\+json$/.test(essence)) return undefined;
  const sent = essence === '' ? 'No content-type' : `Unsupported content-type "${essence.slice(0, 100)}"`;
  return `${sent}: send the request as application/json.`;
}

/** The JSON of a request body; a leading UTF-8 byte-order mark is ignored (some Windows tools write one). */
function parseJsonBody(raw: string): unknown {
  return JSON.parse(raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw);
}

/** A GraphQL-shaped error body for failures before GraphQL execution. */
export function errorBody(message: string, code: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

/** Reads a request body up to `limit` bytes; larger bodies reject with `status: 413`. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(Object.assign(new Error(`The request body exceeds ${limit} bytes.`), { status: 413 }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(Object.assign(new Error(`The request body exceeds ${limit} bytes.`), { status: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
