import type { IncomingMessage } from 'node:http';
import type { ExecutionArgs, ExecutionResult, GraphQLError, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { subscribeWithPositions } from '../../subscriptions/resume.ts';
import { createSharedSubscribe } from '../../subscriptions/shared-subscribe.ts';
import type { GatewayContext, GatewayServices } from '../context.ts';
import type { Logger } from '../logger.ts';
import { renewLoaders } from '../request-context.ts';
import { answerScope } from '../security/auth-directive.ts';
import { introspectionDenial, withSchemaHintsFor } from '../security/introspection.ts';
import type { QueryLimits } from '../security/limits.ts';
import type { AllowList } from '../security/persisted-queries.ts';
import type { Principal } from '../security/principal.ts';
import type { QueryCostMeter } from '../security/query-cost.ts';
import type { PrincipalRateLimiter } from '../security/rate-limit.ts';
import { createSubscriptionGuard, type SubscribeRequest } from '../security/subscription-guard.ts';
import { SubscriptionLimits, createSubscriptionAdmission } from '../security/subscription-limits.ts';
import { formatErrorFor } from './format-error.ts';
import { executeWithFreshness } from '../freshness/live-execute.ts';

/** What the subscription pipeline needs from the gateway. */
export interface SubscriptionPipelineOptions {
  schema: GraphQLSchema;
  services: GatewayServices;
  limits: QueryLimits;
  costMeter: QueryCostMeter;
  /** Absent: subscribes are not rate limited. */
  rateLimiter: PrincipalRateLimiter | undefined;
  /** Absent: any operation may subscribe. */
  allowList: AllowList | undefined;
  logger: Logger;
}

/** A subscribe request as both transports receive it (graphql-ws `subscribe` payload, graphql-sse body). */
export type LiveRequest = SubscribeRequest & { readonly extensions?: unknown };

/**
 * What every subscription transport (graphql-ws, GraphQL over SSE) runs, built once per gateway so
 * the caps count all transports together and identical live operations share one execution
 * whichever transport their subscribers use.
 */
export interface SubscriptionPipeline {
  /**
   * Rate limit, allow-list and subscription caps, in that order; on admission operation `id` of
   * `channel` holds a slot until {@link release} / {@link releaseAll}.
   */
  admit(channel: object, id: string, request: LiveRequest, principal: Principal | undefined, httpRequest: Pick<IncomingMessage, 'socket'>): Promise<GraphQLError | undefined>;
  release(channel: object, id: string): void;
  releaseAll(channel: object): void;
  /** Parse, validation, query limits and the introspection rule: the execution arguments (without context), or why not. */
  prepare(request: LiveRequest, principal: Principal | undefined): ExecutionArgs | readonly GraphQLError[];
  /** Executes a query or mutation: `@readAfter` honoured, `extensions.freshness` added (as over HTTP). */
  execute(args: ExecutionArgs): Promise<ExecutionResult>;
  /** Executes a subscription, shared with identical live ones of the same answer scope. */
  subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
  /** A result as it goes out: per-event loaders renewed for a personal execution, errors through the one normalisation point. */
  outgoing(args: ExecutionArgs, result: ExecutionResult): ExecutionResult;
  /** Errors as `principal` sees them: unexpected ones masked and logged, schema hints only for callers who may introspect. */
  format(errors: readonly GraphQLError[], principal: Principal | undefined): GraphQLFormattedError[];
}

/** Builds the pipeline (once per gateway). */
export function createSubscriptionPipeline(options: SubscriptionPipelineOptions): SubscriptionPipeline {
  const { schema, services, limits, costMeter, rateLimiter, allowList, logger } = options;
  const guard = createSubscriptionGuard({ schema, limits, meter: costMeter });
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
    subscribe: subscribeWithPositions,
  });
  const format = (errors: readonly GraphQLError[], principal: Principal | undefined) =>
    withSchemaHintsFor(errors.map((error) => formatErrorFor(logger, error.toJSON(), error)), principal);
  return {
    admit: (channel, id, request, principal, httpRequest) => admission.admit(channel, id, request, principal, httpRequest),
    release: (channel, id) => admission.release(channel, id),
    releaseAll: (channel) => admission.releaseAll(channel),
    prepare(request, principal) {
      const guarded = guard(request);
      if (Array.isArray(guarded)) return guarded;
      const denied = principal ? introspectionDenial((guarded as ExecutionArgs).document, principal) : undefined;
      return denied ? [denied] : (guarded as ExecutionArgs);
    },
    execute: (args) => executeWithFreshness(args, services.freshness),
    subscribe: (args) => shared.subscribe(args),
    outgoing(args, result) {
      // Personal (replaying) subscriptions execute per subscriber; renew their loaders too.
      if (!shared.isShared(args.contextValue)) renewLoaders(args.contextValue as GatewayContext);
      // The spread keeps the result's bus position (a symbol property).
      return result.errors ? ({ ...result, errors: format(result.errors, (args.contextValue as GatewayContext).principal) } as unknown as ExecutionResult) : result;
    },
    format,
  };
}
