import type { Server } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createSharedSubscribe } from '../../subscriptions/shared-subscribe.ts';
import type { GatewayContext, GatewayServices } from '../context.ts';
import type { Logger } from '../logger.ts';
import { WsObserver } from '../observability/metrics-ws.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { createRequestContext, renewLoaders } from '../request-context.ts';
import { answerScope } from '../security/auth-directive.ts';
import { AuthenticationError, AuthenticationUnavailableError, connectionCredentials, type Authenticator } from '../security/authenticator.ts';
import { introspectionDenial, withSchemaHintsFor } from '../security/introspection.ts';
import type { QueryLimits } from '../security/limits.ts';
import type { AllowList } from '../security/persisted-queries.ts';
import type { Principal } from '../security/principal.ts';
import type { QueryCostMeter } from '../security/query-cost.ts';
import type { PrincipalRateLimiter } from '../security/rate-limit.ts';
import { createSubscriptionGuard } from '../security/subscription-guard.ts';
import { SubscriptionLimits, createSubscriptionAdmission } from '../security/subscription-limits.ts';
import { GRAPHQL_PATH } from './paths.ts';
import { formatErrorFor } from './format-error.ts';

/** What the graphql-ws endpoint needs from the gateway. */
export interface GraphQLWsOptions {
  /** The HTTP server whose upgrades at the GraphQL path become graphql-ws connections. */
  server: Server;
  schema: GraphQLSchema;
  services: GatewayServices;
  authenticator: Authenticator;
  limits: QueryLimits;
  costMeter: QueryCostMeter;
  /** Absent: subscribes are not rate limited. */
  rateLimiter: PrincipalRateLimiter | undefined;
  /** Absent: any operation may subscribe. */
  allowList: AllowList | undefined;
  metrics: GatewayMetrics | undefined;
  logger: Logger;
}

/**
 * graphql-ws on the GraphQL path: credentials on `connection_init` (closed 4401 when refused or
 * expired), admission (rate limit, allow-list, subscription caps), parse/validation/query limits
 * before any stream starts, and identical live operations of one answer scope executed once and
 * shared. Resolves nothing: `dispose()` closes every connection.
 */
export function serveGraphQLWs(options: GraphQLWsOptions): { dispose(): void | Promise<void> } {
  const { server, schema, services, authenticator, limits, costMeter, rateLimiter, allowList, metrics, logger } = options;
  const wsServer = new WebSocketServer({ server, path: GRAPHQL_PATH, maxPayload: services.config.maxBodyBytes });
  const wsObserver = new WsObserver({ metrics, logger });
  wsObserver.watch(wsServer);
  const guardSubscription = createSubscriptionGuard({ schema, limits, meter: costMeter });
  const admission = createSubscriptionAdmission({
    limits: new SubscriptionLimits({ perConnection: services.config.subscriptionsPerConnection, max: services.config.subscriptionsMax }),
    rateLimiter,
    allowList,
  });
  const shared = createSharedSubscribe({
    personalArguments: ['fromOffset'],
    // Members share one execution (one principal's): only callers with the same answers may join.
    partition: (args) => answerScope((args.contextValue as GatewayContext).principal),
    // A subscription lives long: give its loaders a fresh (empty) cache for every event.
    afterResult: (contextValue) => renewLoaders(contextValue as GatewayContext),
  });
  const connectionPrincipals = new WeakMap<object, Principal>();
  const cleanup = useServer<Record<string, unknown>, Record<string, unknown>>(
    {
      schema,
      // graphql-ws `connection_init`: credentials are checked once per connection.
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra;
        try {
          const authenticated = authenticator.authenticate(connectionCredentials(ctx.connectionParams, request.headers), request.socket.remoteAddress);
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
        const refused = await admission.admit(ctx, id, payload, principal, ctx.extra.request);
        if (refused) return [refused];
        const guarded = guardSubscription(payload);
        const denied = Array.isArray(guarded) || !principal ? undefined : introspectionDenial(guarded.document, principal);
        return denied ? [denied] : guarded;
      },
      subscribe: (args) => shared.subscribe(args),
      onNext: (_ctx, _id, _payload, args, result) => {
        // Personal (replaying) subscriptions execute per subscriber; renew their loaders too.
        if (!shared.isShared(args.contextValue)) renewLoaders(args.contextValue as GatewayContext);
        const principal = (args.contextValue as GatewayContext).principal;
        return result.errors ? { ...result, errors: withSchemaHintsFor(result.errors.map((e) => formatErrorFor(logger, e.toJSON(), e)), principal) } : result;
      },
      onError: (ctx, id, _payload, errors) => {
        admission.release(ctx, id);
        return wsObserver.errorsSent(withSchemaHintsFor(errors.map((e) => formatErrorFor(logger, e.toJSON(), e)), connectionPrincipals.get(ctx)));
      },
      // Running subscriptions and ws operations, for metrics and the log.
      onOperation: (ctx, id, _payload, args, result) => wsObserver.operationStarted(ctx, id, args, result),
      onComplete: (ctx, id) => {
        admission.release(ctx, id);
        wsObserver.operationEnded(ctx, id);
      },
      onClose: (ctx) => {
        admission.releaseAll(ctx);
        wsObserver.connectionClosed(ctx);
      },
    },
    wsServer,
  );
  return cleanup;
}

/** A WebSocket close reason within the protocol's 123 bytes. */
function closeReason(text: string): string {
  return Buffer.byteLength(text) <= 123 ? text : `${Buffer.from(text).subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '')}...`;
}
