import path from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { BusPort } from './bus/port.ts';
import { createEmbeddedLog } from './bus/embedded-log.ts';
import { createKafkaBus } from './bus/kafka.ts';
import { throttleKafkaLog } from './bus/kafka-log.ts';
import type { CachePort } from './cache/port.ts';
import { createLruCache } from './cache/lru.ts';
import { createClickHouseEngine } from './clickhouse/engine.ts';
import { createRedisCache } from './cache/redis.ts';
import { DuckDbDatabase } from './duckdb/database.ts';
import { LAKEHOUSE_DDL } from './duckdb/ddl.ts';
import { createDuckDbEngine } from './duckdb/engine.ts';
import type { BackendHealth } from './health.ts';
import { createBackendGuard, guardBus, guardSearch, guardSqlEngine, type BackendGuard } from './resilience.ts';
import type { SearchPort } from './search/port.ts';
import { createElasticsearchSearch } from './search/elasticsearch.ts';
import { createMiniSearch } from './search/minisearch.ts';
import type { SqlEngine } from './sql/port.ts';
import type { SqlWriter } from './sql/writer.ts';
import { createDuckDbWriter } from './duckdb/writer.ts';
import { createTrinoEngine } from './trino/engine.ts';
import { createTrinoWriter } from './trino/writer.ts';

/**
 * Longest each adapter's `close()` is waited for at shutdown, in ms; the gateway's stop() stays
 * within its drain budget whatever is down.
 */
export const CLOSE_BUDGET_MS = 2_000;

/** Adapters that run in this process (on the embedded file or in memory). */
const LOCAL_ADAPTERS = new Set(['duckdb', 'minisearch', 'lru', 'embedded']);

/** Waits for `closing` at most {@link CLOSE_BUDGET_MS}; a failed or late close is given up on (it was the last use). */
function bounded(closing: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_BUDGET_MS);
    timer.unref();
  });
  return Promise.race([closing.then(() => undefined, () => undefined), late]).finally(() => clearTimeout(timer));
}

/** The lakehouse as the medallion writes it. */
export interface LakehouseWrites {
  /** The lakehouse's writer (the embedded database's, or Trino's over Iceberg). */
  readonly writer: SqlWriter;
  /**
   * Whether the lakehouse is the embedded database: then the medallion runs in the gateway by
   * default and demo data is built at start; with Trino, a worker process runs it.
   */
  readonly embedded: boolean;
}

/** The five roles, each served by the adapter configuration picked. */
export interface Backends {
  readonly lakehouse: SqlEngine;
  readonly analytics: SqlEngine;
  readonly search: SearchPort;
  readonly cache: CachePort;
  readonly bus: BusPort;
  /** The embedded database file, when any role runs embedded. */
  readonly embedded: DuckDbDatabase | undefined;
  /** The lakehouse's write side (the medallion's). */
  readonly lakehouseWrites: LakehouseWrites;
  /** Every backend's health, probed in parallel. */
  health(): Promise<BackendHealth[]>;
  /** Closes every adapter, the bus last so acknowledged writes are flushed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Picks one adapter per role from the configuration: a role whose engine URL is set moves to
 * that engine; the rest run embedded on one DuckDB file under `dataDir`.
 */
export async function createBackends(
  config: Config,
  options: { eventTopics: readonly string[]; logger?: Logger } = { eventTopics: [] },
): Promise<Backends> {
  // The DuckDB file always opens: it holds whichever roles run embedded (and is empty otherwise).
  const database = await DuckDbDatabase.open({
    file: path.join(config.dataDir, 'nexus.duckdb'),
    ...(config.duckdbThreads ? { threads: config.duckdbThreads } : {}),
    memoryLimitBytes: config.memory.duckdbBytes,
    allocatorFlushBytes: config.memory.duckdbAllocatorFlushBytes,
    tempDirectory: path.join(config.dataDir, 'duckdb-spill'),
  });
  try {
    await database.exec(LAKEHOUSE_DDL);
    const logger = options.logger;
    const timeouts = config.roleTimeoutMs;
    // Every role but the cache gets a budget, read retries and a circuit breaker (resilience.ts).
    // The cache needs none: its adapters never fail a call (an unreachable Redis answers misses
    // at once, a frozen one within its 250 ms command budget), so there is no failure to count.
    const guard = (role: keyof typeof timeouts, adapter: string): BackendGuard =>
      createBackendGuard({
        role,
        adapter,
        policy: { timeoutMs: timeouts[role], ...config.resilience },
        onStateChange: (state, detail) =>
          state === 'open'
            ? logger?.warn({ ...detail, state }, `${role} circuit opened: calls fail fast`)
            : logger?.info({ ...detail, state }, `${role} circuit ${state === 'closed' ? 'closed: calls flow again' : 'half-open: one trial call'}`),
      });
    const rawLakehouse = config.trinoUrl
      ? createTrinoEngine({ url: config.trinoUrl, role: 'lakehouse', timeoutMs: timeouts.lakehouse })
      : createDuckDbEngine({ database, role: 'lakehouse', timeoutMs: timeouts.lakehouse });
    const lakehouse = guardSqlEngine(rawLakehouse, guard('lakehouse', rawLakehouse.adapter));
    // ClickHouse's tables come from `npm run bootstrap`; until then its health names the missing database.
    const rawAnalytics = config.clickhouseUrl
      ? createClickHouseEngine({ url: config.clickhouseUrl, timeoutMs: timeouts.analytics, maxConnections: config.clickhouseMaxConnections })
      : createDuckDbEngine({ database, role: 'analytics', timeoutMs: timeouts.analytics });
    const analytics = guardSqlEngine(rawAnalytics, guard('analytics', rawAnalytics.adapter));
    // The embedded index is in-process: its only I/O is the (already guarded) lakehouse, so a
    // second guard would retry and count the same failure twice under another role.
    const search = config.elasticsearchUrl
      ? guardSearch(createElasticsearchSearch({ node: config.elasticsearchUrl, timeoutMs: timeouts.search }), guard('search', 'elasticsearch'))
      : createMiniSearch({ lakehouse });
    const cache = config.redisUrl ? createRedisCache({ url: config.redisUrl }) : createLruCache({ maxEntries: config.cacheMaxEntries, maxBytes: config.memory.cacheBytes });
    // A dead cluster logs its first failures and then a summary a minute, not a line per retry.
    const kafkaLog = config.kafkaBrokers && logger ? throttleKafkaLog((level, namespace, message, extra) => logger[level]({ ...extra, namespace }, message)) : undefined;
    const rawBus = config.kafkaBrokers
      ? await createKafkaBus({
          brokers: config.kafkaBrokers,
          topics: options.eventTopics,
          requestTimeoutMs: timeouts.bus,
          // Two disconnect rounds (consumer and producer, then admin) within the close budget.
          closeTimeoutMs: CLOSE_BUDGET_MS / 2,
          ...(kafkaLog ? { log: kafkaLog.log } : {}),
        })
      : await createEmbeddedLog({ database });
    const bus = guardBus(rawBus, guard('bus', rawBus.adapter));
    let closing: Promise<void> | undefined;
    return {
      lakehouse,
      analytics,
      search,
      cache,
      bus,
      embedded: database,
      lakehouseWrites: config.trinoUrl ? { writer: createTrinoWriter(lakehouse), embedded: false } : { writer: createDuckDbWriter(database), embedded: true },
      health: () => Promise.all([lakehouse.health(), analytics.health(), search.health(), cache.health(), bus.health()]),
      close() {
        closing ??= (async () => {
          // A remote adapter's close is bounded: a peer that is gone must not hold the shutdown (what
          // it had not acknowledged is lost either way; acknowledged Kafka writes are on the brokers
          // already). The in-process ones are waited for: they flush into the embedded file.
          const closeOf = (port: { adapter: string; close(): Promise<void> }) => (LOCAL_ADAPTERS.has(port.adapter) ? port.close() : bounded(port.close()));
          await Promise.allSettled([closeOf(search), closeOf(cache), closeOf(lakehouse), closeOf(analytics)]);
          await closeOf(bus);
          kafkaLog?.flush();
          // The embedded file is local: its last writes are flushed whatever happened above.
          await database.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
}
