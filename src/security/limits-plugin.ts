import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import type { QueryCostMeter } from './query-cost.ts';

/**
 * Refuses an operation whose estimated cost is over the limit, after validation and before
 * execution. The cost depends on the variables (`first: $n`), so it cannot be a validation rule
 * (Apollo caches validation per document text). Answers HTTP 400 like the other limits, which
 * are validation errors; Apollo's default for an error thrown here would be 500.
 */
export function queryCostPlugin<TContext extends BaseContext>(meter: QueryCostMeter): ApolloServerPlugin<TContext> {
  const listener: GraphQLRequestListener<TContext> = {
    async didResolveOperation({ document, operationName, request, response }) {
      const refusal = meter.check(document, operationName ?? undefined, request.variables);
      if (refusal) {
        response.http.status = 400;
        throw refusal;
      }
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
