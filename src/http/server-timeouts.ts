/**
 * The HTTP server's connection timeouts. Node's defaults hold a slow client for minutes: headers
 * may take 60 s, a body 300 s, and both are only checked every 30 s
 * (https://nodejs.org/api/http.html#servertimeout), so a client sending one byte a second keeps
 * a connection 5.5 minutes. Here each bound comes from configuration and is checked often enough
 * that a slow client is cut within it plus at most one second.
 *
 * Long-lived answers are exempt from the idle timeout ({@link exemptFromIdleTimeout}): event
 * streams (they may carry nothing between keep-alives for longer than a proxy would wait, and
 * their request is complete, so the request timeout no longer applies), and graphql-ws
 * connections (`ws` clears the socket timeout when it takes over an upgraded socket).
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

/** The four bounds, in ms; 0 turns one off. */
export interface HttpTimeouts {
  /** A request's headers must have arrived this long after its first byte. */
  readonly headersMs: number;
  /** The whole request (headers and body) must have arrived this long after its first byte. */
  readonly requestMs: number;
  /** An idle kept-alive connection is closed after this long. */
  readonly keepAliveMs: number;
  /** A connection with a request in progress and no bytes in either direction this long is destroyed. */
  readonly idleMs: number;
}

/** Longest pause between Node's checks of the headers and request timeouts. */
const MAX_CHECK_INTERVAL_MS = 1_000;

/** The `createServer` options that carry the headers and request timeouts (Node reads them only there). */
export function serverTimeoutOptions(timeouts: HttpTimeouts): ServerOptions {
  const bounds = [timeouts.headersMs, timeouts.requestMs].filter((ms) => ms > 0);
  const shortest = bounds.length > 0 ? Math.min(...bounds) : MAX_CHECK_INTERVAL_MS;
  return {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    // Checked four times per shortest bound, at most a second apart: a cut comes at most that late.
    connectionsCheckingInterval: Math.max(10, Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(shortest / 4))),
  };
}

/** Sets the timeouts that are properties of a created server (keep-alive and idle). */
export function applyServerTimeouts(server: Server, timeouts: HttpTimeouts): void {
  server.keepAliveTimeout = timeouts.keepAliveMs;
  // Without a 'timeout' listener on the server, Node destroys a socket idle this long.
  server.timeout = timeouts.idleMs;
}

/** Lifts the idle timeout from a socket that carries a long-lived answer (an event stream). */
export function exemptFromIdleTimeout(socket: Socket | null): void {
  socket?.setTimeout(0);
}
