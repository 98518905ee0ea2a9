import path from 'node:path';
import { bool, cleanEnv, makeValidator, num, str, url, type CleanOptions } from 'envalid';
import { resolveCors, type CorsConfig } from './http/cors-config.ts';
import { deriveMemoryBudget, type MemoryBudget } from './memory-budget.ts';
import { resolveAuthConfig, type AuthConfig } from './security/auth-config.ts';
import { resolvePersistedQueries, type PersistedQueriesConfig } from './security/persisted-config.ts';
import { resolveRateLimits, type RoleBudgets } from './security/rate-limit-budget.ts';

/** Iceberg housekeeping (see `MedallionRunner.housekeep`). */
export interface HousekeepingConfig {
  /** Time between housekeeping runs in ms (MEDALLION_HOUSEKEEPING_INTERVAL_MS); 0 turns the schedule off. Default 3600000. */
  readonly intervalMs: number;
  /** Files smaller than this are compacted by `optimize` (ICEBERG_COMPACT_FILE_SIZE), a Trino data size. Default `128MB`. */
  readonly fileSizeThreshold: string;
  /** Snapshots older than this are expired (ICEBERG_SNAPSHOT_RETENTION), a Trino duration; Trino refuses less than its `iceberg.expire-snapshots.min-retention` (7d by default). Default `7d`. */
  readonly snapshotRetention: string;
  /** Unreferenced files older than this are deleted (ICEBERG_ORPHAN_FILE_RETENTION); Trino's minimum is `iceberg.remove-orphan-files.min-retention` (7d by default). Default `7d`. */
  readonly orphanFileRetention: string;
}

/** A Trino duration literal (`7d`, `36h`, `90m`): what `retention_threshold` takes. */
const duration = makeValidator<string>((input) => {
  if (!/^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/.test(input)) throw new Error(`expected a duration such as 7d, 36h or 90m, got "${input}"`);
  return input;
});

/** A Trino data size literal (`128MB`, `1GB`): what `file_size_threshold` takes. */
const dataSize = makeValidator<string>((input) => {
  if (!/^\d+(?:\.\d+)?(?:B|kB|MB|GB|TB)$/.test(input)) throw new Error(`expected a data size such as 128MB or 1GB, got "${input}"`);
  return input;
});

/** Typed, frozen gateway configuration. Read once at start-up by `loadConfig`; nothing else reads the environment. */
export interface Config {
  /** HTTP and WebSocket port. Default 4000; 0 picks a free port. */
  readonly port: number;
  /** Interface to bind. Default `0.0.0.0`. */
  readonly host: string;
  /** Directory of the embedded lakehouse file and other local state. Default `.data` under the working directory. */
  readonly dataDir: string;
  /** Demo-data size multiplier (1 ≈ 50k events; 100 ≈ 5M). Default 1. */
  readonly demoScale: number;
  /** Seed of the deterministic demo-data generator. Default 42. */
  readonly demoSeed: number;
  /** End of the demo year of events (ISO date). Default: today, 00:00 UTC. */
  readonly demoAnchor: Date | undefined;
  /** Build demo data on first start when the lakehouse is empty. Default true. */
  readonly demoData: boolean;
  /** pino log level. Default `info` (`silent` under tests). */
  readonly logLevel: string;
  /** Time budget of one backend call, in ms. Default 10000; a call over budget fails its fields with BACKEND_TIMEOUT. */
  readonly backendTimeoutMs: number;
  /**
   * Budget per call of each role (LAKEHOUSE_TIMEOUT_MS, ANALYTICS_TIMEOUT_MS, SEARCH_TIMEOUT_MS,
   * BUS_TIMEOUT_MS). Default: BACKEND_TIMEOUT_MS. The bus's budget bounds a publish: past it the
   * mutation fails with BACKEND_UNAVAILABLE and nothing is acknowledged.
   */
  readonly roleTimeoutMs: Readonly<Record<'lakehouse' | 'analytics' | 'search' | 'bus', number>>;
  /** Retries and circuit breaking per role (see src/backends/resilience.ts). */
  readonly resilience: {
    /** Further attempts of a read after a refused or dropped connection (BACKEND_RETRIES). Default 1; 0 turns retries off. */
    readonly retries: number;
    /** Base of the full-jitter backoff between attempts, in ms (BACKEND_RETRY_DELAY_MS). Default 50. */
    readonly retryDelayMs: number;
    /** The breaker opens when more than this % of a role's calls in the window failed (BREAKER_ERROR_PERCENT). Default 50. */
    readonly errorThresholdPercent: number;
    /** Calls in the window before a breaker may open (BREAKER_VOLUME). Default 10. */
    readonly volumeThreshold: number;
    /** Time an open breaker fails fast before one trial call, in ms (BREAKER_RESET_MS). Default 5000. */
    readonly resetTimeoutMs: number;
    /** Rolling window of call outcomes, in ms (BREAKER_WINDOW_MS). Default 10000. */
    readonly windowMs: number;
  };
  /** Largest `first` a connection accepts. Default 100; more is BAD_USER_INPUT. */
  readonly maxPageSize: number;
  /**
   * Rows one `Query.analytics` question may read, by the engine's estimate, per role
   * (ANALYTICS_MAX_ROWS_APP default 1000000; ANALYTICS_MAX_ROWS_ANALYST default 100000000, also
   * admin's). More is QUERY_TOO_COMPLEX before the question runs.
   */
  readonly analyticsMaxRows: Readonly<{ app: number; analyst: number }>;
  /** Deepest field nesting an operation may have. Default 10; deeper is QUERY_TOO_COMPLEX before execution. */
  readonly maxQueryDepth: number;
  /** Aliased fields an operation may use. Default 30; more is QUERY_TOO_COMPLEX. */
  readonly maxQueryAliases: number;
  /** Largest estimated cost (1 per field, children times `first`). Default 10000; more is QUERY_TOO_COMPLEX. */
  readonly maxQueryCost: number;
  /** Lexical tokens a document may have; the parser stops past it. Default 5000; more is QUERY_TOO_COMPLEX. */
  readonly maxQueryTokens: number;
  /** Operations one HTTP request may batch (a JSON array). Default 1: batches are refused with BAD_USER_INPUT. */
  readonly maxBatchOperations: number;
  /**
   * HTTP connection timeouts, in ms (see src/http/server-timeouts.ts); 0 turns one off.
   * `headersMs` (HTTP_HEADERS_TIMEOUT_MS, default 10000): a request's headers must arrive within it;
   * `requestMs` (HTTP_REQUEST_TIMEOUT_MS, default 30000): its whole body too; `keepAliveMs`
   * (HTTP_KEEP_ALIVE_TIMEOUT_MS, default 65000): an idle kept-alive connection closes after it;
   * `idleMs` (HTTP_IDLE_TIMEOUT_MS, default 120000): a request's socket with no bytes either way for
   * this long is destroyed. Event streams and graphql-ws connections are exempt from the last two.
   */
  readonly httpTimeouts: Readonly<{ headersMs: number; requestMs: number; keepAliveMs: number; idleMs: number }>;
  /** Largest HTTP request body (and graphql-ws message), in bytes. Default 1048576 (1 MiB); larger bodies get 413. */
  readonly maxBodyBytes: number;
  /** Objects and arrays a `JSON` argument value may nest. Default 32; deeper is BAD_USER_INPUT naming where. */
  readonly maxJsonDepth: number;
  /** Entries kept in the in-process LRU (besides its byte budget, `memory.cacheBytes`). Default 10000. */
  readonly cacheMaxEntries: number;
  /**
   * The process's memory budget (MEMORY_BUDGET_MB; default 75% of the container's limit) and the
   * share of each engine and cache (DUCKDB_MEMORY_LIMIT_MB, CACHE_MAX_MB override theirs). See src/memory-budget.ts.
   */
  readonly memory: MemoryBudget;
  /** Give the JavaScript heap back once a busy spell is followed by an idle one (src/memory-reclaim.ts). Default true. */
  readonly memoryReclaim: boolean;
  /** Serve repeated queries from the response cache. Default true (benchmarks turn it off to measure execution). */
  readonly responseCache: boolean;
  /** Time to live of reference rows (tours, destinations) in the cache role, in ms; 0 turns it off. Default 30000. */
  readonly loaderCacheTtlMs: number;
  /**
   * The in-process catalogue replica (tours, destinations), refreshed on every medallion commit
   * that changes them: catalogue reads never wait on the lakehouse. Default true; `maxRows` per
   * table above which the catalogue stays on the lakehouse (default 100000).
   */
  readonly catalogueReplica: { readonly enabled: boolean; readonly maxRows: number };
  /** Execute queries with graphql-jit (compiled once per document) instead of graphql-js. Default true. */
  readonly graphqlJit: boolean;
  /** Add `extensions.backends` (adapter, calls, time per role) to responses. Default true. */
  readonly backendExtensions: boolean;
  /** Serve the GraphiQL page at the GraphQL path for browsers. Default true. */
  readonly graphiql: boolean;
  /** Serve the platform's REST routes under `/api/`, their OpenAPI document and docs page. Default true. */
  readonly restApi: boolean;
  /** The REST mapping (YAML). Default `src/http/rest/routes.yaml` of the gateway; a bad file fails start-up. */
  readonly restRoutesFile: string | undefined;
  /** Serve the schema as an Apollo Federation v2 subgraph (`_service`, `_entities`, `@key`s; src/federation/). Default false. */
  readonly federation: boolean;
  /** Delay before new events are promoted bronze → silver, in ms (debounce). Default 50. */
  readonly medallionDebounceMs: number;
  /** Time between scheduled medallion runs, in ms (runs also follow new events); 0 turns the schedule off. Default 60000. */
  readonly medallionIntervalMs: number;
  /** Iceberg maintenance of the tables the medallion writes, run by whichever process runs the medallion (DuckDB needs none). */
  readonly housekeeping: HousekeepingConfig;
  /** Read-your-writes and stale-while-error (src/freshness/). */
  readonly freshness: {
    /** Longest a `@readAfter` query waits for its write to be materialised, in ms (READ_AFTER_MAX_WAIT_MS); clients may ask for less. Default 2000. */
    readonly readAfterMaxWaitMs: number;
    /**
     * How old a kept answer may be and still be served, marked stale, when a role's backend fails
     * (STALE_GRACE_MS_LAKEHOUSE, _ANALYTICS, _SEARCH), in ms; 0 turns it off for the role.
     * Defaults 300000, 300000, 60000.
     */
    readonly staleGraceMs: Readonly<Record<'lakehouse' | 'analytics' | 'search', number>>;
  };
  /**
   * Where the medallion runs: `in-process` (in this gateway) or `off` (another process, the
   * `npm run medallion` worker, runs it). Undefined: the lakehouse decides (in-process when it is
   * embedded, off with Trino).
   */
  readonly medallion: 'in-process' | 'off' | undefined;
  /** Worker: most records one medallion pass lands (a fuller buffer runs a pass at once). Default 10000. */
  readonly medallionBatchSize: number;
  /** Worker: wait after records arrive before a pass, so they share one batch, in ms. Default 1000. */
  readonly medallionBatchIntervalMs: number;
  /** Worker: Kafka consumer group of the medallion worker's replicas. Default `nexus-medallion`. */
  readonly medallionGroupId: string;
  /**
   * Worker: the consumer group's session timeout, in ms: how long a replica that died without
   * leaving the group keeps the partitions before a standby takes over. Default 30000.
   */
  readonly medallionSessionTimeoutMs: number;
  /** The source registry (YAML). Default `ingest/sources.yaml` of the gateway. */
  readonly sourcesFile: string | undefined;
  /** Worker threads of the embedded DuckDB. Default: the cores this process may run on. */
  readonly duckdbThreads: number | undefined;
  /** Serve Prometheus metrics at `GET /metrics` (and record them). Default true. */
  readonly metrics: boolean;
  /** OTLP/HTTP endpoint traces are exported to (`OTEL_EXPORTER_OTLP_ENDPOINT`, spans to `<it>/v1/traces`); unset: no tracing, no cost. */
  readonly otelEndpoint: string | undefined;
  /** `service.name` of exported spans (`OTEL_SERVICE_NAME`). Default `nexus-gateway`. */
  readonly otelServiceName: string;
  /** Share of new traces kept, 0..1 (`OTEL_TRACES_SAMPLER_ARG`; a caller's sampled `traceparent` is followed). Default 1. */
  readonly otelSampleRatio: number;
  /**
   * Authentication (AUTH_MODE, API_KEYS / API_KEYS_FILE, JWT_*). Enforced when any credential is
   * configured or AUTH_MODE=enforce; otherwise open (every caller is admin). See src/security/auth-config.ts.
   */
  readonly auth: AuthConfig;
  /**
   * Per-principal budgets by role (RATE_LIMIT_PUBLIC / _APP / _ANALYST / _ADMIN, written `10/s burst
   * 20` or `off`); undefined when RATE_LIMITS=off. Over budget is RATE_LIMITED (HTTP 429). See
   * src/security/rate-limit.ts.
   */
  readonly rateLimits: RoleBudgets | undefined;
  /** Automatic persisted queries and the allow-list mode. See src/security/persisted-config.ts. */
  readonly persistedQueries: PersistedQueriesConfig;
  /**
   * Browsers on other origins (CORS_ORIGINS, CORS_CREDENTIALS, CORS_MAX_AGE). Default: none with
   * access enforced, pages on this machine (localhost, any port) in open mode. See src/http/cors-config.ts.
   */
  readonly cors: CorsConfig;
  /** graphql-ws operations one connection may run at once. Default 20; more is RATE_LIMITED. */
  readonly subscriptionsPerConnection: number;
  /** graphql-ws operations one instance runs at once, all connections together. Default 10000; more is RATE_LIMITED. */
  readonly subscriptionsMax: number;
  /** Production engines; when unset, the role runs embedded. */
  readonly trinoUrl: string | undefined;
  readonly clickhouseUrl: string | undefined;
  /** Analytics reads one instance sends ClickHouse at once (CLICKHOUSE_MAX_CONNECTIONS, default 10); more wait for a connection. */
  readonly clickhouseMaxConnections: number;
  readonly elasticsearchUrl: string | undefined;
  readonly redisUrl: string | undefined;
  readonly kafkaBrokers: readonly string[] | undefined;
}

/** Thrown by `loadConfig` with one line per bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Turns an environment into a `Config`; fails with one message naming every bad variable. */
/**
 * The configuration of a process entry point (`npm start`, `npm run medallion`): on a bad
 * configuration it prints the one clear message and exits with status 2.
 */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const options: CleanOptions<Record<string, unknown>> = {
    reporter: ({ errors }) => {
      const names = Object.keys(errors);
      if (names.length === 0) return;
      const lines = names.map((name) => `  ${name}: ${(errors[name] as Error).message}`);
      throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
    },
  };
  const clean = cleanEnv(
    env,
    {
      PORT: num({ default: 4000 }),
      HOST: str({ default: '0.0.0.0' }),
      DATA_DIR: str({ default: '.data' }),
      DEMO_SCALE: num({ default: 1 }),
      DEMO_SEED: num({ default: 42 }),
      DEMO_DATA: bool({ default: true }),
      DEMO_ANCHOR: str({ default: undefined }),
      LOG_LEVEL: str({
        default: 'info',
        choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      }),
      BACKEND_TIMEOUT_MS: num({ default: 10_000 }),
      LAKEHOUSE_TIMEOUT_MS: num({ default: undefined }),
      ANALYTICS_TIMEOUT_MS: num({ default: undefined }),
      ANALYTICS_MAX_ROWS_APP: num({ default: 1_000_000 }),
      ANALYTICS_MAX_ROWS_ANALYST: num({ default: 100_000_000 }),
      SEARCH_TIMEOUT_MS: num({ default: undefined }),
      BUS_TIMEOUT_MS: num({ default: undefined }),
      BACKEND_RETRIES: num({ default: 1 }),
      BACKEND_RETRY_DELAY_MS: num({ default: 50 }),
      BREAKER_ERROR_PERCENT: num({ default: 50 }),
      BREAKER_VOLUME: num({ default: 10 }),
      BREAKER_RESET_MS: num({ default: 5_000 }),
      BREAKER_WINDOW_MS: num({ default: 10_000 }),
      MAX_PAGE_SIZE: num({ default: 100 }),
      MAX_QUERY_DEPTH: num({ default: 10 }),
      MAX_QUERY_ALIASES: num({ default: 30 }),
      MAX_QUERY_COST: num({ default: 10_000 }),
      MAX_QUERY_TOKENS: num({ default: 5_000 }),
      MAX_BATCH_OPERATIONS: num({ default: 1 }),
      MAX_BODY_BYTES: num({ default: 1_048_576 }),
      HTTP_HEADERS_TIMEOUT_MS: num({ default: 10_000 }),
      HTTP_REQUEST_TIMEOUT_MS: num({ default: 30_000 }),
      HTTP_KEEP_ALIVE_TIMEOUT_MS: num({ default: 65_000 }),
      HTTP_IDLE_TIMEOUT_MS: num({ default: 120_000 }),
      MAX_JSON_DEPTH: num({ default: 32 }),
      CACHE_MAX_ENTRIES: num({ default: 10_000 }),
      CACHE_MAX_MB: num({ default: undefined }),
      MEMORY_BUDGET_MB: num({ default: undefined }),
      DUCKDB_MEMORY_LIMIT_MB: num({ default: undefined }),
      MEMORY_RECLAIM: bool({ default: true }),
      GRAPHIQL: bool({ default: true }),
      REST_API: bool({ default: true }),
      REST_ROUTES_FILE: str({ default: undefined }),
      FEDERATION: bool({ default: false }),
      RESPONSE_CACHE: bool({ default: true }),
      BACKEND_EXTENSIONS: bool({ default: true }),
      LOADER_CACHE_TTL_MS: num({ default: 30_000 }),
      CATALOGUE_REPLICA: bool({ default: true }),
      GRAPHQL_JIT: bool({ default: true }),
      CATALOGUE_REPLICA_MAX_ROWS: num({ default: 100_000 }),
      MEDALLION_DEBOUNCE_MS: num({ default: 50 }),
      MEDALLION_INTERVAL_MS: num({ default: 60_000 }),
      MEDALLION_HOUSEKEEPING_INTERVAL_MS: num({ default: 3_600_000 }),
      ICEBERG_COMPACT_FILE_SIZE: dataSize({ default: '128MB' }),
      ICEBERG_SNAPSHOT_RETENTION: duration({ default: '7d' }),
      ICEBERG_ORPHAN_FILE_RETENTION: duration({ default: '7d' }),
      READ_AFTER_MAX_WAIT_MS: num({ default: 2_000 }),
      STALE_GRACE_MS_LAKEHOUSE: num({ default: 300_000 }),
      STALE_GRACE_MS_ANALYTICS: num({ default: 300_000 }),
      STALE_GRACE_MS_SEARCH: num({ default: 60_000 }),
      MEDALLION: str({ default: undefined, choices: ['in-process', 'off'] as const }),
      MEDALLION_BATCH_SIZE: num({ default: 10_000 }),
      MEDALLION_BATCH_INTERVAL_MS: num({ default: 1_000 }),
      MEDALLION_GROUP_ID: str({ default: 'nexus-medallion' }),
      MEDALLION_SESSION_TIMEOUT_MS: num({ default: 30_000 }),
      SOURCES_FILE: str({ default: undefined }),
      DUCKDB_THREADS: num({ default: undefined }),
      METRICS: bool({ default: true }),
      OTEL_EXPORTER_OTLP_ENDPOINT: url({ default: undefined }),
      OTEL_SERVICE_NAME: str({ default: 'nexus-gateway' }),
      OTEL_TRACES_SAMPLER_ARG: num({ default: 1 }),
      AUTH_MODE: str({ default: 'auto', choices: ['auto', 'open', 'enforce'] as const }),
      API_KEYS: str({ default: undefined }),
      API_KEYS_FILE: str({ default: undefined }),
      JWT_SECRET: str({ default: undefined }),
      JWT_JWKS_URL: url({ default: undefined }),
      JWT_ISSUER: str({ default: undefined }),
      JWT_AUDIENCE: str({ default: undefined }),
      JWT_ROLE_CLAIM: str({ default: 'role' }),
      RATE_LIMITS: bool({ default: true }),
      RATE_LIMIT_PUBLIC: str({ default: '10/s burst 20' }),
      RATE_LIMIT_APP: str({ default: '50/s burst 100' }),
      RATE_LIMIT_ANALYST: str({ default: '20/s burst 40' }),
      RATE_LIMIT_ADMIN: str({ default: 'off' }),
      APQ: bool({ default: true }),
      APQ_TTL_MS: num({ default: 86_400_000 }),
      PERSISTED_QUERIES_MODE: str({ default: 'off', choices: ['off', 'allow-list'] as const }),
      PERSISTED_QUERIES_FILE: str({ default: undefined }),
      PERSISTED_QUERIES_BYPASS: str({ default: 'analyst', choices: ['analyst', 'admin', 'none'] as const }),
      CORS_ORIGINS: str({ default: undefined }),
      CORS_CREDENTIALS: bool({ default: false }),
      CORS_MAX_AGE: num({ default: 600 }),
      SUBSCRIPTIONS_PER_CONNECTION: num({ default: 20 }),
      SUBSCRIPTIONS_MAX: num({ default: 10_000 }),
      TRINO_URL: url({ default: undefined }),
      CLICKHOUSE_URL: url({ default: undefined }),
      CLICKHOUSE_MAX_CONNECTIONS: num({ default: 10 }),
      ELASTICSEARCH_URL: url({ default: undefined }),
      REDIS_URL: url({ default: undefined }),
      KAFKA_BROKERS: str({ default: undefined }),
    },
    options,
  );
  const problems: string[] = [];
  const positive = (name: string, value: number) => {
    if (!(value > 0)) problems.push(`  ${name}: must be a positive number, got ${value}`);
  };
  // 0 asks the OS for a free port (tests, benchmarks).
  if (!Number.isInteger(clean.PORT) || clean.PORT < 0 || clean.PORT > 65_535) problems.push(`  PORT: must be an integer from 0 to 65535, got ${clean.PORT}`);
  positive('DEMO_SCALE', clean.DEMO_SCALE);
  positive('BACKEND_TIMEOUT_MS', clean.BACKEND_TIMEOUT_MS);
  for (const name of ['LAKEHOUSE_TIMEOUT_MS', 'ANALYTICS_TIMEOUT_MS', 'SEARCH_TIMEOUT_MS', 'BUS_TIMEOUT_MS'] as const) {
    if (clean[name] !== undefined) positive(name, clean[name]);
  }
  positive('BREAKER_RESET_MS', clean.BREAKER_RESET_MS);
  positive('BREAKER_WINDOW_MS', clean.BREAKER_WINDOW_MS);
  for (const name of ['BACKEND_RETRIES', 'BREAKER_VOLUME'] as const) {
    if (!Number.isInteger(clean[name]) || clean[name] < 0) problems.push(`  ${name}: must be an integer ≥ 0, got ${clean[name]}`);
  }
  if (!(clean.BACKEND_RETRY_DELAY_MS >= 0)) problems.push(`  BACKEND_RETRY_DELAY_MS: must be a number ≥ 0, got ${clean.BACKEND_RETRY_DELAY_MS}`);
  if (!(clean.BREAKER_ERROR_PERCENT > 0 && clean.BREAKER_ERROR_PERCENT <= 100)) {
    problems.push(`  BREAKER_ERROR_PERCENT: must be a percentage above 0 and at most 100, got ${clean.BREAKER_ERROR_PERCENT}`);
  }
  positive('MAX_PAGE_SIZE', clean.MAX_PAGE_SIZE);
  positive('ANALYTICS_MAX_ROWS_APP', clean.ANALYTICS_MAX_ROWS_APP);
  positive('ANALYTICS_MAX_ROWS_ANALYST', clean.ANALYTICS_MAX_ROWS_ANALYST);
  for (const name of ['MAX_QUERY_DEPTH', 'MAX_QUERY_ALIASES', 'MAX_QUERY_COST', 'MAX_QUERY_TOKENS', 'MAX_BATCH_OPERATIONS', 'MAX_BODY_BYTES', 'MAX_JSON_DEPTH', 'CLICKHOUSE_MAX_CONNECTIONS'] as const) {
    if (!Number.isInteger(clean[name]) || clean[name] < 1) problems.push(`  ${name}: must be a positive integer, got ${clean[name]}`);
  }
  positive('CACHE_MAX_ENTRIES', clean.CACHE_MAX_ENTRIES);
  positive('CATALOGUE_REPLICA_MAX_ROWS', clean.CATALOGUE_REPLICA_MAX_ROWS);
  for (const name of ['HTTP_HEADERS_TIMEOUT_MS', 'HTTP_REQUEST_TIMEOUT_MS', 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 'HTTP_IDLE_TIMEOUT_MS'] as const) {
    if (!Number.isInteger(clean[name]) || clean[name] < 0) problems.push(`  ${name}: must be an integer ≥ 0 (0 turns it off), got ${clean[name]}`);
  }
  // Node refuses a headers timeout longer than the request's: the headers are part of the request.
  if (clean.HTTP_REQUEST_TIMEOUT_MS > 0 && clean.HTTP_HEADERS_TIMEOUT_MS > clean.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push(`  HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (${clean.HTTP_REQUEST_TIMEOUT_MS}), got ${clean.HTTP_HEADERS_TIMEOUT_MS}`);
  }
  for (const name of ['CACHE_MAX_MB', 'MEMORY_BUDGET_MB', 'DUCKDB_MEMORY_LIMIT_MB'] as const) {
    if (clean[name] !== undefined) positive(name, clean[name]);
  }
  if (clean.DUCKDB_THREADS !== undefined) positive('DUCKDB_THREADS', clean.DUCKDB_THREADS);
  if (!(clean.OTEL_TRACES_SAMPLER_ARG >= 0 && clean.OTEL_TRACES_SAMPLER_ARG <= 1)) {
    problems.push(`  OTEL_TRACES_SAMPLER_ARG: must be a ratio from 0 to 1, got ${clean.OTEL_TRACES_SAMPLER_ARG}`);
  }
  const anchor = clean.DEMO_ANCHOR === undefined ? undefined : new Date(clean.DEMO_ANCHOR);
  if (anchor && Number.isNaN(anchor.getTime())) problems.push(`  DEMO_ANCHOR: must be an ISO date, got "${clean.DEMO_ANCHOR}"`);
  const { auth, problems: authProblems } = resolveAuthConfig(clean);
  problems.push(...authProblems);
  const rateLimits = resolveRateLimits(clean, problems);
  const persistedQueries = resolvePersistedQueries(clean, problems);
  const cors = resolveCors(clean, auth.mode, problems);
  for (const name of ['SUBSCRIPTIONS_PER_CONNECTION', 'SUBSCRIPTIONS_MAX'] as const) {
    if (!Number.isInteger(clean[name]) || clean[name] < 1) problems.push(`  ${name}: must be a positive integer, got ${clean[name]}`);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);

  const brokers = clean.KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean);
  return Object.freeze({
    port: clean.PORT,
    host: clean.HOST,
    dataDir: path.resolve(clean.DATA_DIR),
    demoScale: clean.DEMO_SCALE,
    demoSeed: clean.DEMO_SEED,
    demoData: clean.DEMO_DATA,
    demoAnchor: anchor,
    logLevel: clean.LOG_LEVEL,
    backendTimeoutMs: clean.BACKEND_TIMEOUT_MS,
    roleTimeoutMs: Object.freeze({
      lakehouse: clean.LAKEHOUSE_TIMEOUT_MS ?? clean.BACKEND_TIMEOUT_MS,
      analytics: clean.ANALYTICS_TIMEOUT_MS ?? clean.BACKEND_TIMEOUT_MS,
      search: clean.SEARCH_TIMEOUT_MS ?? clean.BACKEND_TIMEOUT_MS,
      bus: clean.BUS_TIMEOUT_MS ?? clean.BACKEND_TIMEOUT_MS,
    }),
    resilience: Object.freeze({
      retries: clean.BACKEND_RETRIES,
      retryDelayMs: clean.BACKEND_RETRY_DELAY_MS,
      errorThresholdPercent: clean.BREAKER_ERROR_PERCENT,
      volumeThreshold: clean.BREAKER_VOLUME,
      resetTimeoutMs: clean.BREAKER_RESET_MS,
      windowMs: clean.BREAKER_WINDOW_MS,
    }),
    maxPageSize: Math.floor(clean.MAX_PAGE_SIZE),
    analyticsMaxRows: Object.freeze({ app: Math.floor(clean.ANALYTICS_MAX_ROWS_APP), analyst: Math.floor(clean.ANALYTICS_MAX_ROWS_ANALYST) }),
    maxQueryDepth: clean.MAX_QUERY_DEPTH,
    maxQueryAliases: clean.MAX_QUERY_ALIASES,
    maxQueryCost: clean.MAX_QUERY_COST,
    maxQueryTokens: clean.MAX_QUERY_TOKENS,
    maxBatchOperations: clean.MAX_BATCH_OPERATIONS,
    maxBodyBytes: clean.MAX_BODY_BYTES,
    httpTimeouts: Object.freeze({
      headersMs: clean.HTTP_HEADERS_TIMEOUT_MS,
      requestMs: clean.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveMs: clean.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      idleMs: clean.HTTP_IDLE_TIMEOUT_MS,
    }),
    maxJsonDepth: clean.MAX_JSON_DEPTH,
    cacheMaxEntries: Math.floor(clean.CACHE_MAX_ENTRIES),
    memoryReclaim: clean.MEMORY_RECLAIM,
    memory: deriveMemoryBudget({ budgetMb: clean.MEMORY_BUDGET_MB, duckdbMb: clean.DUCKDB_MEMORY_LIMIT_MB, cacheMb: clean.CACHE_MAX_MB, subscriptionsMax: clean.SUBSCRIPTIONS_MAX }),
    graphiql: clean.GRAPHIQL,
    restApi: clean.REST_API,
    restRoutesFile: clean.REST_ROUTES_FILE === undefined ? undefined : path.resolve(clean.REST_ROUTES_FILE),
    federation: clean.FEDERATION,
    responseCache: clean.RESPONSE_CACHE,
    backendExtensions: clean.BACKEND_EXTENSIONS,
    loaderCacheTtlMs: Math.max(0, clean.LOADER_CACHE_TTL_MS),
    graphqlJit: clean.GRAPHQL_JIT,
    catalogueReplica: Object.freeze({ enabled: clean.CATALOGUE_REPLICA, maxRows: Math.floor(clean.CATALOGUE_REPLICA_MAX_ROWS) }),
    medallionDebounceMs: clean.MEDALLION_DEBOUNCE_MS,
    medallionIntervalMs: Math.max(0, clean.MEDALLION_INTERVAL_MS),
    housekeeping: Object.freeze({
      intervalMs: Math.max(0, clean.MEDALLION_HOUSEKEEPING_INTERVAL_MS),
      fileSizeThreshold: clean.ICEBERG_COMPACT_FILE_SIZE,
      snapshotRetention: clean.ICEBERG_SNAPSHOT_RETENTION,
      orphanFileRetention: clean.ICEBERG_ORPHAN_FILE_RETENTION,
    }),
    freshness: Object.freeze({
      readAfterMaxWaitMs: Math.max(0, clean.READ_AFTER_MAX_WAIT_MS),
      staleGraceMs: Object.freeze({
        lakehouse: Math.max(0, clean.STALE_GRACE_MS_LAKEHOUSE),
        analytics: Math.max(0, clean.STALE_GRACE_MS_ANALYTICS),
        search: Math.max(0, clean.STALE_GRACE_MS_SEARCH),
      }),
    }),
    medallion: clean.MEDALLION,
    medallionBatchSize: Math.max(1, Math.floor(clean.MEDALLION_BATCH_SIZE)),
    medallionBatchIntervalMs: Math.max(0, clean.MEDALLION_BATCH_INTERVAL_MS),
    medallionGroupId: clean.MEDALLION_GROUP_ID,
    medallionSessionTimeoutMs: Math.max(1_000, clean.MEDALLION_SESSION_TIMEOUT_MS),
    sourcesFile: clean.SOURCES_FILE === undefined ? undefined : path.resolve(clean.SOURCES_FILE),
    duckdbThreads: clean.DUCKDB_THREADS,
    metrics: clean.METRICS,
    otelEndpoint: clean.OTEL_EXPORTER_OTLP_ENDPOINT,
    otelServiceName: clean.OTEL_SERVICE_NAME,
    otelSampleRatio: clean.OTEL_TRACES_SAMPLER_ARG,
    auth,
    rateLimits,
    persistedQueries,
    cors,
    subscriptionsPerConnection: clean.SUBSCRIPTIONS_PER_CONNECTION,
    subscriptionsMax: clean.SUBSCRIPTIONS_MAX,
    trinoUrl: clean.TRINO_URL,
    clickhouseUrl: clean.CLICKHOUSE_URL,
    clickhouseMaxConnections: clean.CLICKHOUSE_MAX_CONNECTIONS,
    elasticsearchUrl: clean.ELASTICSEARCH_URL,
    redisUrl: clean.REDIS_URL,
    kafkaBrokers: brokers && brokers.length > 0 ? Object.freeze(brokers) : undefined,
  });
}
