import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { GatewayContext, GatewayServices } from '../context.ts';
import type { Logger } from '../logger.ts';
import { createRequestContext } from '../request-context.ts';
import type { CachedResponse, ResponseCache } from './response-cache.ts';

/** Options of the GraphQL-over-HTTP endpoint. */
export interface GraphQLHttpOptions {
  apollo: ApolloServer<GatewayContext>;
  services: GatewayServices;
  /** Absent: every request is executed. */
  responseCache: ResponseCache | undefined;
  logger: Logger;
  /** Largest request body accepted, in bytes. Default 1 MiB; larger bodies get 413. */
  maxBodyBytes?: number;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * GraphQL over HTTP (GET for queries, POST) on Apollo's transport-neutral entry point, with the
 * response cache checked before anything is parsed.
 */
export function createGraphQLHttpHandler(options: GraphQLHttpOptions): (req: IncomingMessage, res: ServerResponse, search: string) => void {
  const { apollo, services, responseCache, logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  // Stampede protection: identical requests that miss the cache together wait for the first one's
  // execution and share its answer when it turns out cacheable (otherwise they run their own).
  const inflight = new Map<string, Promise<CachedResponse | undefined>>();

  return (req, res, search) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST', 'content-type': JSON_TYPE });
      res.end(errorBody('GraphQL accepts GET (queries) and POST.', 'BAD_USER_INPUT'));
      return;
    }
    if (method === 'GET') {
      void serve(req, res, method, search, search, undefined);
      return;
    }
    readBody(req, maxBodyBytes).then(
      (raw) => {
        let body: unknown;
        const contentType = req.headers['content-type'] ?? '';
        if (contentType.includes('json')) {
          try {
            body = JSON.parse(raw);
          } catch {
            res.writeHead(400, { 'content-type': JSON_TYPE });
            res.end(errorBody('The request body is not valid JSON.', 'BAD_USER_INPUT'));
            return;
          }
        } else {
          body = raw;
        }
        void serve(req, res, method, search, raw, body);
      },
      (error: Error & { status?: number }) => {
        res.writeHead(error.status ?? 400, { 'content-type': JSON_TYPE, connection: 'close' });
        res.end(errorBody(error.message, 'BAD_USER_INPUT'));
      },
    );
  };

  async function serve(req: IncomingMessage, res: ServerResponse, method: string, search: string, payload: string, body: unknown) {
    const accept = req.headers.accept ?? '';
    const key = responseCache?.keyOf(method, accept, '', payload);
    try {
      let hit = key === undefined ? undefined : responseCache?.lookup(key);
      if (hit instanceof Promise) hit = await hit;
      if (hit) {
        res.writeHead(hit.status, { 'content-type': hit.contentType, 'content-length': hit.length, 'x-cache': 'HIT' });
        res.end(hit.body);
        return;
      }
      const leader = key === undefined ? undefined : inflight.get(key);
      if (leader) {
        const shared = await leader;
        if (shared) {
          res.writeHead(shared.status, { 'content-type': shared.contentType, 'content-length': shared.length, 'x-cache': 'COALESCED' });
          res.end(shared.body);
          return;
        }
      }
      let share: ((response: CachedResponse | undefined) => void) | undefined;
      if (key !== undefined && !inflight.has(key)) inflight.set(key, new Promise((resolve) => (share = resolve)));
      let shareable: CachedResponse | undefined;
      try {
        shareable = await execute(req, res, method, search, body, key);
      } finally {
        if (share && key !== undefined) inflight.delete(key);
        share?.(shareable);
      }
    } catch (error) {
      logger.error({ err: error }, 'GraphQL request failed outside execution');
      if (!res.headersSent) res.writeHead(500, { 'content-type': JSON_TYPE });
      res.end(errorBody('Internal error.', 'INTERNAL'));
    }
  }

  /** Runs the operation through Apollo and writes the answer; returns it when it may be cached (and shared). */
  async function execute(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    search: string,
    body: unknown,
    key: string | undefined,
  ): Promise<CachedResponse | undefined> {
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const context = createRequestContext(services, headerValue(req.headers['x-request-id']));
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search, body },
      context: async () => context,
    });
    const status = response.status ?? 200;
    const outgoing: Record<string, string> = { 'x-request-id': context.requestId };
    for (const [name, value] of response.headers) outgoing[name] = value;
    if (response.body.kind !== 'complete') {
      res.writeHead(status, outgoing);
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
      return undefined;
    }
    const text = response.body.string;
    const length = Buffer.byteLength(text);
    let cacheable: CachedResponse | undefined;
    if (responseCache && key !== undefined && status === 200 && context.cachePolicy.maxAge > 0) {
      outgoing['x-cache'] = 'MISS';
      const stored = withoutExecutionFigures(text);
      cacheable = { status, contentType: outgoing['content-type'] ?? JSON_TYPE, body: stored, length: stored === text ? length : Buffer.byteLength(stored) };
      responseCache.store(key, cacheable, context.cachePolicy.maxAge * 1000);
    }
    outgoing['content-length'] = String(length);
    res.writeHead(status, outgoing);
    res.end(text);
    return cacheable;
  }
}

/**
 * The answer as it may be replayed: without `extensions.backends`, whose calls and timings belong
 * to this execution only (a hit calls no backend). Costs a JSON round trip on cacheable misses.
 */
function withoutExecutionFigures(text: string): string {
  if (!text.includes('"backends"')) return text;
  const body = JSON.parse(text) as { extensions?: Record<string, unknown> };
  if (!body.extensions || !('backends' in body.extensions)) return text;
  const { backends: _figures, ...rest } = body.extensions;
  if (Object.keys(rest).length === 0) delete body.extensions;
  else body.extensions = rest;
  return JSON.stringify(body);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && /^[\w.:-]{1,128}$/.test(first) ? first : undefined;
}

/** A GraphQL-shaped error body for failures before GraphQL execution. */
export function errorBody(message: string, code: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
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
