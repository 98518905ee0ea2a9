/**
 * The fan-out floor: a bare `ws` server speaking just enough of the graphql-ws protocol for the
 * fan-out client (connection_init → connection_ack, subscribe → remember the id, complete →
 * forget it), and a `POST /graphql` that takes the `ingestEvent` the client sends and broadcasts
 * it as a `next` message to every subscription. The event is serialised once; each socket gets
 * that text with its subscription id spliced in. No schema, no execution, no bus, no durable
 * write: what any Node WebSocket server pays to put N copies of one message on N sockets.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** Subscription ids per socket (a client may subscribe more than once). */
const subscriptions = new Map<WebSocket, Set<string>>();
let offset = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let payload: unknown = null;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables?: { input?: { payload?: unknown } } };
      payload = body.variables?.input?.payload ?? null;
    } catch {
      res.writeHead(400).end();
      return;
    }
    offset += 1;
    const event = JSON.stringify({ data: { eventIngested: { id: `floor-${offset}`, eventType: 'BOOKING', offset: String(offset), payload } } });
    const tail = `","type":"next","payload":${event}}`;
    for (const [socket, ids] of subscriptions) for (const id of ids) socket.send(`{"id":${JSON.stringify(id).slice(0, -1)}${tail}`);
    const answer = `{"data":{"ingestEvent":{"offset":"${offset}"}}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  });
});

// A broadcast to ten thousand sockets can outlast Node's 5 s keep-alive: the client's next
// request would meet a connection the server just closed.
server.keepAliveTimeout = 65_000;

const wss = new WebSocketServer({ server, path: '/graphql', handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false) });
wss.on('connection', (socket) => {
  socket.on('message', (data) => {
    let message: { type?: string; id?: string };
    try {
      message = JSON.parse(String(data)) as { type?: string; id?: string };
    } catch {
      socket.close(4400, 'Invalid message');
      return;
    }
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (message.type === 'ping') socket.send('{"type":"pong"}');
    else if (message.type === 'subscribe' && typeof message.id === 'string') {
      const ids = subscriptions.get(socket) ?? new Set<string>();
      ids.add(message.id);
      subscriptions.set(socket, ids);
    } else if (message.type === 'complete' && typeof message.id === 'string') subscriptions.get(socket)?.delete(message.id);
  });
  socket.on('close', () => subscriptions.delete(socket));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ benchReady: true, url: `http://127.0.0.1:${port}` })}\n`);
});
process.once('SIGTERM', () => {
  for (const socket of wss.clients) socket.terminate();
  wss.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
