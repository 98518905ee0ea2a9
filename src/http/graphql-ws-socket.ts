import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { CloseCode, DEPRECATED_GRAPHQL_WS_PROTOCOL, handleProtocols, makeServer, type ConnectionInitMessage, type ServerOptions, type WebSocket as ProtocolSocket } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';

/**
 * What graphql-ws hooks see as `ctx.extra` on this server: the socket, and the HTTP upgrade
 * request only while the connection is being initialised.
 */
export interface WsConnectionExtra {
  /** The `ws` socket of the connection. */
  readonly socket: WebSocket;
  /**
   * The HTTP upgrade request (its headers may carry credentials) until `connection_init` has been
   * handled; undefined after, so an open connection does not keep the request, its headers and
   * its stream state for hours.
   */
  readonly request: IncomingMessage | undefined;
  /** The TCP socket beneath (its peer address keys rate limits). */
  readonly transport: Socket;
}

/** Sweeps per keep-alive period: a ping goes out at most a twelfth of the period late. */
const HEARTBEAT_SWEEPS = 12;

/** Options of {@link serveGraphQLWsConnections}. */
export interface GraphQLWsConnectionOptions {
  /**
   * Every open socket is pinged this often and terminated when a ping got no pong by the time
   * of the next one. Default 12,000 ms (graphql-ws's own); 0 turns pings off.
   */
  keepAliveMs?: number;
  /** A connection that sends no `connection_init` within this time is closed with 4408. Default 3,000 ms (graphql-ws's own). */
  connectionInitWaitMs?: number;
  logger: Logger;
}

/**
 * graphql-ws over `ws`, in place of graphql-ws's `useServer` (same protocol core, `makeServer`),
 * for what an idle connection costs: `useServer` gives every socket its own keep-alive interval,
 * a spent initialisation timer, an async wrapper suspended for each running subscription, `once`
 * listeners and the upgrade request for the connection's whole life. Here one interval pings
 * every socket, listeners are shared functions, the initialisation timer and the request are
 * released as soon as `connection_init` is handled, and the protocol socket is a small object
 * whose methods live on its prototype. Unexpected errors close the socket with 4500 and a
 * generic reason, and are logged whole.
 */
export function serveGraphQLWsConnections<P extends ConnectionInitMessage['payload']>(
  wsServer: WebSocketServer,
  serverOptions: ServerOptions<P, WsConnectionExtra>,
  options: GraphQLWsConnectionOptions,
): { dispose(): Promise<void> } {
  const { logger } = options;
  const keepAliveMs = options.keepAliveMs ?? 12_000;
  const initWaitMs = options.connectionInitWaitMs ?? 3_000;
  const connections = new Map<WebSocket, Connection>();
  const { onConnect } = serverOptions;
  const server = makeServer<P, WsConnectionExtra>({
    ...serverOptions,
    // Timed here instead, so the timer is let go once the connection is initialised.
    connectionInitWaitTimeout: 0,
    onConnect: async (ctx) => {
      const connection = connections.get(ctx.extra.socket);
      connection?.initialised();
      try {
        return await onConnect?.(ctx);
      } finally {
        connection?.releaseRequest();
      }
    },
  });
  wsServer.options.handleProtocols = handleProtocols;

  wsServer.once('error', (error) => {
    logger.error({ err: error }, 'graphql-ws: the WebSocket server failed; closing every connection');
    for (const socket of wsServer.clients) socket.close(CloseCode.InternalServerError, 'Internal server error');
  });

  function closeOnError(socket: WebSocket, error: unknown, where: string): void {
    logger.error({ err: error }, `graphql-ws: ${where}`);
    socket.close(CloseCode.InternalServerError, 'Internal server error');
  }

  function onSocketError(this: WebSocket, error: Error): void {
    closeOnError(this, error, 'a WebSocket failed');
  }

  function onSocketMessage(this: WebSocket, data: unknown): void {
    const connection = connections.get(this);
    connection?.receive(String(data)).catch((error: unknown) => closeOnError(this, error, 'a message could not be handled'));
  }

  function onSocketPong(this: WebSocket): void {
    const connection = connections.get(this);
    if (connection) connection.awaitingPong = false;
  }

  function onSocketClose(this: WebSocket, code: number, reason: Buffer): void {
    const connection = connections.get(this);
    if (!connection) return;
    connections.delete(this);
    connection.initialised();
    if (code === CloseCode.SubprotocolNotAcceptable && this.protocol === DEPRECATED_GRAPHQL_WS_PROTOCOL) {
      logger.warn('graphql-ws: a client asked for the deprecated subscriptions-transport-ws protocol ("graphql-ws"); it speaks "graphql-transport-ws" only');
    }
    connection.closed?.(code, String(reason)).catch((error: unknown) => logger.error({ err: error }, 'graphql-ws: closing a connection failed'));
  }

  wsServer.on('connection', (socket, request) => {
    const connection = new Connection(socket, request, initWaitMs);
    connections.set(socket, connection);
    socket.on('error', onSocketError);
    socket.on('message', onSocketMessage);
    socket.on('pong', onSocketPong);
    socket.on('close', onSocketClose);
    connection.closed = server.opened(connection, connection);
  });

  // One sweep for every socket, each pinged on its own schedule (keepAliveMs after it opened or
  // was last pinged, as graphql-ws does per socket): pinging ten thousand sockets at the same
  // instant would put their pongs in front of whatever event is being delivered.
  const heartbeat =
    keepAliveMs > 0 && Number.isFinite(keepAliveMs)
      ? setInterval(() => {
          const now = performance.now();
          for (const [socket, connection] of connections) {
            if (socket.readyState !== socket.OPEN || now - connection.pingedAt < keepAliveMs) continue;
            if (connection.awaitingPong) {
              socket.terminate();
              continue;
            }
            connection.awaitingPong = true;
            connection.pingedAt = now;
            socket.ping();
          }
        }, keepAliveMs / HEARTBEAT_SWEEPS)
      : undefined;
  heartbeat?.unref();

  return {
    async dispose() {
      clearInterval(heartbeat);
      for (const socket of wsServer.clients) socket.close(1001, 'Going away');
      wsServer.removeAllListeners();
      await new Promise<void>((resolve, reject) => wsServer.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/**
 * One connection: graphql-ws's view of the socket (`protocol`, `send`, `close`, `onMessage`), the
 * hooks' `ctx.extra`, and the state the server keeps for it, in one object.
 */
class Connection implements ProtocolSocket, WsConnectionExtra {
  readonly protocol: string;
  readonly socket: WebSocket;
  request: IncomingMessage | undefined;
  readonly transport: Socket;
  /** Pinged, and no pong since. */
  awaitingPong = false;
  /** When the connection opened or was last pinged (`performance.now()`). */
  pingedAt = performance.now();
  /** graphql-ws's close handler for the connection. */
  closed: ((code: number, reason: string) => Promise<void>) | undefined = undefined;
  private handler: ((data: string) => Promise<void>) | undefined = undefined;
  private initWait: NodeJS.Timeout | undefined;

  constructor(socket: WebSocket, request: IncomingMessage, initWaitMs: number) {
    this.protocol = socket.protocol;
    this.socket = socket;
    this.request = request;
    this.transport = request.socket;
    this.initWait = initWaitMs > 0 && Number.isFinite(initWaitMs) ? setTimeout(initialisationTimedOut, initWaitMs, this) : undefined;
  }

  send(data: string): Promise<void> {
    const { socket } = this;
    return new Promise((resolve, reject) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      socket.send(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  onMessage(handler: (data: string) => Promise<void>): void {
    this.handler = handler;
  }

  receive(data: string): Promise<void> {
    return this.handler ? this.handler(data) : Promise.resolve();
  }

  /** `connection_init` arrived (or the socket closed): no initialisation timeout any more. */
  initialised(): void {
    clearTimeout(this.initWait);
    this.initWait = undefined;
  }

  releaseRequest(): void {
    this.request = undefined;
  }

  timedOut(): void {
    this.initWait = undefined;
    this.socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
  }
}

function initialisationTimedOut(connection: Connection): void {
  connection.timedOut();
}
