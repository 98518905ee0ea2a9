/**
 * Where the pipeline writes its answer: a `ServerResponse`, or a stand-in that reshapes the
 * GraphQL answer before it reaches the wire (the REST routes).
 */
export interface HttpReply {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers?: Record<string, string | number>): unknown;
  write(chunk: string | Uint8Array): unknown;
  end(body?: string | Uint8Array): unknown;
}
