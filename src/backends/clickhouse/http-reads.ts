import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** Options of `createClickHouseReads`. */
export interface ClickHouseReadsOptions {
  /** Origin of the HTTP interface, without credentials or path, e.g. `http://localhost:8123`. */
  endpoint: URL;
  username: string;
  password: string;
  /** The reads' current database. */
  database: string;
  /** Most statements in flight at once (keep-alive connections); more wait for a free one. */
  maxSockets: number;
  /**
   * Settings sent with every read (e.g. the JSON output format's). They go into the URL once,
   * ahead of each read's own.
   */
  settings: Readonly<Record<string, unknown>>;
}

/** One read: its SQL (the result format appended), id, settings, bound parameters and abort signal. */
export interface ClickHouseRead {
  /** The statement, ending in its `FORMAT` clause. */
  sql: string;
  queryId: string;
  settings: Readonly<Record<string, unknown>>;
  /** Server-side parameters, sent as `param_<name>`. */
  params?: Readonly<Record<string, string>>;
  /** Aborting it destroys the request; the call rejects with the signal's reason. */
  signal: AbortSignal;
}

/** A failure the server reported: its error code (e.g. `159`, TIMEOUT_EXCEEDED) and its text. */
export class ClickHouseServerError extends Error {
  override name = 'ClickHouseServerError';
  /** ClickHouse's error code, as text (as the server prints it). */
  readonly code: string | undefined;
  /** The answer's HTTP status. */
  readonly status: number;
  constructor(message: string, code: string | undefined, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** Reads over ClickHouse's HTTP interface. */
export interface ClickHouseReads {
  /** POSTs the statement and resolves with the whole answer as text; rejects with `ClickHouseServerError` on a server error. */
  read(read: ClickHouseRead): Promise<string>;
  /** Closes the idle connections; requests still in flight finish (or are aborted by their callers). */
  close(): void;
}

/** Idle keep-alive connections are closed after this long, or 1 s before the server's `Keep-Alive: timeout` if sooner. */
const IDLE_SOCKET_MS = 2_500;
/** Error text kept from a failed answer. */
const MAX_ERROR_CHARS = 10_000;

/**
 * The analytics reads' transport: one POST per statement on a keep-alive connection of its own
 * pool, the answer collected as text. Reads are the gateway's hot path (one per analytics field of
 * an uncached request) and their answers are small aggregates, so they skip the general client's
 * per-request work (a timer tick before each request, a body stream piped through a pipeline with
 * its own abort controller, socket bookkeeping) that cost as much CPU as the rest of the request.
 * A read sent on a kept-alive connection the server had just closed is sent once more on a new
 * one: it never reached the server, and reads have no side effects.
 */
export function createClickHouseReads(options: ClickHouseReadsOptions): ClickHouseReads {
  const secure = options.endpoint.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const base = new URLSearchParams({ database: options.database });
  for (const [name, value] of Object.entries(options.settings)) if (value !== undefined) base.set(name, String(value));
  const prefix = `${options.endpoint.pathname.replace(/\/+$/, '')}/?${base.toString()}`;
  const authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  const target: RequestOptions = {
    agent,
    protocol: options.endpoint.protocol,
    hostname: options.endpoint.hostname.replace(/^\[|\]$/g, ''),
    port: options.endpoint.port || (secure ? 443 : 80),
    method: 'POST',
  };

  function pathOf(read: ClickHouseRead): string {
    const search = new URLSearchParams({ query_id: read.queryId });
    for (const [name, value] of Object.entries(read.settings)) if (value !== undefined) search.set(name, String(value));
    for (const [name, value] of Object.entries(read.params ?? {})) search.set(`param_${name}`, value);
    return `${prefix}&${search.toString()}`;
  }

  function attempt(read: ClickHouseRead, path: string, body: Buffer, retried: boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const request = send({ ...target, path, headers: { authorization, 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length } });
      let answered = false;
      const onAbort = (): void => {
        request.destroy();
        reject(read.signal.reason);
      };
      read.signal.addEventListener('abort', onAbort, { once: true });
      const done = (): void => read.signal.removeEventListener('abort', onAbort);
      request.on('response', (response: IncomingMessage) => {
        answered = true;
        response.setEncoding('utf8');
        let text = '';
        response.on('data', (chunk: string) => (text += chunk));
        response.on('error', (error) => {
          done();
          reject(error);
        });
        response.on('end', () => {
          done();
          const failure = serverError(response, text);
          if (failure) reject(failure);
          else resolve(text);
        });
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        done();
        if (read.signal.aborted) return;
        // A kept-alive connection closed by the server as the read went out: it never arrived.
        if (!answered && !retried && request.reusedSocket && error.code === 'ECONNRESET') resolve(attempt(read, path, body, true));
        else reject(error);
      });
      request.end(body);
    });
  }

  return {
    read(read) {
      if (read.signal.aborted) return Promise.reject(read.signal.reason);
      return attempt(read, pathOf(read), Buffer.from(read.sql, 'utf8'), false);
    },
    close() {
      agent.destroy();
    },
  };
}

/** The server's error in an answer, if any: a status other than 200, or an exception code header (newer servers). */
function serverError(response: IncomingMessage, text: string): ClickHouseServerError | undefined {
  const header = response.headers['x-clickhouse-exception-code'];
  const status = response.statusCode ?? 0;
  if (status === 200 && header === undefined) return undefined;
  const message = text.trim().slice(0, MAX_ERROR_CHARS) || `HTTP ${status}`;
  const code = (typeof header === 'string' ? header : undefined) ?? /^Code: (\d+)/.exec(message)?.[1];
  return new ClickHouseServerError(message, code, status);
}

/**
 * The exception a server appended to an answer it had started with a 200 (a failure while the
 * result was being written), for an answer that did not parse; undefined when there is none.
 */
export function appendedServerError(text: string): ClickHouseServerError | undefined {
  // 18.16: `Code: 159, e.displayText() = DB::Exception: …`; newer: `Code: 159. DB::Exception: …`.
  const match = /Code: (\d+)(?:, e\.displayText\(\) = |\. )DB::Exception/.exec(text);
  return match ? new ClickHouseServerError(text.slice(match.index).trim().slice(0, MAX_ERROR_CHARS), match[1], 200) : undefined;
}
