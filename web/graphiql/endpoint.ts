/** Where the page sends operations: queries and mutations over HTTP, subscriptions over graphql-ws. */
export interface EndpointUrls {
  http: string;
  ws: string;
}

/** Used when the page is opened without the server-injected meta tag (e.g. from the file system). */
const FALLBACK_ENDPOINT = '/graphql';

/**
 * Reads the endpoint path the server put in `<meta name="graphql-endpoint">` and resolves it
 * against the page location; the WebSocket URL keeps host and path and swaps the scheme
 * (`https:` → `wss:`), since the gateway serves graphql-ws on the same port and path.
 */
export function endpointUrls(doc: Document, location: Location): EndpointUrls {
  const path =
    doc.querySelector('meta[name="graphql-endpoint"]')?.getAttribute('content') || FALLBACK_ENDPOINT;
  const http = new URL(path, location.href);
  const ws = new URL(http);
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  return { http: http.href, ws: ws.href };
}
