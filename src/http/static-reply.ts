import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Answers a page or asset the gateway serves itself (GraphiQL, the REST docs): exact length,
 * `nosniff`, and no body for HEAD.
 */
export function sendStatic(req: IncomingMessage, res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string>): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'content-length': String(bytes.length), 'x-content-type-options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
