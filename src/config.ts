import path from 'node:path';
import { bool, cleanEnv, num, str, url, type CleanOptions } from 'envalid';

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
  /** Largest `first` a connection accepts. Default 100; more is BAD_USER_INPUT. */
  readonly maxPageSize: number;
  /** Response-cache entries kept in the in-process LRU. Default 10000. */
  readonly cacheMaxEntries: number;
  /** Serve repeated queries from the response cache. Default true (benchmarks turn it off to measure execution). */
  readonly responseCache: boolean;
  /** Time to live of reference rows (tours, destinations) in the cache role, in ms; 0 turns it off. Default 30000. */
  readonly loaderCacheTtlMs: number;
  /** Add `extensions.backends` (adapter, calls, time per role) to responses. Default true. */
  readonly backendExtensions: boolean;
  /** Serve the GraphiQL page at the GraphQL path for browsers. Default true. */
  readonly graphiql: boolean;
  /** Delay before new events are promoted bronze → silver, in ms (debounce). Default 50. */
  readonly medallionDebounceMs: number;
  /** Time between scheduled medallion runs, in ms (runs also follow new events); 0 turns the schedule off. Default 60000. */
  readonly medallionIntervalMs: number;
  /** The source registry (YAML). Default `ingest/sources.yaml` of the gateway. */
  readonly sourcesFile: string | undefined;
  /** Worker threads of the embedded DuckDB. Default: the cores this process may run on. */
  readonly duckdbThreads: number | undefined;
  /** Production engines; when unset, the role runs embedded. */
  readonly trinoUrl: string | undefined;
  readonly clickhouseUrl: string | undefined;
  readonly elasticsearchUrl: string | undefined;
  readonly redisUrl: string | undefined;
  readonly kafkaBrokers: readonly string[] | undefined;
}

/** Thrown by `loadConfig` with one line per bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Turns an environment into a `Config`; fails with one message naming every bad variable. */
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
      MAX_PAGE_SIZE: num({ default: 100 }),
      CACHE_MAX_ENTRIES: num({ default: 10_000 }),
      GRAPHIQL: bool({ default: true }),
      RESPONSE_CACHE: bool({ default: true }),
      BACKEND_EXTENSIONS: bool({ default: true }),
      LOADER_CACHE_TTL_MS: num({ default: 30_000 }),
      MEDALLION_DEBOUNCE_MS: num({ default: 50 }),
      MEDALLION_INTERVAL_MS: num({ default: 60_000 }),
      SOURCES_FILE: str({ default: undefined }),
      DUCKDB_THREADS: num({ default: undefined }),
      TRINO_URL: url({ default: undefined }),
      CLICKHOUSE_URL: url({ default: undefined }),
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
  positive('MAX_PAGE_SIZE', clean.MAX_PAGE_SIZE);
  positive('CACHE_MAX_ENTRIES', clean.CACHE_MAX_ENTRIES);
  if (clean.DUCKDB_THREADS !== undefined) positive('DUCKDB_THREADS', clean.DUCKDB_THREADS);
  const anchor = clean.DEMO_ANCHOR === undefined ? undefined : new Date(clean.DEMO_ANCHOR);
  if (anchor && Number.isNaN(anchor.getTime())) problems.push(`  DEMO_ANCHOR: must be an ISO date, got "${clean.DEMO_ANCHOR}"`);
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
    maxPageSize: Math.floor(clean.MAX_PAGE_SIZE),
    cacheMaxEntries: Math.floor(clean.CACHE_MAX_ENTRIES),
    graphiql: clean.GRAPHIQL,
    responseCache: clean.RESPONSE_CACHE,
    backendExtensions: clean.BACKEND_EXTENSIONS,
    loaderCacheTtlMs: Math.max(0, clean.LOADER_CACHE_TTL_MS),
    medallionDebounceMs: clean.MEDALLION_DEBOUNCE_MS,
    medallionIntervalMs: Math.max(0, clean.MEDALLION_INTERVAL_MS),
    sourcesFile: clean.SOURCES_FILE === undefined ? undefined : path.resolve(clean.SOURCES_FILE),
    duckdbThreads: clean.DUCKDB_THREADS,
    trinoUrl: clean.TRINO_URL,
    clickhouseUrl: clean.CLICKHOUSE_URL,
    elasticsearchUrl: clean.ELASTICSEARCH_URL,
    redisUrl: clean.REDIS_URL,
    kafkaBrokers: brokers && brokers.length > 0 ? Object.freeze(brokers) : undefined,
  });
}
