import { rmSync } from 'node:fs';
import { bootstrap } from '../scripts/bootstrap.ts';
import { loadConfig } from '../src/config.ts';
import { findBinary } from '../test/helpers/peers.ts';
import { DEMO_ANCHOR, REGIONAL_STATS, lastQuarter, postRequest, type HttpRequestSpec } from './documents.ts';
import { startEngineCapture, type CapturedRequest } from './engine-capture.ts';
import { copyDemoDatabase, startClickHouseServer, startGateway, type RunningServer } from './launch.ts';
import { checkAnswer, graphqlData, measureInterleaved, parseJson, type AnswerJudge } from './measure.ts';
import type { BenchOptions } from './options.ts';
import { repin } from './processes.ts';
import type { HttpRun } from './results.ts';

/** Rounds of each side, interleaved (engine, gateway, engine, …): the engine's speed drifts over a run. */
export const REGIONAL_ROUNDS = 4;

/** The analytics scenario's runs: the engine alone, then the gateway in front of it, in two placements. */
export interface RegionalStatsRuns {
  /**
   * The engine on a core of its own (the load generator's), as it runs in production (a server
   * of its own): the statement POSTed straight to ClickHouse, then `regionalStats` through the
   * gateway, interleaved rounds.
   */
  runs: HttpRun[];
  /** The same, the engine moved onto the gateway's core: what the gateway's CPU costs an engine that shares its core. */
  sharedCore: HttpRun[];
  /** The SQL the gateway sent for the query (as captured), for the report. */
  statement?: string;
  /** Why the scenario did not run (no clickhouse-server). */
  skipped?: string;
  /** Why it stopped before measuring. */
  error?: string;
}

/**
 * Starts a ClickHouse server, loads the demo data into it as `npm run bootstrap` does, captures the
 * statement a gateway sends for `regionalStats`, then measures that exact request POSTed to
 * ClickHouse's HTTP interface and the GraphQL query through a gateway (response cache off, so every
 * request reaches ClickHouse): same load generator, connections and durations, same server, in
 * interleaved rounds (the engine's own speed drifts by a fifth between rounds).
 *
 * The engine runs on the load generator's core, away from the gateway's, as the two are separate
 * servers in a deployment: the comparison is then of what a client gets (the gateway's added work
 * and latency), not of two processes splitting one core. The load generator's share of that core
 * is the same in both runs (same requests per second). Then the engine is moved onto the
 * gateway's core and both are measured again, for what the gateway's CPU costs there.
 */
export async function measureRegionalStats(options: BenchOptions, baseDir: string): Promise<RegionalStatsRuns> {
  if (!findBinary('clickhouse-server')) return { runs: [], sharedCore: [], skipped: 'clickhouse-server not found (apt-get install clickhouse-server): scenario skipped.' };
  const request = postRequest(REGIONAL_STATS, lastQuarter(process.env['DEMO_ANCHOR'] ?? DEMO_ANCHOR));
  const dataDir = copyDemoDatabase(baseDir);
  let clickhouse: RunningServer | undefined;
  try {
    clickhouse = await startClickHouseServer('load');
    const engineUrl = clickhouse.url;
    await bootstrap(loadConfig({ DEMO_ANCHOR, DEMO_SCALE: '1', LOG_LEVEL: 'warn', ...process.env, DATA_DIR: dataDir, CLICKHOUSE_URL: engineUrl }), () => undefined);
    // As many reads in flight as the load generator has connections: ClickHouse then sees the same
    // concurrency in both runs (a smaller pool would queue requests in the gateway and spare it).
    const gatewayEnv = { RESPONSE_CACHE: 'false', CLICKHOUSE_URL: engineUrl, CLICKHOUSE_MAX_CONNECTIONS: String(options.connections) };
    const statement = await captureStatement(engineUrl, request, (url) => startGateway(dataDir, { ...gatewayEnv, CLICKHOUSE_URL: url }, { inPlace: true }));
    // The same server for every run; it is stopped once, after all.
    const engine: RunningServer = { url: engineUrl, pid: clickhouse.pid, output: clickhouse.output, stop: () => Promise.resolve() };
    const measure = (placement: string) =>
      measureInterleaved(
        options,
        [
          {
            server: `ClickHouse HTTP${placement}`,
            operation: "POST the gateway's statement",
            start: () => Promise.resolve(engine),
            request: replayable(statement),
            judge: engineAnswer,
            expectBodyContains: withoutStatistics,
            cpuOf: () => ({ ClickHouse: engine.pid }),
            steadyWarmup: true,
          },
          {
            server: `gateway (cache off)${placement}`,
            operation: 'POST regionalStats (last 90 days, all regions)',
            start: () => startGateway(dataDir, gatewayEnv, { inPlace: true }),
            request,
            expectBodyContains: graphqlData,
            cpuOf: (server) => ({ ClickHouse: engine.pid, gateway: server.pid }),
            steadyWarmup: true,
          },
        ],
        REGIONAL_ROUNDS,
      );
    const runs = await measure('');
    repin(engine.pid!, 'server');
    const sharedCore = await measure(", engine on the gateway's core");
    return { runs, sharedCore, statement: statement.body };
  } catch (error) {
    return { runs: [], sharedCore: [], error: error instanceof Error ? error.message : String(error) };
  } finally {
    await clickhouse?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Starts a gateway whose ClickHouse URL is a recording pass-through, sends `request` (twice, as
 * every check does) and returns what it sent to ClickHouse for it: the baseline replays exactly
 * that, whatever SQL, result format and settings the adapter chooses.
 */
async function captureStatement(engineUrl: string, request: HttpRequestSpec, start: (clickhouseUrl: string) => Promise<RunningServer>): Promise<CapturedRequest> {
  const capture = await startEngineCapture(engineUrl);
  let gateway: RunningServer | undefined;
  try {
    gateway = await start(capture.url);
    const before = capture.requests.length;
    await checkAnswer(gateway.url, request);
    // Reads of the events only: start-up and background work (version detection, health) send others.
    const sent = capture.requests.slice(before).filter((captured) => captured.body.includes('analytics.events'));
    const last = sent[sent.length - 1];
    if (!last || sent.length !== 2 || sent[0]?.body !== last.body) {
      throw new Error(`expected one statement per regionalStats request (2 requests), the gateway sent ${sent.length}: ${sent.map((s) => s.body.slice(0, 200)).join(' | ')}`);
    }
    return last;
  } finally {
    await gateway?.stop();
    await capture.close();
  }
}

/** A captured request as the load generator repeats it: without its query id (ClickHouse refuses an id already running). */
function replayable(statement: CapturedRequest): HttpRequestSpec {
  const url = new URL(statement.path, 'http://engine');
  url.searchParams.delete('query_id');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(statement.headers)) {
    // Framing is the load generator's own (it sends a content-length).
    if (typeof value === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(name)) headers[name] = value;
  }
  return { method: 'POST', path: `${url.pathname}${url.search}`, headers, body: statement.body };
}

/** An engine answer with rows: a 200, no exception text, and a non-empty `data` (JSON formats) or at least one row (row-per-line formats). */
const engineAnswer: AnswerJudge = (status, body) => {
  if (status !== 200) return 'not a 200';
  if (body.includes('DB::Exception')) return 'an engine exception';
  const parsed = parseJson<{ data?: unknown }>(body);
  const rows = parsed && Array.isArray(parsed.data) ? parsed.data.length : body.split('\n').filter((line) => line.trim() !== '').length;
  return rows === 0 ? 'no rows' : undefined;
};

/** What every answer of ClickHouse's JSON formats repeats: all but `statistics`, whose `elapsed` differs each time. */
function withoutStatistics(answer: string): string {
  const at = answer.indexOf('"statistics"');
  return at < 0 ? answer : answer.slice(0, at);
}

/** CPU time `label`'s process spent per request of the run's measurement, in ms. */
export function cpuPerRequest(run: HttpRun | undefined, label: string): number | undefined {
  const spent = run?.cpuMs?.[label];
  const requests = run?.load?.requests;
  return spent == null || !requests ? undefined : spent / requests;
}
