/**
 * The load generator, run as its own process on its own core: reads one `LoadSpec` as JSON from
 * stdin, runs autocannon for the warm-up (discarded), then for the measurement, and prints one
 * `LoadResult` as JSON on stdout.
 */
import { createRequire } from 'node:module';
import { text } from 'node:stream/consumers';
import type { LoadResult, LoadSpec } from './http-load.ts';
import { cpuMsOf } from './processes.ts';

/** The slice of autocannon's programmatic API and result this file uses (it ships no types). */
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
  latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  requests: { total: number };
  throughput: { average: number };
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const spec = JSON.parse(await text(process.stdin)) as LoadSpec;

const base = {
  url: spec.url + spec.request.path,
  method: spec.request.method,
  headers: spec.request.headers,
  body: spec.request.body,
  ...(spec.requests ? { requests: spec.requests.map(({ method, path, headers, body }) => ({ method, path, headers, body })) } : {}),
  connections: spec.connections,
  // What the server should send back: any other answer counts as a mismatch, so GraphQL errors
  // inside a 200 do not pass for throughput.
  expectBody: spec.expectBody,
  verifyBody: spec.expectBodyContains === undefined ? undefined : (body: string) => body.includes(spec.expectBodyContains ?? ''),
  timeout: 10,
};

const warmup = spec.steadyWarmup ? await warmUntilSteady(spec.steadyWarmup) : undefined;
if (!spec.steadyWarmup && spec.warmupSec > 0) await autocannon({ ...base, duration: spec.warmupSec });
if (spec.steadyWarmup || spec.warmupSec > 0) {
  // The warm-up ends with requests still in flight; the server keeps working on them after
  // autocannon hangs up. One request sent now is answered once that backlog has drained (the
  // server's queues are FIFO), so the measurement starts on an idle server.
  await fetch(base.url, { method: base.method, headers: base.headers, body: base.body ?? null, signal: AbortSignal.timeout(60_000) }).then(
    (response) => response.arrayBuffer(),
    () => undefined,
  );
}
const cpuPids = spec.cpuPids ?? [];
const cpuBefore = cpuPids.map(cpuMsOf);
const measured = await autocannon({ ...base, duration: spec.durationSec });
const cpuAfter = cpuPids.map(cpuMsOf);

const result: LoadResult = {
  durationSec: measured.duration,
  requests: measured.requests.total,
  requestsPerSec: measured.requests.total / measured.duration,
  latencyMs: {
    mean: measured.latency.mean,
    p50: measured.latency.p50,
    p90: measured.latency.p90,
    p99: measured.latency.p99,
    max: measured.latency.max,
  },
  errors: measured.errors,
  timeouts: measured.timeouts,
  mismatches: measured.mismatches,
  non2xx: measured.non2xx,
  statusCodes: Object.fromEntries(Object.entries(measured.statusCodeStats).map(([code, { count }]) => [code, count])),
  bytesPerSec: measured.throughput.average,
  ...(cpuPids.length > 0 ? { cpuMs: cpuPids.map((_, i) => spent(cpuBefore[i], cpuAfter[i])) } : {}),
  ...(warmup ? { warmup } : {}),
};
process.stdout.write(`${JSON.stringify(result)}\n`);

/**
 * Sends windows of load until the throughput stops climbing: a server whose code is still being
 * optimised (V8 tiers functions up over the first thousands of calls; a larger code base takes
 * longer) would otherwise be measured before it reaches the speed it serves at for hours.
 */
async function warmUntilSteady({ windowSec, maxSec, tolerance }: NonNullable<LoadSpec['steadyWarmup']>): Promise<NonNullable<LoadResult['warmup']>> {
  const windows: number[] = [];
  let seconds = 0;
  for (;;) {
    const window = await autocannon({ ...base, duration: windowSec });
    windows.push(Math.round(window.requests.total / window.duration));
    seconds += windowSec;
    const last = windows.slice(-3);
    const steady = last.length === 3 && Math.max(...last) <= Math.min(...last) * (1 + tolerance);
    if ((steady && seconds >= spec.warmupSec) || seconds >= maxSec) return { seconds, steady, windows };
  }
}

function spent(before: number | undefined, after: number | undefined): number | null {
  return before === undefined || after === undefined ? null : after - before;
}
