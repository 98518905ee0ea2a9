/** Scenario ids, in run order: read-only scenarios first, the ones that write events last. */
export const SCENARIO_IDS = ['hello', 'single-tour', 'tour-list-50', 'nested-tours-50', 'catalogue-lists', 'regional-stats', 'subscription-fanout', 'subscription-fanout-10k', 'ingest-batch', 'medallion-landing', 'soak'] as const;

export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** What one `npm run bench` does, from its arguments and environment. */
export interface BenchOptions {
  /** Measured seconds per HTTP run. `BENCH_DURATION`, default 10; `--quick` → 3. */
  readonly durationSec: number;
  /** Unmeasured seconds of the same load before each measurement. Default 2; `--quick` → 1. */
  readonly warmupSec: number;
  /** Concurrent HTTP connections of the load generator. `BENCH_CONNECTIONS`, default 50. */
  readonly connections: number;
  /** graphql-ws subscribers of the fan-out scenario. `BENCH_SUBSCRIBERS`, default 1,000. */
  readonly subscribers: number;
  /** graphql-ws subscribers of the many-subscriber fan-out scenario. `BENCH_MANY_SUBSCRIBERS`, default 10,000. */
  readonly manySubscribers: number;
  /** Bookings sent one after another in the fan-out scenarios. `BENCH_EVENTS`, default 50. */
  readonly fanoutEvents: number;
  /** Events per `ingestEvents` call. `BENCH_BATCH`, default 500. */
  readonly ingestBatch: number;
  /**
   * Concurrent connections of the ingest scenario. `BENCH_INGEST_CONNECTIONS`, default 4: with
   * 50 × 500 events in flight the run would measure queueing in the writer, not throughput.
   */
  readonly ingestConnections: number;
  /** Booking and view events the landing scenario takes through the medallion. `BENCH_LANDING_EVENTS`, default 20,000. */
  readonly landingEvents: number;
  /**
   * Wait of each Trino write statement in the landing scenario, in ms: an Iceberg commit's
   * metadata write to object storage. `BENCH_COMMIT_LATENCY_MS`, default 250; 0 skips that run.
   */
  readonly commitLatencyMs: number;
  /** Varied `events(filter: { userId })` queries per soak phase. `BENCH_SOAK_QUERIES`, default 5,000. */
  readonly soakQueries: number;
  /** Wait the Trino fixture adds to every statement in the catalogue scenario (a coordinator's planning and scheduling). `BENCH_STATEMENT_LATENCY_MS`, default 200. */
  readonly statementLatencyMs: number;
  /** graphql-ws sockets of the soak's storm. `BENCH_SOAK_SOCKETS`, default 2,000. */
  readonly soakSockets: number;
  /** Seconds the soak waits after a load before reading the after-load RSS. `BENCH_SOAK_SETTLE`, default 25 (the gateway gives its heap back after 15 s idle). */
  readonly soakSettleSec: number;
  /** Scenarios to run (`--only=a,b`); all by default. */
  readonly only: readonly ScenarioId[];
  readonly quick: boolean;
}

/** Thrown with a message naming the bad argument or variable. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/** Reads `--quick`, `--only=…` and the `BENCH_*` variables; unknown arguments are errors. */
export function parseBenchOptions(argv: readonly string[], env: Record<string, string | undefined>): BenchOptions {
  let quick = false;
  let only: ScenarioId[] = [...SCENARIO_IDS];
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg.startsWith('--only=')) only = parseOnly(arg.slice('--only='.length));
    else throw new BenchUsageError(`Unknown argument "${arg}"; expected --quick or --only=${SCENARIO_IDS.join(',')}.`);
  }
  return Object.freeze({
    durationSec: positive(env, 'BENCH_DURATION', quick ? 3 : 10),
    warmupSec: positive(env, 'BENCH_WARMUP', quick ? 1 : 2),
    connections: positive(env, 'BENCH_CONNECTIONS', 50),
    subscribers: positive(env, 'BENCH_SUBSCRIBERS', 1_000),
    manySubscribers: Math.round(positive(env, 'BENCH_MANY_SUBSCRIBERS', 10_000)),
    fanoutEvents: positive(env, 'BENCH_EVENTS', 50),
    ingestBatch: positive(env, 'BENCH_BATCH', 500),
    ingestConnections: positive(env, 'BENCH_INGEST_CONNECTIONS', 4),
    landingEvents: Math.round(positive(env, 'BENCH_LANDING_EVENTS', 20_000)),
    commitLatencyMs: nonNegative(env, 'BENCH_COMMIT_LATENCY_MS', 250),
    statementLatencyMs: nonNegative(env, 'BENCH_STATEMENT_LATENCY_MS', 200),
    soakQueries: Math.round(positive(env, 'BENCH_SOAK_QUERIES', 5_000)),
    soakSockets: Math.round(positive(env, 'BENCH_SOAK_SOCKETS', 2_000)),
    soakSettleSec: positive(env, 'BENCH_SOAK_SETTLE', 25),
    only,
    quick,
  });
}

function parseOnly(list: string): ScenarioId[] {
  const wanted = list.split(',').map((s) => s.trim()).filter(Boolean);
  const known = new Set<string>(SCENARIO_IDS);
  const unknown = wanted.filter((id) => !known.has(id));
  if (wanted.length === 0 || unknown.length > 0) {
    throw new BenchUsageError(`--only takes scenario ids out of ${SCENARIO_IDS.join(', ')}; got "${list}".`);
  }
  // Keep the canonical order so writing scenarios still run after the read-only ones.
  return SCENARIO_IDS.filter((id) => wanted.includes(id));
}

function positive(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0) || !Number.isFinite(value)) throw new BenchUsageError(`${name} must be a positive number, got "${raw}".`);
  return value;
}

function nonNegative(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value >= 0) || !Number.isFinite(value)) throw new BenchUsageError(`${name} must be a number ≥ 0, got "${raw}".`);
  return value;
}
