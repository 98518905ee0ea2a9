import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { BusPort } from '../../src/backends/bus/port.ts';
import { inTransactionIfAny, type SqlWriter } from '../../src/backends/sql/writer.ts';
import type { Logger } from '../../src/logger.ts';
import type { MedallionCommit } from '../../src/platform/commit.ts';
import {
  recordLineage,
  recordQuality,
  recordRun,
  storeWatermark,
  type LineageRecord,
  type PipelineRunRecord,
  type QualityMeasure,
  type RunTrigger,
  type SourceExecution,
} from '../../src/platform/metadata.ts';
import { Channel } from '../../subscriptions/channel.ts';
import type { SourceRegistry } from '../registry.ts';
import { bronzeBatchQuality, ensureBronzeTables, landRecords } from './bronze.ts';
import { dialectOf, type HousekeepingSettings, type MedallionDialect } from './dialect.ts';
import { GOLD_TABLES, refreshGold, type GoldTable } from './gold.ts';
import { MEASURED_TABLES, measureTables } from './quality.ts';
import { busCursorSource, type RecordSource } from './record-source.ts';
import { BRONZE_PIPELINE, storedBronzePosition } from '../../src/platform/stored-commit.ts';
import { promoteEvents, type SourceOutcome } from './silver-events.ts';
import { promoteTours, type CatalogueOutcome } from './silver-tours.ts';

export type { PipelineRunRecord, RunTrigger } from '../../src/platform/metadata.ts';

/** Options of the medallion runner. */
export interface MedallionOptions {
  /**
   * The lakehouse's writer: DuckDB (embedded; each layer in a transaction) or Trino over Iceberg
   * (each statement its own commit; the steps are ordered to be replay-safe without one).
   */
  writer: SqlWriter;
  /** Where dead letters go, and where accepted records are read from unless `source` says otherwise. */
  bus: BusPort;
  /**
   * Where the bronze landing takes its records: default, the bus after the cursor stored in
   * `platform.watermarks` (in the gateway); the production worker passes a Kafka consumer group.
   */
  source?: RecordSource;
  registry: SourceRegistry;
  /** Wait after new records arrive before running, so bursts share a run. */
  debounceMs: number;
  /** Time between scheduled runs, in ms; 0: no schedule. */
  intervalMs: number;
  /** Most bus records one run lands; a larger backlog takes several runs. Default 100000. */
  maxRecordsPerRun?: number;
  logger?: Logger;
  /**
   * Downstream copies kept current after each pass that changed what they copy (e.g. ClickHouse's
   * events when the analytics role is ClickHouse). Awaited before the pass reports (so they are
   * current when the pass's commit invalidates cached answers); a failing sink is logged and
   * retried on the next pass, never failing the pass.
   */
  sinks?: readonly MedallionSink[];
  /**
   * Iceberg housekeeping of the tables the medallion writes (compaction, snapshot expiry, orphan
   * files), on a schedule, between passes. `intervalMs` 0: only when `housekeep()` is called.
   * Default: every hour, 128MB / 7d / 7d. Nothing to do on DuckDB.
   */
  housekeeping?: HousekeepingSettings & { intervalMs: number };
}

/** A downstream copy of medallion tables. */
export interface MedallionSink {
  name: string;
  /** The tables it copies: it is drained after a pass that changed one of them. Default `['silver.events']`. */
  tables?: readonly string[];
  /** Also drain it on the pass at start, catching up with what a process that died before draining missed. Default false. */
  atStart?: boolean;
  /** Brings the copy up to date; resolves with the rows sent. */
  drain: () => Promise<number>;
}

const DEFAULT_HOUSEKEEPING: HousekeepingSettings & { intervalMs: number } = {
  intervalMs: 3_600_000,
  fileSizeThreshold: '128MB',
  snapshotRetention: '7d',
  orphanFileRetention: '7d',
};


/** The platform metadata a recorded layer run writes. */
const PLATFORM_TABLES = ['platform.pipeline_runs', 'platform.source_executions', 'platform.data_quality', 'platform.data_lineage', 'platform.watermarks'];

/** The tables the medallion writes besides the bronze tables (what housekeeping maintains). */
const WRITTEN_TABLES = ['silver.events', 'silver.tours', 'silver.quarantine', ...Object.keys(GOLD_TABLES), ...PLATFORM_TABLES];

/**
 * The medallion: bronze → silver → gold, in passes. A pass lands the bus records that
 * arrived since its cursor in their sources' bronze tables, applies the new bronze rows of
 * catalogue sources to `silver.tours` (./silver-tours.ts) and promotes those of event sources to
 * `silver.events` (rejects to `silver.quarantine` and the dead-letter topic), refreshes the gold
 * tables for the keys those rows touched, brings the downstream copies of what changed up to
 * date, and records a pipeline run per layer with its source executions, data-quality measures
 * and lineage. Passes run at start, a
 * debounce after new records, on a schedule, and on demand (`runPipeline`); one at a time.
 * In production the same runner is its own process (`npm run medallion`, worker.ts), taking its
 * records from a Kafka consumer group instead of the bus cursor.
 * The same pipeline runs on the embedded lakehouse and on Trino/Iceberg (the `writer` option;
 * the engines' differences are in ./dialect.ts).
 */
export class MedallionRunner {
  /**
   * Emits `'finished'` with a `PipelineRunRecord` for every layer run, and `'committed'` with a
   * `MedallionCommit` (src/platform/commit.ts) after every pass that changed silver or gold.
   */
  readonly runs = new EventEmitter();
  private readonly options: MedallionOptions;
  private readonly dialect: MedallionDialect;
  private lastCommitSeq = 0;
  /** Publish time of the newest record landed so far (the commits' `positionTime`). */
  private positionTime: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private housekeeping: NodeJS.Timeout | undefined;
  private running: Promise<PipelineRunRecord[]> | undefined;
  /** Sinks whose last drain failed: drained again on the next pass, whatever it changed. */
  private readonly failedSinks = new Set<string>();
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly source: RecordSource;

  constructor(options: MedallionOptions) {
    this.options = options;
    this.dialect = dialectOf(options.writer.dialect);
    this.source = options.source ?? busCursorSource({ bus: options.bus, logger: options.logger });
    this.runs.setMaxListeners(0);
  }

  /** Creates the sources' bronze tables, follows the bus, starts the schedule and runs once. */
  async start(): Promise<void> {
    await ensureBronzeTables(this.options.writer, this.dialect, this.options.registry);
    await this.source.start?.();
    // A full batch runs at once; a smaller one after the debounce, so bursts share a pass.
    this.unsubscribe = this.source.onAvailable((full) => (full ? void this.runNow('EVENTS').catch(() => undefined) : this.schedule()));
    if (this.options.intervalMs > 0) {
      this.interval = setInterval(() => void this.runNow('SCHEDULE').catch(() => undefined), this.options.intervalMs);
      this.interval.unref();
    }
    const { intervalMs } = this.options.housekeeping ?? DEFAULT_HOUSEKEEPING;
    if (intervalMs > 0 && this.dialect.housekeeping('silver.events', DEFAULT_HOUSEKEEPING).length > 0) {
      this.housekeeping = setInterval(() => {
        const started = Date.now();
        this.housekeep().then(
          (statements) => this.options.logger?.info({ statements, ms: Date.now() - started }, 'medallion housekeeping done'),
          (error: unknown) => this.options.logger?.warn({ err: error }, 'medallion housekeeping failed; retried at the next interval'),
        );
      }, intervalMs);
      this.housekeeping.unref();
    }
    await this.runNow('START');
  }

  /** Runs a pass now (or right after the one in progress) and resolves with its layer runs. */
  async runNow(trigger: RunTrigger = 'MANUAL'): Promise<PipelineRunRecord[]> {
    // A standby replica of the worker runs no passes: another one holds the records.
    if (this.stopped || this.source.active === false) return [];
    if (this.running) {
      this.again = true;
      await this.running.catch(() => undefined);
      return this.runNow(trigger);
    }
    this.running = this.pass(trigger).finally(() => {
      this.running = undefined;
    });
    const records = await this.running;
    if (this.again) {
      this.again = false;
      this.schedule();
    }
    return records;
  }

  /** A live stream of finished layer runs (for `pipelineRunFinished`). */
  subscribeRuns(): AsyncIterableIterator<PipelineRunRecord> {
    const listener = (record: PipelineRunRecord) => channel.push(record);
    const channel: Channel<PipelineRunRecord> = new Channel({
      capacity: 100,
      onClose: () => this.runs.off('finished', listener),
    });
    this.runs.on('finished', listener);
    return channel;
  }

  /** Resolves once every record published so far has been through the medallion. */
  async settle(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const max = this.options.maxRecordsPerRun ?? 100_000;
    for (;;) {
      const records = await this.runNow('EVENTS');
      const bronze = records.find((r) => r.layer === 'bronze');
      if (!bronze || bronze.recordsIn < max) return;
    }
  }

  /**
   * Maintains the tables the medallion writes (on Iceberg: compaction, snapshot expiry, orphan
   * files; nothing embedded), between passes. Resolves with the statements run.
   */
  async housekeep(): Promise<number> {
    // Between passes, never beside one: on Iceberg a compaction racing a MERGE makes one of them fail its commit.
    while (this.running) await this.running.catch(() => undefined);
    let done!: () => void;
    this.running = new Promise<PipelineRunRecord[]>((resolve) => (done = () => resolve([])));
    try {
      const settings = this.options.housekeeping ?? DEFAULT_HOUSEKEEPING;
      const bronze = this.options.registry.sources.filter((s) => s.enabled).map((s) => s.bronzeTable);
      let statements = 0;
      for (const table of [...new Set(bronze), ...WRITTEN_TABLES]) {
        for (const sql of this.dialect.housekeeping(table, settings)) {
          await this.options.writer.execute(sql);
          statements += 1;
        }
      }
      return statements;
    } finally {
      this.running = undefined;
      done();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    clearInterval(this.interval);
    clearInterval(this.housekeeping);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.source.close?.();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runNow('EVENTS').catch(() => undefined);
    }, this.options.debounceMs);
  }

  private async pass(trigger: RunTrigger): Promise<PipelineRunRecord[]> {
    const { writer, bus, registry } = this.options;
    const dialect = this.dialect;
    const batchId = randomUUID();
    const manual = trigger === 'MANUAL' || trigger === 'START';
    const finished: PipelineRunRecord[] = [];
    /** Tables changed by the layers that committed; `touched` collects the running layer's. */
    const changed = new Set<string>();
    let touched = new Set<string>();
    let position: string | undefined;
    const layer = async (name: string, work: (writer: SqlWriter, record: PipelineRunRecord) => Promise<PipelineRunRecord | undefined>) => {
      const record: PipelineRunRecord = {
        id: randomUUID(),
        batchId,
        layer: name,
        status: 'SUCCESS',
        trigger,
        startedAt: new Date(),
        finishedAt: null,
        recordsIn: 0,
        recordsOut: 0,
        recordsRejected: 0,
        error: null,
      };
      try {
        // One transaction per layer where the engine has them; on Iceberg each step is replay-safe.
        touched = new Set();
        const done = await inTransactionIfAny(writer, (w) => work(w, record));
        // A recorded run changed the platform metadata (runs, executions, quality, lineage, watermarks).
        if (done) for (const table of PLATFORM_TABLES) touched.add(table);
        for (const table of touched) changed.add(table);
        if (done) finished.push(done);
      } catch (error) {
        // Without transactions (Iceberg) a failed layer may have committed some of its writes.
        if (!writer.transaction) for (const table of touched) changed.add(table);
        const failed: PipelineRunRecord = { ...record, status: 'FAILED', finishedAt: new Date(), error: (error as Error).message };
        await recordRun(writer, failed, []).catch(() => undefined);
        finished.push(failed);
        this.options.logger?.error({ err: error, layer: name, batchId }, 'medallion run failed');
        throw error;
      }
    };

    try {
      // Bronze: read the bus, land the records, then store the cursor (data first: a crash in
      // between lands the records again, which silver absorbs).
      const storedPosition = await storedBronzePosition((sql, params) => writer.rows(sql, params));
      const cursor = storedPosition ?? bus.startCursor;
      const batch = await this.source.next(this.options.maxRecordsPerRun ?? 100_000, storedPosition);
      position = batch.position;
      const newest = batch.entries[batch.entries.length - 1];
      if (newest) this.positionTime = newest.publishedAt.toISOString();
      if (batch.entries.length > 0 || manual) {
        await layer('bronze', async (connection, record) => {
          const { landed, unclaimed } = await landRecords(connection, registry, batch.entries, record.id, record.startedAt);
          if (batch.position !== cursor || storedPosition === undefined) await storeWatermark(connection, BRONZE_PIPELINE, -1, batch.position);
          const executions: SourceExecution[] = [];
          const quality: QualityMeasure[] = [];
          const lineage: LineageRecord[] = [];
          let out = 0;
          for (const [source, count] of landed) {
            out += count;
            touched.add(source.bronzeTable);
            executions.push({ sourceId: source.sourceId, layer: 'bronze', targetTable: source.bronzeTable, recordsIn: count, recordsOut: count, recordsRejected: 0 });
            const q = await bronzeBatchQuality(connection, dialect, source.bronzeTable, record.id);
            const n = Number(q?.['n'] ?? 0);
            quality.push({
              table: source.bronzeTable,
              sourceId: source.sourceId,
              rowCount: n,
              completeness: Number(q?.['completeness'] ?? 1),
              uniqueness: n === 0 ? 1 : Number(q?.['distinct_ids'] ?? 0) / n,
              validity: Number(q?.['validity'] ?? 1),
            });
            lineage.push(
              { from: `source:${source.sourceId}`, to: `topic:${source.topic}`, kind: 'publish', sourceId: source.sourceId, records: count },
              { from: `topic:${source.topic}`, to: `table:${source.bronzeTable}`, kind: 'land', sourceId: source.sourceId, records: count },
            );
          }
          const done: PipelineRunRecord = { ...record, finishedAt: new Date(), recordsIn: batch.entries.length, recordsOut: out, recordsRejected: unclaimed };
          await recordRun(connection, done, executions);
          await recordQuality(connection, record.id, done.finishedAt ?? record.startedAt, quality);
          await recordLineage(connection, record.id, record.startedAt, lineage);
          return done;
        });
        // Only now may the source forget the batch (the worker commits its Kafka offsets here).
        if (batch.entries.length > 0) await this.source.committed(batch.position, batch.entries);
      }

      // Silver: the catalogue sources' new bronze rows first (an event may name a tour that arrived
      // in the same pass), then the event sources'.
      const catalogueSources = registry.sources.filter((s) => s.enabled && s.silverTable === 'silver.tours');
      const eventSources = registry.sources.filter((s) => s.enabled && s.silverTable === 'silver.events');
      await layer('silver', async (connection, record) => {
        // Changed tables are noted as the steps go: without transactions a failing step has still changed them.
        const catalogue = await promoteTours(connection, dialect, catalogueSources, record.id, record.startedAt, { changing: (table) => touched.add(table) });
        const events = await promoteEvents(connection, dialect, eventSources, record.id, record.startedAt);
        const outcomes = [...catalogue.map(catalogueStep), ...events.map(eventStep)];
        for (const o of outcomes) {
          if (o.recordsOut > 0) touched.add(o.table);
          if (o.quarantined > 0) touched.add('silver.quarantine');
        }
        const recordsIn = outcomes.reduce((n, o) => n + o.recordsIn, 0);
        if (recordsIn === 0 && !manual) return undefined;
        const done: PipelineRunRecord = {
          ...record,
          finishedAt: new Date(),
          recordsIn,
          recordsOut: outcomes.reduce((n, o) => n + o.recordsOut, 0),
          recordsRejected: outcomes.reduce((n, o) => n + o.quarantined, 0),
        };
        await recordRun(
          connection,
          done,
          outcomes.map((o) => ({
            sourceId: o.source.sourceId,
            layer: 'silver',
            targetTable: o.table,
            recordsIn: o.recordsIn,
            recordsOut: o.recordsOut,
            recordsRejected: o.quarantined,
          })),
        );
        const measures: QualityMeasure[] = outcomes.map((o) => ({
          table: o.table,
          sourceId: o.source.sourceId,
          rowCount: o.recordsIn,
          completeness: o.completeness,
          uniqueness: o.uniqueness,
          validity: o.validity,
        }));
        const measured = trigger === 'START' ? MEASURED_TABLES.filter((t) => t.startsWith('silver.')) : ['silver.events', ...(catalogue.length > 0 ? ['silver.tours'] : [])];
        measures.push(...(await measureTables(connection, measured)));
        await recordQuality(connection, record.id, done.finishedAt ?? record.startedAt, measures);
        await recordLineage(
          connection,
          record.id,
          record.startedAt,
          outcomes.flatMap((o) => [
            { from: `table:${o.source.bronzeTable}`, to: `table:${o.table}`, kind: 'clean', sourceId: o.source.sourceId, records: o.recordsOut },
            { from: `table:${o.source.bronzeTable}`, to: 'table:silver.quarantine', kind: 'quarantine', sourceId: o.source.sourceId, records: o.quarantined },
          ]),
        );
        return done;
      });

      // Gold: refreshed for what silver changed (everything on the first pass).
      await layer('gold', async (connection, record) => {
        const outcome = await refreshGold(connection, dialect, record.startedAt, { catalogue: catalogueSources.map((s) => s.bronzeTable) });
        if (!outcome && !manual) return undefined;
        const written = outcome?.tables ?? [];
        for (const t of written) touched.add(t.table);
        const done: PipelineRunRecord = {
          ...record,
          finishedAt: new Date(),
          recordsIn: outcome?.keys ?? 0,
          recordsOut: written.reduce((n, t) => n + t.rowsWritten, 0),
        };
        await recordRun(connection, done, []);
        const tables = Object.keys(GOLD_TABLES) as GoldTable[];
        if (outcome) await recordQuality(connection, record.id, done.finishedAt ?? record.startedAt, await measureTables(connection, tables));
        await recordLineage(
          connection,
          record.id,
          record.startedAt,
          written.flatMap((t) => GOLD_TABLES[t.table].map((from) => ({ from: `table:${from}`, to: `table:${t.table}`, kind: 'aggregate', sourceId: null, records: t.rowsWritten }))),
        );
        return done;
      });
      await this.drainSinks(changed, trigger === 'START');
    } finally {
      for (const record of finished) this.runs.emit('finished', record);
      // What committed is announced even when a later layer failed (silver without its gold).
      if (changed.size > 0 && position !== undefined) await this.commit([...changed].sort(), position);
    }
    await this.publishDeadLetters();
    return finished;
  }

  /** Tells listeners what the pass made durable (`'committed'`), with each changed table's snapshot where the engine keeps them. */
  private async commit(tables: string[], position: string): Promise<void> {
    const snapshots: MedallionCommit['snapshots'] = [];
    for (const table of tables) {
      const sql = this.dialect.latestSnapshot(table);
      if (!sql) continue;
      try {
        const [row] = await this.options.writer.rows(sql);
        if (row) snapshots.push({ table, snapshotId: String(row['snapshot_id']), committedAt: (row['committed_at'] as Date).toISOString() });
      } catch (error) {
        // A commit without its snapshot id still tells what changed.
        this.options.logger?.warn({ err: error, table }, 'medallion: latest snapshot not read');
      }
    }
    const now = Date.now();
    this.lastCommitSeq = Math.max(now, this.lastCommitSeq + 1);
    const commit: MedallionCommit = { seq: this.lastCommitSeq, committedAt: new Date(now).toISOString(), tables, position, positionTime: this.positionTime, snapshots };
    this.runs.emit('committed', commit);
  }

  /** Drains the sinks copying a table the pass changed (all opted in at start, and those that failed last time). */
  private async drainSinks(changed: ReadonlySet<string>, atStart: boolean): Promise<void> {
    for (const sink of this.options.sinks ?? []) {
      const due = (sink.tables ?? ['silver.events']).some((t) => changed.has(t)) || (atStart && sink.atStart === true) || this.failedSinks.has(sink.name);
      if (!due) continue;
      try {
        const sent = await sink.drain();
        this.failedSinks.delete(sink.name);
        this.options.logger?.debug({ sink: sink.name, sent }, 'medallion sink drained');
      } catch (error) {
        this.failedSinks.add(sink.name);
        this.options.logger?.warn({ err: error, sink: sink.name }, 'medallion sink failed; retried after the next pass');
      }
    }
  }

  /**
   * Sends quarantined rows not yet on the dead-letter topic there, then marks them. A failure
   * leaves them marked as pending, so the next pass retries; the idempotency key keeps a retry
   * after a lost acknowledgement from writing twice.
   */
  private async publishDeadLetters(): Promise<void> {
    const { writer, bus, registry } = this.options;
    const pending = await writer.rows(
      `SELECT event_id, source_id, bronze_table, rule, reason, record, run_id, quarantined_at FROM silver.quarantine WHERE NOT dead_lettered
       ORDER BY quarantined_at LIMIT 1000`,
    );
    if (pending.length === 0) return;
    try {
      await bus.publish(
        pending.map((row) => {
          const eventId = String(row['event_id'] ?? `${String(row['bronze_table'])}:${String(row['run_id'])}:${randomUUID()}`);
          return {
            topic: registry.deadLetterTopic,
            key: String(row['source_id'] ?? 'unknown'),
            eventId,
            value: JSON.stringify({
              eventId,
              sourceId: row['source_id'],
              bronzeTable: row['bronze_table'],
              rule: row['rule'],
              reason: row['reason'],
              runId: row['run_id'],
              quarantinedAt: (row['quarantined_at'] as Date).toISOString(),
              record: row['record'],
            }),
            idempotencyKey: `dead-letter:${String(row['run_id'])}:${eventId}`,
          };
        }),
      );
      // One statement marks the batch (rows without an event id match by run alone, as published
      // above), keyed by one text value: Trino has no multi-column IN.
      await writer.execute(
        `UPDATE silver.quarantine SET dead_lettered = true
         WHERE NOT dead_lettered AND run_id || '/' || coalesce(event_id, '') IN (${pending.map(() => '?').join(', ')})`,
        pending.map((row) => `${String(row['run_id'])}/${String(row['event_id'] ?? '')}`),
      );
    } catch (error) {
      this.options.logger?.warn({ err: error, pending: pending.length }, 'dead letters not published; retried on the next run');
    }
  }
}

/** One source's part in the silver layer, whichever step promoted it. */
interface SilverStep {
  source: SourceOutcome['source'];
  table: 'silver.events' | 'silver.tours';
  recordsIn: number;
  /** Rows written to the silver table (events promoted; tours created, changed or deleted). */
  recordsOut: number;
  quarantined: number;
  completeness: number;
  uniqueness: number;
  validity: number;
}

function eventStep(o: SourceOutcome): SilverStep {
  return { ...o, table: 'silver.events', recordsOut: o.promoted };
}

function catalogueStep(o: CatalogueOutcome): SilverStep {
  return { ...o, table: 'silver.tours', recordsOut: o.upserted + o.deleted };
}
