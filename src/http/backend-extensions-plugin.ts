import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../context.ts';

/**
 * Adds `extensions.backends` to every response: per role, which adapter answered, how many calls
 * this operation made and how long they took — what an analyst needs to see why a query is slow.
 * A response served from the response cache carries the figures of the execution that produced it
 * (the `x-cache: HIT` header says no backend was called).
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
