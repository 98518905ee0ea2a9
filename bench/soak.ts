import { fileURLToPath } from 'node:url';
import type { RunningServer } from './launch.ts';
import { stopServer } from './measure.ts';
import type { BenchOptions } from './options.ts';
import { awaitReady, rssMiB, spawnNode, waitForExit } from './processes.ts';
import type { ServerLog } from './results.ts';
import type { SoakClientResult } from './soak-client.ts';

/** One load phase of the soak: the gateway's RSS at its peak and once the load is gone. */
export interface SoakPhase {
  label: string;
  client?: Omit<SoakClientResult, 'benchReady'>;
  /** Highest RSS sampled during the load (every 100 ms). */
  peakMiB?: number;
  /** RSS `settleSec` after the load ended (every client gone). */
  afterMiB?: number;
  error?: string;
}

export interface SoakRun {
  /** RSS after the warm-up, settled. */
  baselineMiB?: number;
  phases: SoakPhase[];
  settleSec: number;
  error?: string;
  serverLog: ServerLog;
}

const SOAK_CLIENT = fileURLToPath(new URL('./soak-client.ts', import.meta.url));
const WARMUP_QUERIES = 300;

/**
 * Starts one gateway, warms it up, reads its RSS, then runs the two load phases one after the
 * other (varied `events(filter: { userId })` queries over HTTP; a storm of graphql-ws sockets
 * with queries over them), reading its RSS at the peak of each and `settleSec` after it.
 */
export async function measureSoak(options: BenchOptions, start: () => Promise<RunningServer>): Promise<SoakRun> {
  const run: SoakRun = { phases: [], settleSec: options.soakSettleSec, serverLog: { duringRun: [], atShutdown: [] } };
  let server: RunningServer | undefined;
  try {
    server = await start();
    const gateway = server;
    // The warm-up's users come after the measured ones, so the measured queries all miss the cache.
    await runPhase(gateway.url, { SOAK_PHASE: 'queries', SOAK_QUERIES: String(WARMUP_QUERIES), SOAK_OFFSET: String(options.soakQueries) }, () => undefined);
    await settle(options.soakSettleSec);
    run.baselineMiB = rssMiB(gateway.pid);
    const phases: [string, Record<string, string>][] = [
      [`${options.soakQueries.toLocaleString('en-US')} events(filter: { userId }) over HTTP`, { SOAK_PHASE: 'queries', SOAK_QUERIES: String(options.soakQueries) }],
      [
        `${options.soakSockets.toLocaleString('en-US')} graphql-ws sockets + ${options.soakQueries.toLocaleString('en-US')} queries over them`,
        { SOAK_PHASE: 'sockets', SOAK_SOCKETS: String(options.soakSockets), SOAK_QUERIES: String(options.soakQueries) },
      ],
    ];
    for (const [label, env] of phases) {
      const phase: SoakPhase = { label };
      run.phases.push(phase);
      let peak = 0;
      try {
        phase.client = await runPhase(gateway.url, env, () => (peak = Math.max(peak, rssMiB(gateway.pid) ?? 0)));
        phase.peakMiB = peak;
        await settle(options.soakSettleSec);
        phase.afterMiB = rssMiB(gateway.pid);
      } catch (error) {
        phase.error = error instanceof Error ? error.message : String(error);
      }
    }
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
  } finally {
    if (server) run.serverLog = await stopServer(server);
  }
  return run;
}

/** Runs the soak client with `env` to its end, calling `sample` every 100 ms meanwhile. */
async function runPhase(url: string, env: Record<string, string>, sample: () => void): Promise<Omit<SoakClientResult, 'benchReady'>> {
  const client = spawnNode(SOAK_CLIENT, { role: 'load', env: { BENCH_URL: url, ...env } });
  const sampler = setInterval(sample, 100);
  try {
    const { ready } = await awaitReady<SoakClientResult>(client, 300_000);
    sample();
    const { benchReady: _, ...result } = ready;
    return result;
  } finally {
    clearInterval(sampler);
    await waitForExit(client, 15_000);
  }
}

const settle = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
