/**
 * Soak load, client side (its own process, on the load core), one phase per run:
 *
 * - `SOAK_PHASE=queries`: `SOAK_QUERIES` `events(filter: { userId })` queries over HTTP, each
 *   for another user (so none is answered from the response cache), `SOAK_CONCURRENCY` at a time.
 * - `SOAK_PHASE=sockets`: `SOAK_SOCKETS` graphql-ws connections, each subscribed to bookings,
 *   then `SOAK_QUERIES` of the same queries sent over those sockets, then every socket closed.
 *
 * Prints one `SoakClientResult` line once the phase is over (the sockets closed), then exits.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { EVENT_INGESTED, GRAPHQL_PATH, USER_EVENTS, soakUser } from './documents.ts';

export interface SoakClientResult {
  benchReady: true;
  phase: 'queries' | 'sockets';
  queries: number;
  /** Answers with `errors` or a failed request. */
  failed: number;
  /** Sockets whose connection the gateway acknowledged (sockets phase). */
  connected: number;
  elapsedMs: number;
  errors: string[];
}

const httpUrl = process.env['BENCH_URL'] ?? 'http://127.0.0.1:4000';
const phase = process.env['SOAK_PHASE'] === 'sockets' ? 'sockets' : 'queries';
const queryCount = Number(process.env['SOAK_QUERIES'] ?? 5_000);
const socketCount = Number(process.env['SOAK_SOCKETS'] ?? 2_000);
const concurrency = Number(process.env['SOAK_CONCURRENCY'] ?? 50);
/** First user index (the warm-up uses users the measured phases do not). */
const offset = Number(process.env['SOAK_OFFSET'] ?? 0);
const CONNECT_BATCH = 100;

const errors: string[] = [];
let failed = 0;
const noteError = (error: unknown) => {
  failed += 1;
  if (errors.length < 5) errors.push(error instanceof Error ? error.message : JSON.stringify(error).slice(0, 300));
};

/** Runs `count` tasks, `concurrency` at a time. */
async function pool(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++);
  }));
}

async function overHttp(i: number): Promise<void> {
  try {
    const response = await fetch(httpUrl + GRAPHQL_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: USER_EVENTS, variables: { userId: soakUser(offset + i) } }),
    });
    const body = (await response.json()) as { errors?: unknown };
    if (response.status !== 200 || body.errors) noteError(body);
  } catch (error) {
    noteError(error);
  }
}

function overSocket(client: Client, i: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      noteError(new Error('query over graphql-ws: no answer in 10 s'));
      resolve();
    }, 10_000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    client.subscribe(
      { query: USER_EVENTS, variables: { userId: soakUser(offset + i) } },
      { next: (message) => message.errors && noteError(message.errors), error: (error) => (noteError(error), done()), complete: done },
    );
  });
}

const started = performance.now();
let connected = 0;
if (phase === 'queries') {
  await pool(queryCount, overHttp);
} else {
  const wsUrl = `${httpUrl.replace(/^http/, 'ws')}${GRAPHQL_PATH}`;
  const clients: Client[] = [];
  for (let start = 0; start < socketCount; start += CONNECT_BATCH) {
    const batch: Promise<void>[] = [];
    for (let index = start; index < Math.min(socketCount, start + CONNECT_BATCH); index += 1) {
      batch.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 10_000);
          const client = createClient({
            url: wsUrl,
            webSocketImpl: WebSocket,
            lazy: false,
            retryAttempts: 0,
            onNonLazyError: noteError,
            on: {
              connected: () => ((connected += 1), clearTimeout(timer), resolve()),
              error: (error) => (noteError(error), clearTimeout(timer), resolve()),
            },
          });
          clients.push(client);
          client.subscribe({ query: EVENT_INGESTED }, { next: () => undefined, error: () => undefined, complete: () => undefined });
        }),
      );
    }
    await Promise.all(batch);
  }
  await pool(queryCount, (i) => overSocket(clients[i % clients.length]!, i));
  await Promise.all(clients.map((client) => client.dispose()));
}

const result: SoakClientResult = { benchReady: true, phase, queries: queryCount, failed, connected, elapsedMs: Math.round(performance.now() - started), errors };
process.stdout.write(`${JSON.stringify(result)}\n`);
// Lets the sockets' close frames leave before the process goes.
setTimeout(() => process.exit(0), 200);
