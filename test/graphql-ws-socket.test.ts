import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { serveGraphQLWsConnections, type GraphQLWsConnectionOptions, type WsConnectionExtra } from '../src/http/graphql-ws-socket.ts';
import { createLogger } from '../src/logger.ts';

const schema = buildSchema('type Query { hello: String } type Subscription { ticks: Int }');
const roots = { query: { hello: () => 'world' } };

interface Started {
  url: string;
  logLines: Record<string, unknown>[];
  /** What the hooks saw of `ctx.extra`. */
  seen: { atConnect?: IncomingMessage | undefined; atSubscribe?: IncomingMessage | undefined; remoteAddress?: string | undefined };
  stop(): Promise<void>;
}

const running: Started[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((started) => started.stop()));
});

async function start(options: Omit<GraphQLWsConnectionOptions, 'logger'> = {}, hooks: { failSubscribe?: boolean } = {}): Promise<Started> {
  const server: Server = createServer();
  const wsServer = new WebSocketServer({ server, path: '/graphql' });
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const seen: Started['seen'] = {};
  const cleanup = serveGraphQLWsConnections<Record<string, unknown>>(
    wsServer,
    {
      schema,
      roots,
      onConnect: (ctx) => {
        const extra: WsConnectionExtra = ctx.extra;
        seen.atConnect = extra.request;
        seen.remoteAddress = extra.transport.remoteAddress;
        return extra.request?.headers['x-allow'] === 'yes';
      },
      onSubscribe: (ctx) => {
        seen.atSubscribe = ctx.extra.request;
        if (hooks.failSubscribe) throw new Error('hook failed');
      },
    },
    { ...options, logger },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const started: Started = {
    url: `ws://127.0.0.1:${port}/graphql`,
    logLines,
    seen,
    async stop() {
      await cleanup.dispose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  running.push(started);
  return started;
}

/** A raw client speaking graphql-transport-ws; `messages` collects what the server sent. */
async function connect(url: string, options: { autoPong?: boolean; headers?: Record<string, string> } = {}) {
  const socket = new WebSocket(url, GRAPHQL_TRANSPORT_WS_PROTOCOL, { autoPong: options.autoPong ?? true, headers: options.headers ?? {} });
  const messages: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    closed,
    send: (message: object) => socket.send(JSON.stringify(message)),
    /** Resolves with the first message (from the start) of `type`. */
    async next(type: string): Promise<Record<string, unknown>> {
      for (;;) {
        const found = messages.find((message) => message['type'] === type);
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

describe('graphql-ws over ws', () => {
  it('runs operations; the upgrade request is seen at connection_init and let go after it', async () => {
    const server = await start();
    const client = await connect(server.url, { headers: { 'x-allow': 'yes' } });
    client.send({ type: 'connection_init' });
    await client.next('connection_ack');
    client.send({ id: '1', type: 'subscribe', payload: { query: '{ hello }' } });
    expect(await client.next('next')).toEqual({ id: '1', type: 'next', payload: { data: { hello: 'world' } } });
    expect(await client.next('complete')).toEqual({ id: '1', type: 'complete' });
    expect(server.seen.atConnect?.headers['x-allow']).toBe('yes');
    expect(server.seen.atSubscribe).toBeUndefined();
    expect(server.seen.remoteAddress).toBe('127.0.0.1');
    client.socket.close();
  });

  it('closes with 4403 when onConnect refuses', async () => {
    const server = await start();
    const client = await connect(server.url);
    client.send({ type: 'connection_init' });
    expect(await client.closed).toEqual({ code: 4403, reason: 'Forbidden' });
  });

  it('closes a connection that sends no connection_init in time with 4408', async () => {
    const server = await start({ connectionInitWaitMs: 50 });
    const client = await connect(server.url);
    expect(await client.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
  });

  it('pings every socket, keeps those that answer and terminates one that does not', async () => {
    const server = await start({ keepAliveMs: 300 });
    const answering = await connect(server.url);
    const silent = await connect(server.url, { autoPong: false });
    let pings = 0;
    const pingedThrice = new Promise<void>((resolve) => answering.socket.on('ping', () => (++pings === 3 ? resolve() : undefined)));
    // Terminated, not closed: the client sees the TCP connection end without a close frame.
    expect((await silent.closed).code).toBe(1006);
    await pingedThrice;
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    answering.socket.close();
  });

  it('closes with 4500 and logs the error when a hook throws', async () => {
    const server = await start({}, { failSubscribe: true });
    const client = await connect(server.url, { headers: { 'x-allow': 'yes' } });
    client.send({ type: 'connection_init' });
    await client.next('connection_ack');
    client.send({ id: '1', type: 'subscribe', payload: { query: '{ hello }' } });
    expect(await client.closed).toEqual({ code: 4500, reason: 'Internal server error' });
    expect(server.logLines.some((line) => line['level'] === 50 && JSON.stringify(line['err']).includes('hook failed'))).toBe(true);
  });
});
