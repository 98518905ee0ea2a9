/**
 * GraphQL over HTTP, legacy watershed: a client that gets `application/json` (it does not accept
 * `application/graphql-response+json`, as older clients do not) SHOULD see 200 for every
 * well-formed request, its parse, validation and variable-coercion errors in the body; 4xx stays
 * for `application/graphql-response+json`. https://graphql.github.io/graphql-over-http/draft/#sec-application-json
 *
 * "Well-formed" means Apollo's request pipeline resolved the document's source: malformed
 * requests (no `query`, a `query` that is not a string, bad `variables` JSON) keep their 400.
 */
import type { ApolloServerPlugin, BaseContext, HTTPGraphQLRequest } from '@apollo/server';

// Keyed by the request's header map: the one object the handler and the pipeline both hold
// (Apollo hands plugins a copy of the context, not the handler's).
const answeredByPipeline = new WeakSet<HTTPGraphQLRequest['headers']>();

/** Apollo plugin noting which HTTP requests were well-formed GraphQL requests. */
export function legacyJsonStatusPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        // Past the request's own checks (a query string or a persisted-query hash that resolved).
        async didResolveSource({ request }) {
          if (request.http) answeredByPipeline.add(request.http.headers);
        },
      };
    },
  };
}

/** The status to send: 200 instead of 400 for a GraphQL error answered in `application/json`. */
export function legacyJsonStatus(status: number, contentType: string | undefined, headers: HTTPGraphQLRequest['headers']): number {
  if (status !== 400 || !contentType?.startsWith('application/json')) return status;
  return answeredByPipeline.has(headers) ? 200 : status;
}
