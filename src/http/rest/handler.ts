/**
 * The platform's REST API on the GraphQL pipeline: a route's parameters become its operation's
 * variables, the operation runs through the same pipeline as GraphQL over HTTP (authentication,
 * rate limits, query limits, the response cache, error masking), and the answer is reshaped as
 * the route's mapping says, its status derived from the error codes. Also serves the OpenAPI
 * document generated from the mapping and the Swagger UI page that reads it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logger.ts';
import type { HttpReply } from '../http-reply.ts';
import { readBody, type GraphQLHttpHandler } from '../graphql-http.ts';
import { createSwaggerUiHandler, DOCS_PATH } from './docs.ts';
import { openApiDocument, OPENAPI_PATH } from './openapi.ts';
import { inParameterTerms, ParameterError, variablesOf } from './parameters.ts';
import type { RestRoute } from './routes.ts';
import { restValue, selectBody } from './shape.ts';
import { httpStatusOf, NOT_FOUND, restErrorBody } from './status.ts';

/** Options of {@link createRestHandler}. */
export interface RestHandlerOptions {
  routes: readonly RestRoute[];
  /** The GraphQL-over-HTTP handler whose pipeline runs the routes' operations. */
  graphql: GraphQLHttpHandler;
  logger: Logger;
  /** Largest request body accepted, in bytes. Default 1 MiB; larger bodies get 413. */
  maxBodyBytes?: number;
  /**
   * `WWW-Authenticate` of a 401 that execution decided (an anonymous caller reading a field above
   * the public role): GraphQL answers those with 200, so the pipeline sets no challenge for them.
   */
  challenge: string;
}

/** Handles a request if it is for the REST API, its OpenAPI document or docs page; returns false otherwise. */
export type RestHandler = (req: IncomingMessage, res: ServerResponse, pathname: string, search: string) => boolean;

/** Prefix of the REST routes: every path under it is answered here (404 when no route matches). */
export const REST_PREFIX = '/api/';
const JSON_TYPE = 'application/json; charset=utf-8';
/** Headers of the pipeline's answer that REST clients get too. */
const PASSED_HEADERS = ['x-request-id', 'x-cache', 'retry-after', 'www-authenticate', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

/** Creates the REST handler for `routes`. */
export function createRestHandler(options: RestHandlerOptions): RestHandler {
  const { routes, graphql, logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const openapi = JSON.stringify(openApiDocument(routes));
  const docs = createSwaggerUiHandler({ specUrl: OPENAPI_PATH });

  return (req, res, pathname, search) => {
    if (pathname === OPENAPI_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') send(res, 405, restErrorBody('Method Not Allowed', 'BAD_USER_INPUT'), { allow: 'GET, HEAD' });
      else send(res, 200, req.method === 'HEAD' ? '' : openapi, { 'cache-control': 'no-cache' }, Buffer.byteLength(openapi));
      return true;
    }
    if (pathname === DOCS_PATH || pathname.startsWith(`${DOCS_PATH}/`)) return docs(req, res, pathname);
    if (!pathname.startsWith(REST_PREFIX)) return false;
    const matches = routes.flatMap((route) => {
      const path = route.match(pathname);
      return path ? [{ route, path }] : [];
    });
    const matched = matches.find((m) => m.route.method === req.method);
    if (!matched) {
      req.resume();
      if (matches.length === 0) send(res, 404, restErrorBody(`Not Found: no route ${pathname}; see ${OPENAPI_PATH}.`, NOT_FOUND));
      else send(res, 405, restErrorBody(`Method Not Allowed: ${pathname} takes ${matches.map((m) => m.route.method).join(', ')}.`, 'BAD_USER_INPUT'), { allow: matches.map((m) => m.route.method).join(', ') });
      return true;
    }
    void serve(req, res, matched.route, matched.path, search).catch((error: unknown) => {
      logger.error({ err: error, route: matched.route.name }, 'REST request failed outside execution');
      if (!res.headersSent) send(res, 500, restErrorBody('Internal error.', 'INTERNAL'));
      else res.end();
    });
    return true;
  };

  async function serve(req: IncomingMessage, res: ServerResponse, route: RestRoute, path: Record<string, string>, search: string): Promise<void> {
    let body: Record<string, unknown> | undefined;
    if (route.method === 'POST') {
      let raw: string;
      try {
        raw = await readBody(req, maxBodyBytes);
      } catch (error) {
        send(res, (error as { status?: number }).status ?? 400, restErrorBody((error as Error).message, 'BAD_USER_INPUT'), { connection: 'close' });
        return;
      }
      const parsed = parseJson(raw);
      if (parsed === undefined || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        send(res, 400, restErrorBody('The request body must be a JSON object.', 'BAD_USER_INPUT', { loc: ['body'] }));
        return;
      }
      body = parsed as Record<string, unknown>;
    }
    let variables: Record<string, unknown>;
    try {
      variables = variablesOf(route, { path, query: new URLSearchParams(search), headers: req.headers, body });
    } catch (error) {
      if (!(error instanceof ParameterError)) throw error;
      send(res, 400, restErrorBody(error.message, 'BAD_USER_INPUT', { loc: error.loc }));
      return;
    }
    const operation = { operationName: route.operationName, query: route.document, variables };
    const reply = new BufferedReply();
    await graphql.serveOperation(req, reply, {
      method: 'POST',
      search: '',
      payload: JSON.stringify(operation),
      body: operation,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      trusted: true,
    });
    const headers: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const value = reply.headers[name];
      if (value !== undefined) headers[name] = String(value);
    }
    const answer = restAnswer(route, path, reply.text());
    if (answer.status === 401) headers['www-authenticate'] ??= options.challenge;
    send(res, answer.status, answer.body, headers);
  }
}

/** The REST status and body of the pipeline's GraphQL answer. */
function restAnswer(route: RestRoute, path: Readonly<Record<string, string>>, text: string): { status: number; body: string } {
  const parsed = parseJson(text) as { data?: unknown; errors?: { message?: string; path?: (string | number)[]; extensions?: { code?: unknown } }[] } | undefined;
  if (!parsed || typeof parsed !== 'object') return { status: 500, body: restErrorBody('Internal error.', 'INTERNAL') };
  const errors = parsed.errors ?? [];
  const [first] = errors;
  if (first) {
    // Any error fails the answer: a REST body has no place for partial data.
    const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL';
    const listed = errors.length > 1
      ? { errors: errors.map((e) => ({ message: inParameterTerms(e.message ?? '', route), code: String(e.extensions?.code ?? 'INTERNAL'), ...(e.path ? { path: e.path } : {}) })) }
      : {};
    return { status: httpStatusOf(code), body: restErrorBody(inParameterTerms(first.message ?? 'Internal error.', route), code, listed) };
  }
  const value = selectBody(restValue(parsed.data ?? null, route.data), route.body);
  if ((value === null || value === undefined) && route.notFound !== undefined) {
    const detail = route.notFound.replace(/\{([^}]+)\}/g, (whole, name: string) => path[name] !== undefined ? decodeURIComponent(path[name]) : whole);
    return { status: 404, body: restErrorBody(detail, NOT_FOUND) };
  }
  return { status: route.status, body: JSON.stringify(value ?? null) };
}

/** Collects what the pipeline writes, for {@link restAnswer} to reshape. */
class BufferedReply implements HttpReply {
  headersSent = false;
  status = 200;
  readonly headers: Record<string, string | number> = {};
  private readonly chunks: Buffer[] = [];

  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }

  writeHead(status: number, headers: Record<string, string | number> = {}): void {
    this.status = status;
    for (const [name, value] of Object.entries(headers)) this.headers[name.toLowerCase()] = value;
    this.headersSent = true;
  }

  write(chunk: string | Uint8Array): void {
    this.chunks.push(Buffer.from(chunk));
  }

  end(body?: string | Uint8Array): void {
    if (body !== undefined) this.write(body);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, length = Buffer.byteLength(body)): void {
  res.writeHead(status, { ...headers, 'content-type': JSON_TYPE, 'content-length': String(length) });
  res.end(body);
}
