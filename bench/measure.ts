import { fileURLToPath } from 'node:url';
import type { HttpRequestSpec } from './documents.ts';
import type { FanoutResult } from './fanout-client.ts';
import { runHttpLoad } from './http-load.ts';
import type { RunningServer } from './launch.ts';
import type { BenchOptions } from './options.ts';
import { awaitReady, rssMiB, spawnNode, waitForExit } from './processes.ts';
import type { FanoutRun, HttpRun, ServerLog } from './results.ts';

/** One server to put under HTTP load. */
export interface HttpTarget {
  server: string;
  operation: string;
  start: () => Promise<RunningServer>;
  request: HttpRequestSpec;
  /** Concurrent connections; default the run's. */
  connections?: number;
  /**
   * For answers that differ per request: a text every answer must contain, or how to take it
   * from the checked answer (e.g. its `data`, when timings beside it vary).
   */
  expectBodyContains?: string | ((answer: string) => string);
  /** Judges each check answer: why it is wrong, or undefined. Default `graphqlAnswer`. */
  judge?: AnswerJudge;
  /** Processes whose CPU time to read during the measurement, by label (e.g. the server and the engine behind it). */
  cpuOf?: (server: RunningServer) => Record<string, number | undefined>;
  /** Several requests sent in turn instead of `request` alone; each is checked before the load, and its answer handed to `answers`. */
  requests?: HttpRequestSpec[];
  answers?: (bodies: string[]) => void;
}

/**
 * Starts the server, checks the answer (twice: 200, JSON, no GraphQL errors), loads it in the
 * load generator's process, reads its memory and stops it. Failures become the run's `error`.
 */
export async function measureHttp(options: BenchOptions, target: HttpTarget): Promise<HttpRun> {
  const run: HttpRun = { server: target.server, operation: target.operation, serverLog: { duringRun: [], atShutdown: [] } };
  let server: RunningServer | undefined;
  try {
    server = await target.start();
    const check = await checkAnswer(server.url, target.request, target.judge);
    run.cache = check.cache;
    if (target.requests) {
      const bodies: string[] = [];
      for (const request of target.requests) bodies.push((await checkAnswer(server.url, request)).body);
      target.answers?.(bodies);
    }
    const watched = Object.entries(target.cpuOf?.(server) ?? {}).filter((entry): entry is [string, number] => entry[1] !== undefined);
    const contains = typeof target.expectBodyContains === 'function' ? target.expectBodyContains(check.body) : target.expectBodyContains;
    run.load = await runHttpLoad({
      url: server.url,
      request: target.request,
      ...(target.requests ? { requests: target.requests } : {}),
      connections: target.connections ?? options.connections,
      durationSec: options.durationSec,
      warmupSec: options.warmupSec,
      // A deterministic answer is compared byte for byte during the run.
      ...(check.stableBody !== undefined && contains === undefined && !target.requests ? { expectBody: check.stableBody } : {}),
      ...(contains === undefined ? {} : { expectBodyContains: contains }),
      ...(watched.length > 0 ? { cpuPids: watched.map(([, pid]) => pid) } : {}),
    });
    const spent = run.load.cpuMs;
    if (spent) run.cpuMs = Object.fromEntries(watched.map(([label], i) => [label, spent[i] ?? null]));
    run.rssMiB = rssMiB(server.pid);
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
  } finally {
    if (server) run.serverLog = await stopServer(server);
  }
  return run;
}

/** Stops a server under test and returns what it printed, split at the moment it was told to stop. */
export async function stopServer(server: RunningServer): Promise<ServerLog> {
  const measured = server.output.length;
  await server.stop();
  return splitLog(server.output, measured);
}

function splitLog(output: readonly string[], measured: number): ServerLog {
  return { duringRun: output.slice(0, Math.min(measured, 10)), atShutdown: output.slice(measured, measured + 10) };
}

/** The answer to one request, after checking it is a successful GraphQL response. */
export interface CheckedAnswer {
  body: string;
  /** The body, when two identical requests got identical bodies. */
  stableBody: string | undefined;
  /** `x-cache` of the second answer, `none` when absent. */
  cache: string;
}

/** Why an answer to a check request is wrong, or undefined when it is right. */
export type AnswerJudge = (status: number, body: string) => string | undefined;

/** A GraphQL answer: a 200 with data and no errors. */
export const graphqlAnswer: AnswerJudge = (status, body) => {
  const parsed = parseJson<{ data?: unknown; errors?: unknown }>(body);
  return status !== 200 || !parsed || parsed.errors !== undefined || parsed.data == null ? 'not a 200 with data and no errors' : undefined;
};

export function parseJson<T>(body: string): T | undefined {
  try {
    return JSON.parse(body) as T;
  } catch {
    return undefined;
  }
}

/** Sends `request` twice; rejects with the answer when `judge` finds fault with it (default: not a 200 with data and no errors). */
export async function checkAnswer(url: string, request: HttpRequestSpec, judge: AnswerJudge = graphqlAnswer): Promise<CheckedAnswer> {
  const send = async () => {
    const response = await fetch(url + request.path, { method: request.method, headers: request.headers, body: request.body ?? null });
    const body = await response.text();
    const fault = judge(response.status, body);
    if (fault !== undefined) throw new Error(`check request failed (${fault}): HTTP ${response.status} ${body.slice(0, 500)}`);
    return { body, cache: response.headers.get('x-cache') ?? 'none' };
  };
  const first = await send();
  const second = await send();
  return { body: second.body, stableBody: first.body === second.body ? second.body : undefined, cache: second.cache };
}

const FANOUT_CLIENT = fileURLToPath(new URL('./fanout-client.ts', import.meta.url));

/** Options of one fan-out run. */
export interface FanoutTarget {
  /** Which server, for the report. */
  server: string;
  start: () => Promise<RunningServer>;
  /** Default: the run's `subscribers`. */
  subscribers?: number;
  /**
   * Reads the server's memory before any client connects and again once every subscription is
   * live and idle (before the measured events), for the memory an idle subscriber holds.
   */
  idleMemory?: boolean;
}

/** Quiet time before reading the memory of idle subscribers, so the last handshakes' garbage is not counted as held. */
const IDLE_SETTLE_MS = 2_000;

/**
 * Runs the fan-out client (its own process, on the load core) against a server and reads the
 * server's memory while every subscriber is still connected.
 */
export async function measureFanout(options: BenchOptions, target: FanoutTarget): Promise<FanoutRun> {
  const run: FanoutRun = { server: target.server, serverLog: { duringRun: [], atShutdown: [] } };
  const subscribers = target.subscribers ?? options.subscribers;
  let server: RunningServer | undefined;
  try {
    server = await target.start();
    if (target.idleMemory) run.rssBeforeMiB = rssMiB(server.pid);
    const client = spawnNode(FANOUT_CLIENT, {
      role: 'load',
      stdin: 'pipe',
      env: {
        BENCH_URL: server.url,
        BENCH_SUBSCRIBERS: String(subscribers),
        BENCH_EVENTS: String(options.fanoutEvents),
        BENCH_PAUSE_SUBSCRIBED: target.idleMemory ? '1' : '0',
      },
    });
    try {
      // Connecting takes about a second per thousand subscribers; each event waits at most 5 s.
      const budgetMs = 60_000 + subscribers * 20 + options.fanoutEvents * 5_000;
      if (target.idleMemory) {
        await awaitReady<{ live: number }>(client, budgetMs, '{"benchSubscribed"');
        await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
        run.rssSubscribedMiB = rssMiB(server.pid);
        client.stdin?.write('go\n');
      }
      const { ready, output } = await awaitReady<FanoutResult>(client, budgetMs);
      run.gatewayRssMiB = rssMiB(server.pid);
      const { benchReady: _, ...result } = ready;
      run.result = result;
      if (output.length > 0) result.errors.push(...output.slice(0, 5).map((line) => `client: ${line}`));
    } finally {
      // Closing its stdin tells the client to disconnect every subscriber and exit.
      client.stdin?.end();
      await waitForExit(client, 15_000);
    }
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
  } finally {
    if (server) run.serverLog = await stopServer(server);
  }
  return run;
}

/** Memory an idle subscriber holds on the server, in KiB: (RSS subscribed − RSS before) ÷ subscribers live. */
export function idleKiBPerSubscriber(run: FanoutRun): number | undefined {
  const live = run.result?.live;
  if (run.rssBeforeMiB === undefined || run.rssSubscribedMiB === undefined || !live) return undefined;
  return ((run.rssSubscribedMiB - run.rssBeforeMiB) * 1024) / live;
}
