import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { GRAPHQL_PATH } from './paths.ts';

/**
 * Refuses a subscription sent as plain GraphQL over HTTP (asking for one JSON answer) with 406 Not
 * Acceptable and a message naming the transports that serve subscriptions. 406 because the
 * operation is fine and only the answer's form is not: a subscription is a stream, and the request
 * accepts no stream this gateway produces (RFC 9110 §15.5.7). Requests asking for
 * `text/event-stream` or Apollo's `multipart/mixed;subscriptionSpec=1.0` never reach Apollo: the
 * streaming transport (./graphql-sse.ts) serves them.
 */
export function subscriptionTransportsPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request }) {
          if (operation?.operation !== 'subscription') return;
          const host = request.http?.headers.get('host') ?? 'localhost';
          const forwarded = request.http?.headers.get('x-forwarded-proto');
          const secure = forwarded === 'https';
          const ws = `${secure ? 'wss' : 'ws'}://${host}${GRAPHQL_PATH}`;
          const sse = `${secure ? 'https' : 'http'}://${host}${GRAPHQL_PATH}`;
          throw new GraphQLError(
            `Subscriptions are not answered over plain GraphQL over HTTP. Subscribe over graphql-ws at ${ws} (subprotocol graphql-transport-ws) ` +
              `or over HTTP at ${sse}: Server-Sent Events with "Accept: text/event-stream" (the graphql-sse protocol) ` +
              `or Apollo's multipart subscriptions with "Accept: multipart/mixed;subscriptionSpec=1.0".`,
            {
              extensions: {
                code: 'BAD_USER_INPUT',
                transports: [
                  { protocol: 'graphql-transport-ws', url: ws },
                  { protocol: 'graphql-sse', url: sse, accept: 'text/event-stream' },
                  { protocol: 'multipart-subscriptions', url: sse, accept: 'multipart/mixed;subscriptionSpec=1.0' },
                ],
                http: { status: 406 },
              },
            },
          );
        },
      };
    },
  };
}
