import type { Server } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import type { GatewayServices } from '../context.ts';
import type { Logger } from '../logger.ts';
import { WsObserver } from '../observability/metrics-ws.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { createRequestContext } from '../request-context.ts';
import { AuthenticationError, AuthenticationUnavailableError, connectionCredentials, type Authenticator } from '../security/authenticator.ts';
import type { Principal } from '../security/principal.ts';
import type { CorsPolicy } from './cors.ts';
import { serveGraphQLWsConnections } from './graphql-ws-socket.ts';
import { GRAPHQL_PATH } from './paths.ts';
import type { SubscriptionPipeline } from './subscription-pipeline.ts';

/** What the graphql-ws endpoint needs from the gateway. */
export interface GraphQLWsOptions {
  /** The HTTP server whose upgrades at the GraphQL path become graphql-ws connections. */
  server: Server;
  schema: GraphQLSchema;
  services: GatewayServices;
  authenticator: Authenticator;
  /** Admission, limits, shared execution and error formatting, shared with the SSE transport. */
  pipeline: SubscriptionPipeline;
  /** Upgrades from a browser page of a disallowed origin are refused (403). */
  cors: CorsPolicy;
  metrics: GatewayMetrics | undefined;
  logger: Logger;
}

/**
 * graphql-ws on the GraphQL path: upgrades from pages of disallowed origins refused (HTTP 403),
 * credentials on `connection_init` (closed 4401 when refused or expired), admission (rate limit,
 * allow-list, subscription caps), parse/validation/query limits before any stream starts, and
 * identical live operations of one answer scope executed once and shared. Resolves nothing:
 * `dispose()` closes every connection.
 */
export function serveGraphQLWs(options: GraphQLWsOptions): { dispose(): void | Promise<void> } {
  const { server, schema, services, authenticator, pipeline, cors, metrics, logger } = options;
  const wsServer = new WebSocketServer({
    server,
    path: GRAPHQL_PATH,
    maxPayload: services.config.maxBodyBytes,
    // Browsers always send Origin on a WebSocket handshake and apply no CORS to it: the origin rule is ours to enforce.
    verifyClient: (info, done) => (cors.admitsChannel(info.req) ? done(true) : done(false, 403, 'Origin not allowed (CORS_ORIGINS)')),
  });
  const wsObserver = new WsObserver({ metrics, logger });
  wsObserver.watch(wsServer);
  const connectionPrincipals = new WeakMap<object, Principal>();
  const cleanup = serveGraphQLWsConnections<Record<string, unknown>>(
    wsServer,
    {
      schema,
      // graphql-ws `connection_init`: credentials are checked once per connection.
      onConnect: async (ctx) => {
        // The upgrade request is there until this hook returns (then let go); its headers may carry credentials.
        const { socket, request, transport } = ctx.extra;
        try {
          const authenticated = authenticator.authenticate(connectionCredentials(ctx.connectionParams, request?.headers ?? {}), transport.remoteAddress);
          const principal = authenticated instanceof Promise ? await authenticated : authenticated;
          connectionPrincipals.set(ctx, principal);
          // A connection lives no longer than its credential (setTimeout holds at most ~24.8 days).
          const left = principal.expiresAt === undefined ? undefined : principal.expiresAt - Date.now();
          if (left !== undefined && left < 2 ** 31) {
            const expiry = setTimeout(() => socket.close(4401, 'Unauthorized: the credential expired'), Math.max(0, left));
            expiry.unref();
            socket.once('close', () => clearTimeout(expiry));
          }
          return true;
        } catch (error) {
          // Closed here with the precise code; graphql-ws's own 4403 that follows is a no-op.
          if (error instanceof AuthenticationError) socket.close(4401, closeReason(`Unauthorized: ${error.message}`));
          else if (error instanceof AuthenticationUnavailableError) socket.close(1013, 'Try again later: credentials cannot be verified now');
          else throw error;
          return false;
        }
      },
      context: (ctx) => createRequestContext(services, undefined, connectionPrincipals.get(ctx)),
      // Parse, validation and query limits; errors are sent as an `error` message, no stream starts.
      onSubscribe: async (ctx, id, payload) => {
        const principal = connectionPrincipals.get(ctx);
        // Rate limit, allow-list and subscription caps first; a slot taken here is freed by onError/onComplete/onClose.
        const refused = await pipeline.admit(ctx, id, payload, principal, { socket: ctx.extra.transport });
        if (refused) return [refused];
        const prepared = pipeline.prepare(payload, principal);
        return Array.isArray(prepared) ? [...prepared] : prepared;
      },
      execute: (args) => pipeline.execute(args),
      subscribe: (args) => pipeline.subscribe(args),
      onNext: (_ctx, _id, _payload, args, result) => pipeline.outgoing(args, result),
      onError: (ctx, id, _payload, errors) => {
        pipeline.release(ctx, id);
        return wsObserver.errorsSent(pipeline.format(errors, connectionPrincipals.get(ctx)));
      },
      // Running subscriptions and ws operations, for metrics and the log.
      onOperation: (ctx, id, _payload, args, result) => wsObserver.operationStarted(ctx, id, args, result),
      onComplete: (ctx, id) => {
        pipeline.release(ctx, id);
        wsObserver.operationEnded(ctx, id);
      },
      onClose: (ctx) => {
        pipeline.releaseAll(ctx);
        wsObserver.connectionClosed(ctx);
      },
    },
    { logger },
  );
  return cleanup;
}

/** A WebSocket close reason within the protocol's 123 bytes. */
function closeReason(text: string): string {
  return Buffer.byteLength(text) <= 123 ? text : `${Buffer.from(text).subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '')}...`;
}
