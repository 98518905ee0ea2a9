import { fileURLToPath } from 'node:url';
import type { HttpRequestSpec } from './documents.ts';
import type { FanoutResult } from './fanout-client.ts';
import { runHttpLoad, type LoadResult, type LoadSpec } from './http-load.ts';
import type { RunningServer } from './launch.ts';
import type { BenchOptions } from './options.ts';
import { awaitReady, rssMiB, spawnNode, waitForExit } from './processes.ts';
import { summarise } from './stats.ts';
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
  /**
   * Warm up until the throughput is steady (see `LoadSpec.steadyWarmup`) rather than for the run's
   * fixed warm-up: for ratios between servers that reach their speed after different amounts of work.
   */
  steadyWarmup?: boolean;
}

/** Steady warm-up: 2-second windows until three agree within 5%, at most 30 s. */
const STEADY_WARMUP = { windowSec: 2, maxSec: 30, tolerance: 0.05 };

/**
 * Starts the server, checks the answer (twice: 200, JSON, no GraphQL errors), loads it in the
 * load generator's process, reads its memory and stops it. Failures become the run's `error`.
 */
export async function measureHttp(options: BenchOptions, target: HttpTarget): Promise<HttpRun> {
  const run: HttpRun = { server: target.server, operation: target.operation, serverLog: { duringRun: [], atShutdown: [] } };
  let server: RunningServer | undefined;
  try {
    server = await target.start();
    const load = await prepareLoad(options, target, server, run);
    recordLoad(run, await runHttpLoad(load.spec), load.watched);
    run.rssMiB = rssMiB(server.pid);
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
  } finally {
    if (server) run.serverLog = await stopServer(server);
  }
  return run;
}

/**
 * Two servers measured in turn, `rounds` times (A, B, A, B, …), each round with the run's
 * duration: a baseline whose speed drifts over the minutes of a run (an engine's background
 * merges, a neighbour on the machine) then weighs on both sides alike instead of on whichever ran
 * at the wrong moment. Both servers stay up throughout. Each run's figures are its rounds
 * together: requests summed over the time measured, latency percentiles the median of the rounds',
 * max the largest; `rounds` keeps each round's own.
 */
export async function measureInterleaved(options: BenchOptions, targets: readonly [HttpTarget, HttpTarget], rounds: number): Promise<[HttpRun, HttpRun]> {
  const runs = targets.map((target): HttpRun => ({ server: target.server, operation: target.operation, serverLog: { duringRun: [], atShutdown: [] } })) as [HttpRun, HttpRun];
  const servers: (RunningServer | undefined)[] = [];
  try {
    for (const target of targets) servers.push(await target.start());
    // In order: a later target's check may compare its answers with an earlier one's.
    const loads: Awaited<ReturnType<typeof prepareLoad>>[] = [];
    for (const [i, target] of targets.entries()) loads.push(await prepareLoad(options, target, servers[i]!, runs[i]!));
    const measured: LoadResult[][] = [[], []];
    for (let round = 0; round < rounds; round += 1) {
      // A steady warm-up (when asked) before the first round only; later rounds take the fixed one.
      for (const [i, { spec }] of loads.entries()) measured[i]!.push(await runHttpLoad(round === 0 ? spec : { ...spec, steadyWarmup: undefined }));
    }
    for (const [i, run] of runs.entries()) {
      recordLoad(run, combineRounds(measured[i]!), loads[i]!.watched);
      run.rounds = measured[i];
      run.rssMiB = rssMiB(servers[i]!.pid);
    }
  } catch (error) {
    for (const run of runs) run.error = error instanceof Error ? error.message : String(error);
  } finally {
    for (const [i, server] of servers.entries()) if (server) runs[i]!.serverLog = await stopServer(server);
  }
  return runs;
}

/** Checks the server's answers and builds its load; `run` gets the check's `x-cache`. */
async function prepareLoad(options: BenchOptions, target: HttpTarget, server: RunningServer, run: HttpRun): Promise<{ spec: LoadSpec; watched: [string, number][] }> {
  const check = await checkAnswer(server.url, target.request, target.judge);
  run.cache = check.cache;
  if (target.requests) {
    const bodies: string[] = [];
    for (const request of target.requests) bodies.push((await checkAnswer(server.url, request)).body);
    target.answers?.(bodies);
  }
  const watched = Object.entries(target.cpuOf?.(server) ?? {}).filter((entry): entry is [string, number] => entry[1] !== undefined);
  const contains = typeof target.expectBodyContains === 'function' ? target.expectBodyContains(check.body) : target.expectBodyContains;
  const spec: LoadSpec = {
    url: server.url,
    request: target.request,
    ...(target.requests ? { requests: target.requests } : {}),
    connections: target.connections ?? options.connections,
    durationSec: options.durationSec,
    warmupSec: options.warmupSec,
    ...(target.steadyWarmup ? { steadyWarmup: STEADY_WARMUP } : {}),
    // A deterministic answer is compared byte for byte during the run.
    ...(check.stableBody !== undefined && contains === undefined && !target.requests ? { expectBody: check.stableBody } : {}),
    ...(contains === undefined ? {} : { expectBodyContains: contains }),
    ...(watched.length > 0 ? { cpuPids: watched.map(([, pid]) => pid) } : {}),
  };
  return { spec, watched };
}

function recordLoad(run: HttpRun, load: LoadResult, watched: readonly [string, number][]): void {
  run.load = load;
  const spent = load.cpuMs;
  if (spent) run.cpuMs = Object.fromEntries(watched.map(([label], i) => [label, spent[i] ?? null]));
}

/** Rounds of one server as one measurement (see `measureInterleaved`). */
function combineRounds(rounds: readonly LoadResult[]): LoadResult {
  const sum = (pick: (round: LoadResult) => number) => rounds.reduce((total, round) => total + pick(round), 0);
  const median = (pick: (round: LoadResult) => number) => summarise(rounds.map(pick)).p50;
  const durationSec = sum((round) => round.durationSec);
  const requests = sum((round) => round.requests);
  const statusCodes: Record<string, number> = {};
  for (const round of rounds) for (const [code, count] of Object.entries(round.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  const cpu = rounds[0]?.cpuMs?.map((_, i) => (rounds.some((round) => round.cpuMs?.[i] == null) ? null : sum((round) => round.cpuMs![i]!)));
  return {
    durationSec,
    requests,
    requestsPerSec: requests / durationSec,
    latencyMs: {
      mean: sum((round) => round.latencyMs.mean * round.requests) / Math.max(requests, 1),
      p50: median((round) => round.latencyMs.p50),
      p90: median((round) => round.latencyMs.p90),
      p99: median((round) => round.latencyMs.p99),
      max: Math.max(...rounds.map((round) => round.latencyMs.max)),
    },
    errors: sum((round) => round.errors),
    timeouts: sum((round) => round.timeouts),
    mismatches: sum((round) => round.mismatches),
    non2xx: sum((round) => round.non2xx),
    statusCodes,
    bytesPerSec: sum((round) => round.bytesPerSec * round.durationSec) / durationSec,
    ...(cpu ? { cpuMs: cpu } : {}),
  };
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

/**
 * What every answer to a GraphQL request repeats when its `extensions` carry timings (the
 * gateway's `backends`, `freshness`): its `data`, as the answer spells it. For `expectBodyContains`.
 */
export function graphqlData(answer: string): string {
  return JSON.stringify((parseJson<{ data?: unknown }>(answer) ?? {}).data);
}

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
