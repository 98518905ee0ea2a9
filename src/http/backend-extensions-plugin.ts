import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../context.ts';

/**
 * Adds `extensions.backends` to every response: per role, which adapter answered, how many calls
 * this operation made and how long they took — what an analyst needs to see why a query is slow.
 * Answers replayed from the response cache carry none (no backend was called; `x-cache: HIT`).
 */
export function backendExtensionsPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const backends = contextValue.calls.summary();
          if (Object.keys(backends).length === 0) return;
          response.body.singleResult.extensions = { ...response.body.singleResult.extensions, backends };
        },
      };
    },
  };
}
