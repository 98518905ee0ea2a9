import { fileURLToPath } from 'node:url';
import { text } from 'node:stream/consumers';
import type { HttpRequestSpec } from './documents.ts';
import { spawnNode } from './processes.ts';

/** What the load generator is asked to do. */
export interface LoadSpec {
  /** Server origin, `http://127.0.0.1:PORT`. */
  url: string;
  request: HttpRequestSpec;
  /** Several requests instead: each connection sends them in turn, over and over (answers that no cache of one request absorbs). */
  requests?: HttpRequestSpec[];
  connections: number;
  durationSec: number;
  warmupSec: number;
  /** When set, every response body must equal it (else it counts as a mismatch). */
  expectBody?: string;
  /** When set, every response body must contain it (for answers that differ per request). */
  expectBodyContains?: string;
  /** Processes whose CPU time the measurement reads (from /proc), e.g. the server and the engine behind it. */
  cpuPids?: readonly number[];
  /**
   * Warm up until the server's throughput is steady, not for a fixed time: windows of
   * `windowSec` are sent (at least `warmupSec` in all) until the last three agree within
   * `tolerance` (largest over smallest, e.g. 0.05), or `maxSec` have passed.
   */
  steadyWarmup?: { windowSec: number; maxSec: number; tolerance: number };
}

/** One measurement, as the load generator reports it. */
export interface LoadResult {
  durationSec: number;
  requests: number;
  requestsPerSec: number;
  /** Response times of 2xx answers. autocannon records whole milliseconds. */
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Socket errors, timeouts included. */
  errors: number;
  timeouts: number;
  /** 2xx answers whose body failed `expectBody` / `expectBodyContains`. */
  mismatches: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  bytesPerSec: number;
  /** CPU time each of `cpuPids` spent during the measurement (warm-up excluded), in ms; null where unknown. */
  cpuMs?: (number | null)[];
  /** With `steadyWarmup`: how long the warm-up took, whether it settled, and its windows' req/s. */
  warmup?: { seconds: number; steady: boolean; windows: number[] };
}

const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url));

/** Runs the load generator in its own process (pinned to the load core) and returns its result. */
export async function runHttpLoad(spec: LoadSpec): Promise<LoadResult> {
  const child = spawnNode(LOAD_SCRIPT, { role: 'load', stdin: 'pipe' });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', reject);
  });
  child.stdin!.end(JSON.stringify(spec));
  const [stdout, stderr, code] = await Promise.all([text(child.stdout!), text(child.stderr!), exited]);
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`load generator failed (exit ${code}): ${stderr.trim() || stdout.trim()}`);
  return JSON.parse(line) as LoadResult;
}
