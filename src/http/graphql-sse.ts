/**
 * GraphQL over Server-Sent Events on the GraphQL path, in the graphql-sse protocol's "distinct
 * connections mode" (https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md): a GET or
 * POST with `Accept: text/event-stream` carries one operation and its answer streams back as
 * `next` events, then `complete`. It passes proxies that block WebSockets.
 *
 * Framed here rather than by graphql-sse's handler, which cannot write an event's `id:`: the
 * results of `eventIngested` carry their bus position as the id, so a reconnecting `EventSource`
 * sends it back as `Last-Event-ID` and resumes there (it becomes `fromOffset`). The protocol's
 * "single connection mode" (PUT-reserved streams addressed by token) is not offered: its
 * reservations outlive requests and are addressed by a bearer token of their own.
 *
 * Apollo Client's multipart subscriptions (`Accept: multipart/mixed;subscriptionSpec=1.0`) are
 * served by the same handler, framed as multipart parts instead of events (./stream-framing.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { resumedAt, positionOf } from '../../subscriptions/resume.ts';
import type { GatewayServices } from '../context.ts';
import type { Logger } from '../logger.ts';
import { createRequestContext } from '../request-context.ts';
import { httpCredentials, type Authenticator } from '../security/authenticator.ts';
import type { Principal } from '../security/principal.ts';
import { refuseChannel, type CorsPolicy } from './cors.ts';
import { answerCredentialFailure, errorBody, headerValue, readBody } from './graphql-http.ts';
import { exemptFromIdleTimeout } from './server-timeouts.ts';
import { framingFor, openResultStream, SSE_FRAMING, type StreamFraming } from './stream-framing.ts';
import type { LiveRequest, SubscriptionPipeline } from './subscription-pipeline.ts';

/** Options of the SSE transport. */
export interface GraphQLSseOptions {
  services: GatewayServices;
  authenticator: Authenticator;
  /** Admission, limits, shared execution and error formatting, shared with graphql-ws. */
  pipeline: SubscriptionPipeline;
  /** Streams opened by a page of a disallowed origin are refused (403), as graphql-ws upgrades are. */
  cors: CorsPolicy;
  logger: Logger;
  /** Largest POST body, in bytes. Default 1 MiB; larger bodies get 413. */
  maxBodyBytes?: number;
}

/** The SSE transport: `wants` says whether a request is for it, `handle` serves it. */
export interface GraphQLSseHandler {
  /** A request that asks for a stream (`Accept: text/event-stream`, or Apollo's `multipart/mixed;subscriptionSpec=1.0`). */
  wants(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse, search: string): void;
  /** Completes every open stream (shutdown). */
  dispose(): void;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** What a `Last-Event-ID` may be: a bus position as this gateway writes them. */
const POSITION_FORMAT = /^[\w.:/-]{1,200}$/;
/** The one operation of a distinct connection, as named in admission slots. */
const OPERATION_ID = '';

/** Creates the SSE transport. */
export function createGraphQLSseHandler(options: GraphQLSseOptions): GraphQLSseHandler {
  const { services, authenticator, pipeline, cors, logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const open = new Set<() => void>();
  const refused = (code: string): void => services.metrics?.refused(code);

  /** Writes a pre-stream refusal as JSON. */
  function answer(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': JSON_TYPE, ...headers });
    res.end(errorBody(message, 'BAD_USER_INPUT'));
    refused('BAD_USER_INPUT');
  }

  async function serve(req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    if (!cors.admitsChannel(req)) {
      refused('FORBIDDEN');
      return refuseChannel(res, req.headers.origin);
    }
    const framing = framingFor(req.headers) ?? SSE_FRAMING;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') {
      return answer(res, 405, `Event streams are opened with GET or POST (graphql-sse distinct connections); got ${method}.`, { allow: 'GET, POST' });
    }
    const request = method === 'GET' ? requestFromSearch(search) : await requestFromBody(req, maxBodyBytes);
    if (typeof request === 'string') return answer(res, 400, request);
    if ('status' in request) return answer(res, request.status, request.message, { connection: 'close' });
    const lastEventId = headerText(req.headers['last-event-id']);
    if (lastEventId !== undefined && !POSITION_FORMAT.test(lastEventId)) {
      return answer(res, 400, `Last-Event-ID must be an event id this gateway sent (an Event.offset); got "${lastEventId.slice(0, 80)}".`);
    }

    let principal: Principal;
    try {
      const authenticated = authenticator.authenticate(httpCredentials(req.headers), req.socket.remoteAddress);
      principal = authenticated instanceof Promise ? await authenticated : authenticated;
    } catch (error) {
      refused(answerCredentialFailure(res, error, logger));
      return;
    }

    // The response is the operation's connection: its admission slot lives as long as it does.
    const admitted = await pipeline.admit(res, OPERATION_ID, request, principal, req);
    if (admitted) return streamRefusal(res, framing, [admitted], principal);
    const prepared = pipeline.prepare(request, principal);
    if (Array.isArray(prepared)) {
      pipeline.release(res, OPERATION_ID);
      return streamRefusal(res, framing, prepared, principal);
    }
    const operation = getOperationAST((prepared as ExecutionArgs).document, (prepared as ExecutionArgs).operationName)?.operation;
    if (operation === 'mutation' && method === 'GET') {
      pipeline.release(res, OPERATION_ID);
      return answer(res, 405, 'Mutations are sent with POST, not GET.', { allow: 'POST' });
    }
    const base = prepared as ExecutionArgs;
    const args: ExecutionArgs = {
      ...base,
      document: lastEventId === undefined ? base.document : resumedAt(base.document, lastEventId),
      contextValue: createRequestContext(services, headerValue(req.headers['x-request-id']), principal),
    };
    await stream(res, framing, args, operation === 'subscription', principal);
  }

  /**
   * Streams the operation's results. GraphQL errors found before execution were streamed by
   * {@link streamRefusal} instead: the protocol reports them as events, so a client does not
   * take them for a network failure and retry.
   */
  async function stream(res: ServerResponse, framing: StreamFraming, args: ExecutionArgs, subscription: boolean, principal: Principal): Promise<void> {
    const events = openResultStream(res, framing);
    // The stream may outlast the idle timeout between results; its keep-alives guard proxies.
    exemptFromIdleTimeout(res.socket);
    let source: AsyncIterableIterator<ExecutionResult> | undefined;
    let ended = false;
    const end = (final?: readonly GraphQLError[]) => {
      if (ended) return;
      ended = true;
      open.delete(end);
      clearTimeout(expiry);
      pipeline.release(res, OPERATION_ID);
      void source?.return?.();
      if (final) void events.next({ errors: pipeline.format(final, principal) }, undefined);
      events.complete();
    };
    open.add(end);
    res.once('close', () => end());
    // A stream lives no longer than its credential (setTimeout holds at most ~24.8 days).
    const left = principal.expiresAt === undefined ? undefined : principal.expiresAt - Date.now();
    const expiry = left !== undefined && left < 2 ** 31 ? setTimeout(() => end([credentialExpired()]), Math.max(0, left)) : undefined;
    expiry?.unref();
    try {
      const result = subscription ? await pipeline.subscribe(args) : await pipeline.execute(args);
      if (!(Symbol.asyncIterator in result)) {
        void events.next(pipeline.outgoing(args, result), undefined);
        return end();
      }
      source = result;
      if (ended) return void source.return?.();
      for (;;) {
        const step = await source.next();
        if (step.done || ended) break;
        const result = pipeline.outgoing(args, step.value);
        await events.next(result, positionOf(result));
      }
      end();
    } catch (error) {
      // A slow consumer's cut-off, a failed replay: the client is told why, then the stream completes.
      end([asGraphQLError(error)]);
    }
  }

  /** Opens the event stream with the refusal as its one result. */
  function streamRefusal(res: ServerResponse, framing: StreamFraming, errors: readonly GraphQLError[], principal: Principal): void {
    const code = errors[0]?.extensions['code'];
    if (typeof code === 'string') refused(code);
    const events = openResultStream(res, framing);
    void events.next({ errors: pipeline.format(errors, principal) }, undefined);
    events.complete();
  }

  return {
    wants: (req) => framingFor(req.headers) !== undefined,
    handle(req, res, search) {
      serve(req, res, search).catch((error: unknown) => {
        logger.error({ err: error }, 'event stream failed outside execution');
        refused('INTERNAL');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': JSON_TYPE });
          res.end(errorBody('Internal error.', 'INTERNAL'));
        } else res.end();
      });
    },
    dispose() {
      for (const end of [...open]) end();
    },
  };
}

/** The operation of a GET's query string (`query`, `operationName`, `variables` and `extensions` as JSON), or why not. */
function requestFromSearch(search: string): LiveRequest | string {
  const params = new URLSearchParams(search);
  const query = params.get('query');
  if (query === null || query === '') return 'The query string has no "query" parameter: send ?query=<GraphQL document>.';
  const variables = jsonObject(params.get('variables'), 'variables');
  if (typeof variables === 'string') return variables;
  const extensions = jsonObject(params.get('extensions'), 'extensions');
  if (typeof extensions === 'string') return extensions;
  return { query, operationName: params.get('operationName'), variables, extensions };
}

/** The operation of a POST's JSON body, or why not (with an HTTP status for an oversized body). */
async function requestFromBody(req: IncomingMessage, limit: number): Promise<LiveRequest | string | { status: number; message: string }> {
  if (!(req.headers['content-type'] ?? '').includes('json')) {
    req.resume();
    return `An event stream is opened by POSTing a JSON body (content-type: application/json); got ${req.headers['content-type'] ?? 'no content-type'}.`;
  }
  let raw: string;
  try {
    raw = await readBody(req, limit);
  } catch (error) {
    return { status: (error as { status?: number }).status ?? 400, message: (error as Error).message };
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return 'The request body is not valid JSON.';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'The request body must be one JSON object ({"query": …}); batches are not streamed.';
  const { query, operationName, variables, extensions } = body as Record<string, unknown>;
  if (typeof query !== 'string' || query === '') return 'The request body has no "query": send {"query": "<GraphQL document>"}.';
  if (operationName != null && typeof operationName !== 'string') return '"operationName" must be a string.';
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return '"variables" must be a JSON object.';
  return { query, operationName: operationName ?? null, variables: (variables ?? null) as Record<string, unknown> | null, extensions };
}

function jsonObject(text: string | null, name: string): Record<string, unknown> | null | string {
  if (text === null || text === '') return null;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  return `The "${name}" parameter must be a JSON object.`;
}

function headerText(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function credentialExpired(): GraphQLError {
  return new GraphQLError('The credential expired: open a new stream with a fresh one.', { extensions: { code: 'UNAUTHENTICATED' } });
}

/** A failure of the running stream as a GraphQL error (unexpected ones are masked when formatted). */
function asGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  return new GraphQLError(error instanceof Error ? error.message : String(error), { originalError: error instanceof Error ? error : undefined });
}
