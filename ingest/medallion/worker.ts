import { EventEmitter } from 'node:events';
import { throttleKafkaLog } from '../../src/backends/bus/kafka-log.ts';
import type { LogEntry } from '../../src/backends/bus/port.ts';
import { createBackends, type Backends } from '../../src/backends/index.ts';
import type { SearchPort } from '../../src/backends/search/port.ts';
import type { Config } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { MEDALLION_COMMITS_TOPIC, type MedallionCommit } from '../../src/platform/commit.ts';
import { ensureDemoData } from '../demo/generate.ts';
import { loadSourceRegistry } from '../registry.ts';
import { EventIndexer } from '../search-indexer.ts';
import { createKafkaGroupSource, type KafkaGroupSource } from './kafka-group-source.ts';
import type { RecordSource } from './record-source.ts';
import { MedallionRunner } from './runner.ts';
import { medallionSinks } from './sinks.ts';

/** Options of `startMedallionWorker` beyond the configuration. */
export interface MedallionWorkerOptions {
  /** Default: the project's pino logger at `LOG_LEVEL`. */
  logger?: Logger;
  /**
   * Backends to run on instead of opening them from the configuration (tests share a gateway's
   * embedded lakehouse this way). The worker does not close them.
   */
  backends?: Backends;
  /** Runs between a landing's commit and its offset commit; a rejection skips the offset commit. For fault tests. */
  beforeOffsetCommit?: (position: string) => Promise<void>;
  /** Runs between the ClickHouse sink's INSERT of a batch and its mark; a rejection fails that drain. For fault tests. */
  afterSinkInsert?: () => Promise<void>;
  /**
   * Called when the runner cannot start after this replica took over from another (the lakehouse
   * refused its first pass): the process should exit non-zero so the group hands the partitions
   * to a healthy replica. Default: logged only.
   */
  onFatal?: (error: unknown) => void;
  /** Longest `stop` waits for the pass in progress before abandoning it. Default 10,000 ms. */
  stopTimeoutMs?: number;
}

/** A running medallion worker. */
export interface MedallionWorker {
  readonly runner: MedallionRunner;
  /** The consumer-group source: `active` says whether this replica holds the partitions. */
  readonly source: KafkaGroupSource;
  /** Emits `'commit'` with each `MedallionCommit` published. */
  readonly commits: EventEmitter;
  /** The last commit published (the first pass may publish one before `startMedallionWorker` resolves). */
  readonly lastCommit: MedallionCommit | undefined;
  /** Finishes (or, past `stopTimeoutMs`, abandons) the pass in progress, leaves the group, closes what it opened. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The production medallion (`npm run medallion`): the medallion runner fed by the Kafka consumer
 * group `MEDALLION_GROUP_ID`, one active replica (the others wait as standbys, see
 * `single-active-assigner.ts`). Each pass lands a micro-batch in bronze, promotes silver,
 * refreshes gold, publishes dead letters, keeps the downstream copies current (the search event
 * index, ClickHouse's events), commits the batch's offsets to the group, and publishes a
 * `MedallionCommit` on `MEDALLION_COMMITS_TOPIC` so every gateway instance hears it. Offsets are
 * committed only after the landing committed: a crash in between lands the batch again, and
 * silver keeps each event id once. The passes write through the lakehouse's writer: Trino/Iceberg
 * with TRINO_URL, the embedded DuckDB otherwise. Rejects when it cannot start (no brokers, a
 * backend refusing, the group not joined in time, its first pass failing).
 */
export async function startMedallionWorker(config: Config, options: MedallionWorkerOptions = {}): Promise<MedallionWorker> {
  const logger = (options.logger ?? createLogger(config.logLevel)).child({ component: 'medallion-worker' });
  const brokers = config.kafkaBrokers;
  if (!brokers) throw new Error('the medallion worker consumes the ingestion topics from Kafka: set KAFKA_BROKERS');
  const registry = await loadSourceRegistry(config.sourcesFile);
  const backends = options.backends ?? (await createBackends(config, { eventTopics: registry.topics, logger }));
  const owned = options.backends === undefined;
  let indexer: EventIndexer | undefined;
  let source: KafkaGroupSource | undefined;
  let runner: MedallionRunner | undefined;
  try {
    const { writer, embedded } = backends.lakehouseWrites;
    if (owned && embedded && backends.embedded && config.demoData) {
      // A worker alone on an embedded lakehouse builds the catalogue the silver rules check against, as a gateway would.
      const demo = await ensureDemoData(backends.embedded, { seed: config.demoSeed, scale: config.demoScale, ...(config.demoAnchor ? { anchor: config.demoAnchor } : {}) });
      logger.info({ ...demo }, demo.reused ? 'demo data reused' : 'demo data built');
    }
    source = createKafkaGroupSource({
      brokers,
      topics: registry.topics,
      groupId: config.medallionGroupId,
      batchSize: config.medallionBatchSize,
      sessionTimeoutMs: config.medallionSessionTimeoutMs,
      requestTimeoutMs: config.roleTimeoutMs.bus,
      // A dead cluster logs its first failures and then a summary a minute, not a line per retry.
      log: throttleKafkaLog((level, namespace, message, extra) => logger[level]({ ...extra, namespace }, message)).log,
      ...(options.beforeOffsetCommit ? { beforeOffsetCommit: options.beforeOffsetCommit } : {}),
    });
    const kafka = source;

    // Downstream copies are fed once, here, from what the landing committed.
    const landedListeners = new Set<(entries: readonly LogEntry[]) => void>();
    const landed = { tail: (listener: (entries: readonly LogEntry[]) => void) => (landedListeners.add(listener), () => landedListeners.delete(listener)) };
    const search = backends.search.indexEvents ? (backends.search as SearchPort & Required<Pick<SearchPort, 'indexEvents'>>) : undefined;
    indexer = search ? new EventIndexer({ bus: landed, search, eventTopics: registry.eventTopics, logger }) : undefined;
    indexer?.start();
    const landing: RecordSource = {
      kind: kafka.kind,
      get active() {
        return kafka.active;
      },
      start: () => kafka.start(),
      next: (max, stored) => kafka.next(max, stored),
      async committed(position, entries) {
        for (const listener of landedListeners) listener(entries);
        await kafka.committed(position, entries);
      },
      onAvailable: (listener) => kafka.onAvailable(listener),
      close: () => kafka.close(),
    };

    const commits = new EventEmitter();
    let lastCommit: MedallionCommit | undefined;
    let publishing: Promise<void> = Promise.resolve();
    /** Publishes the runner's commit notifications on the bus, in order, so every gateway instance hears them. */
    const publishCommit = (commit: MedallionCommit) => {
      publishing = publishing.then(async () => {
        try {
          await backends.bus.publish([{ topic: MEDALLION_COMMITS_TOPIC, key: 'medallion', eventId: `medallion-commit-${commit.seq}`, value: JSON.stringify(commit), idempotencyKey: null }]);
        } catch (error) {
          // Positions are cumulative: the next commit tells the gateways everything this one would have.
          logger.warn({ err: error, seq: commit.seq }, 'medallion commit not published; the next one covers it');
        }
        lastCommit = commit;
        commits.emit('commit', commit);
      });
    };

    const medallion = new MedallionRunner({
      writer,
      bus: backends.bus,
      registry,
      source: landing,
      debounceMs: config.medallionBatchIntervalMs,
      intervalMs: config.medallionIntervalMs,
      // Iceberg compaction and expiry run here, on the one active replica, between its passes.
      housekeeping: config.housekeeping,
      maxRecordsPerRun: config.medallionBatchSize,
      logger,
      sinks: medallionSinks({ backends, ...(options.afterSinkInsert ? { afterInsert: options.afterSinkInsert } : {}) }),
    });
    medallion.runs.on('committed', publishCommit);

    runner = medallion;

    await kafka.start();
    // A standby starts the runner only once it holds the partitions: two replicas never write passes at once.
    let runnerStarted: Promise<void> | undefined;
    const unwatch = kafka.onActiveChange((active) => {
      if (!active || runnerStarted) return;
      runnerStarted = medallion.start().catch((error: unknown) => {
        logger.error({ err: error }, 'medallion: the runner could not start after the takeover');
        options.onFatal?.(error);
      });
    });
    // Active from the start: a first pass that fails fails the start (exit 1; the group moves on).
    if (kafka.active) await (runnerStarted = medallion.start());
    else logger.info({ groupId: config.medallionGroupId }, 'medallion worker is a standby: another replica holds the partitions');
    logger.info({ groupId: config.medallionGroupId, topics: registry.topics, active: kafka.active }, 'medallion worker started');

    const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    let stopping: Promise<void> | undefined;
    return {
      runner: medallion,
      source: kafka,
      commits,
      get lastCommit() {
        return lastCommit;
      },
      stop() {
        stopping ??= (async () => {
          unwatch();
          let timer: NodeJS.Timeout | undefined;
          const stopped = await Promise.race([
            medallion.stop().then(() => true),
            new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), stopTimeoutMs))),
          ]).finally(() => clearTimeout(timer));
          // An abandoned pass commits no offsets: the next active replica lands its batch again.
          if (!stopped) logger.warn({ stopTimeoutMs }, 'medallion pass abandoned at shutdown');
          await kafka.close();
          await publishing;
          await indexer?.stop();
          if (owned) await backends.close();
          logger.info('medallion worker stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await runner?.stop().catch(() => undefined);
    await source?.close().catch(() => undefined);
    await indexer?.stop().catch(() => undefined);
    if (owned) await backends.close().catch(() => undefined);
    throw error;
  }
}
