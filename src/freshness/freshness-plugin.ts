import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { GatewayContext } from '../context.ts';
import { answerScope } from '../security/auth-directive.ts';
import { freshnessOf, type FreshnessExtension } from './extension.ts';
import type { GatewayFreshness } from './gateway-freshness.ts';
import { readAfterOf } from './read-after.ts';
import type { WaitOutcome } from './watermark-tracker.ts';

const BACKEND_CODES = new Set(['BACKEND_UNAVAILABLE', 'BACKEND_TIMEOUT']);

/**
 * `extensions.freshness` on every executed answer that read medallion-fed data, read-your-writes
 * and stale-while-error, in one plugin (they share the operation's state):
 *
 * - `@readAfter(position, maxWaitMs)` on a query: waits (bounded) before execution until the
 *   watermark includes the write; says in `freshness.readAfter` whether it does. Such answers are
 *   never cached: they depend on when they were asked.
 * - After execution: per role the resolvers called (the request's call log), the watermark of
 *   the layer it serves.
 * - A cacheable query whose only errors are backend failures is answered from the answer kept
 *   for it, when one is within the grace of the failing roles, marked `stale`; good answers are
 *   kept for that purpose.
 *
 * Place it after the cache-policy plugin (it reads the policy that plugin set at execution start).
 */
export function freshnessPlugin(freshness: GatewayFreshness): ApolloServerPlugin<GatewayContext> {
  const { tracker, stale, readAfterMaxWaitMs } = freshness;
  return {
    async requestDidStart() {
      let readAfter: WaitOutcome | undefined;
      let maxAge = 0;
      return {
        async didResolveOperation({ operation, schema, request, response }) {
          if (!operation) return;
          let asked;
          try {
            asked = readAfterOf(schema, operation, request.variables, readAfterMaxWaitMs);
          } catch (error) {
            // A refused argument is the request's fault, not the server's (Apollo's default here is 500).
            response.http.status = 400;
            throw error;
          }
          if (asked) readAfter = await tracker.waitFor(asked.position, asked.maxWaitMs);
        },
        async executionDidStart({ contextValue }) {
          maxAge = contextValue.cachePolicy.maxAge;
        },
        async willSendResponse({ response, contextValue, queryHash, request }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const roles = Object.keys(contextValue.calls.summary());
          const replayable = maxAge > 0 && !readAfter && stale.enabled && queryHash !== undefined;
          const key = replayable ? stale.keyOf(answerScope(contextValue.principal), { queryHash, operationName: request.operationName, variables: request.variables }) : '';
          if (readAfter) contextValue.cachePolicy.maxAge = 0;
          if (result.errors && result.errors.length > 0) {
            const failed = replayable ? failedRoles(result.errors) : undefined;
            const kept = failed ? await stale.recall(key, failed) : undefined;
            if (kept && failed) {
              // Never stored in the response cache: it stands in for a failure, and ages.
              contextValue.cachePolicy.maxAge = 0;
              const now = Date.now();
              const marked: FreshnessExtension = {
                ...kept.freshness,
                stale: true,
                failed,
                cache: { hit: true, storedAt: new Date(kept.storedAt).toISOString(), ageMs: now - kept.storedAt },
              };
              response.body.singleResult = { data: kept.data as Record<string, unknown>, extensions: { ...result.extensions, freshness: marked } };
              return;
            }
          }
          const extension = freshnessOf(roles, tracker);
          if (readAfter) extension.readAfter = readAfter;
          if (Object.keys(extension).length > 0) result.extensions = { ...result.extensions, freshness: extension };
          const now = Date.now();
          if (replayable && !result.errors?.length && result.data && stale.wants(key, now)) {
            stale.keep(key, { data: result.data, freshness: extension, storedAt: now }, roles);
          }
        },
      };
    },
  };
}

/** The roles behind the errors when every error is a backend failure; undefined otherwise. */
function failedRoles(errors: readonly GraphQLFormattedError[]): string[] | undefined {
  const roles = new Set<string>();
  for (const error of errors) {
    const code = error.extensions?.['code'];
    const role = error.extensions?.['backend'];
    if (typeof code !== 'string' || !BACKEND_CODES.has(code) || typeof role !== 'string') return undefined;
    roles.add(role);
  }
  return [...roles];
}
