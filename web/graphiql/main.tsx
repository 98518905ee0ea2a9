/**
 * GraphiQL page served by the gateway at its GraphQL endpoint (see src/http/graphiql.ts).
 * Everything it needs, Monaco and its workers included, is bundled by scripts/build-graphiql.ts,
 * so the page works with no internet access.
 */
import './workers.ts';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { chartPlugin } from './chart-panel.tsx';
import { endpointUrls } from './endpoint.ts';
import { defaultScalarArgValue } from './explorer-defaults.ts';

const DEFAULT_QUERY = `# Ctrl-Enter runs the query, Ctrl-Space completes fields.
{
  tours(first: 5) {
    edges {
      node {
        id
        name
        region
        price
      }
    }
  }
}
`;

const { http, ws } = endpointUrls(document, location);

const fetcher = createGraphiQLFetcher({
  url: http,
  // Each subscription gets its own graphql-ws client, connected on subscribe and closed when the
  // subscription ends, whose `connection_init` payload is the Headers tab: credentials set there
  // (`{"Authorization": "Bearer …"}` or `{"x-api-key": "…"}`) authenticate subscriptions as they do
  // HTTP requests, since a browser cannot set headers on a WebSocket.
  subscriptionUrl: ws,
  // The multipart fetcher asks for `multipart/mixed` without Apollo's `deferSpec`, which
  // Apollo Server cannot answer incrementally anyway; plain JSON keeps errors readable.
  enableIncrementalDelivery: false,
});

// Point and click through the schema (the explorer), then see the result drawn (the chart panel).
// Created once: GraphiQL tells plugins apart by identity.
const plugins = [explorerPlugin({ getDefaultScalarArgValue: defaultScalarArgValue }), chartPlugin];

const root = document.getElementById('graphiql');
if (!root) throw new Error('GraphiQL page: element #graphiql is missing from index.html');

createRoot(root).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} plugins={plugins} />
  </StrictMode>,
);
