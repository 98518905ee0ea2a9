import type { IncomingMessage, ServerResponse } from 'node:http';

/** Time a client may keep sending an oversized body after its 413, in ms, before the connection is closed. */
export const LINGER_MS = 5_000;
/** Bytes of an oversized body read and discarded after its 413, at most, before the connection is closed. */
export const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Answers 413 to a body over the limit and keeps reading (discarding) what the client still sends,
 * as reverse proxies do (nginx's lingering close): closing the socket while the client is sending
 * makes the kernel reset the connection, and a client that gets the reset before it has read the
 * answer sees `fetch failed` instead of the 413. Once the body is complete the connection is
 * reusable; past `LINGER_MS` or `LINGER_BYTES` it is closed.
 */
export function refuseOversizedBody(req: IncomingMessage, res: ServerResponse, body: string): void {
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  if (req.complete) return;
  req.resume();
  const socket = req.socket;
  const before = socket.bytesRead;
  const giveUp = () => {
    stopWatching();
    socket.destroy();
  };
  const timer = setTimeout(giveUp, LINGER_MS);
  timer.unref();
  const onData = () => {
    if (socket.bytesRead - before > LINGER_BYTES) giveUp();
  };
  const stopWatching = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    req.off('end', stopWatching);
    socket.off('close', stopWatching);
  };
  socket.on('data', onData);
  req.once('end', stopWatching);
  socket.once('close', stopWatching);
}
