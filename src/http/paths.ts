/** The GraphQL path for HTTP and WebSocket alike. */
export const GRAPHQL_PATH = '/graphql';
