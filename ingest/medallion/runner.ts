import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { BusPort } from '../../src/backends/bus/port.ts';
import type { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import type { Logger } from '../../src/logger.ts';
import { Channel } from '../../subscriptions/channel.ts';
import type { SourceRegistry } from '../registry.ts';
import { bronzeBatchQuality, ensureBronzeTables, landRecords } from './bronze.ts';
import { GOLD_TABLES, refreshGold, type GoldTable } from './gold.ts';
import { MEASURED_TABLES, measureTables, recordLineage, recordQuality, recordRun, type LineageRecord, type PipelineRunRecord, type QualityMeasure, type RunTrigger, type SourceExecution } from './runs.ts';
import { busCursorSource, type RecordSource } from './record-source.ts';
import { promoteEvents } from './silver-events.ts';
import { inTransaction, rowsOf, run } from './sql.ts';

export type { PipelineRunRecord, RunTrigger } from './runs.ts';

/** Options of the embedded medallion runner. */
export interface MedallionOptions {
  database: DuckDbDatabase;
  /** Where dead letters go, and where accepted records are read from unless `source` says otherwise. */
  bus: BusPort;
  /**
   * Where the bronze landing takes its records: default, the bus after the cursor stored in
   * `platform.watermarks` (embedded); the production worker passes a Kafka consumer group.
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
   * Downstream copies kept current after each pass that promoted events (e.g. ClickHouse's events
   * when the analytics role is ClickHouse). Awaited before the pass reports; a failing sink is
   * logged and retried on the next pass, never failing the pass.
   */
  sinks?: readonly { name: string; drain: () => Promise<number> }[];
  /** Called after a pass that changed silver or gold (e.g. to invalidate cached answers). */
  onPromoted?: (runs: readonly PipelineRunRecord[]) => void;
  /** Called after every pass that completed (whatever it changed), before `runNow` resolves. */
  onPass?: (pass: MedallionPass) => Promise<void> | void;
}

/** What one completed pass did, and up to where on the bus it landed. */
export interface MedallionPass {
  trigger: RunTrigger;
  runs: readonly PipelineRunRecord[];
  /** Bus cursor the bronze watermark now stands at (the landed batch's position). */
  position: string;
  /** Publish time of the newest record the pass landed; null when it landed none. */
  newestRecordAt: Date | null;
}

const BRONZE_CURSOR = 'bronze';

/**
 * The embedded medallion: bronze → silver → gold, in passes. A pass lands the bus records that
 * arrived since its cursor in their sources' bronze tables, promotes the new bronze rows of event
 * sources to `silver.events` (rejects to `silver.quarantine` and the dead-letter topic),
 * refreshes the gold tables for the keys those rows touched, and records a pipeline run per
 * layer with its source executions, data-quality measures and lineage. Passes run at start, a
 * debounce after new records, on a schedule, and on demand (`runPipeline`); one at a time.
 * In production the same runner is its own process (`npm run medallion`, worker.ts), taking its
 * records from a Kafka consumer group instead of the bus cursor.
 */
export class MedallionRunner {
  /** Emits `'finished'` with a `PipelineRunRecord` for every layer run. */
  readonly runs = new EventEmitter();
  private readonly options: MedallionOptions;
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private running: Promise<PipelineRunRecord[]> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly source: RecordSource;

  constructor(options: MedallionOptions) {
    this.options = options;
    this.source = options.source ?? busCursorSource({ bus: options.bus, logger: options.logger });
    this.runs.setMaxListeners(0);
  }

  /** Creates the sources' bronze tables, follows the bus, starts the schedule and runs once. */
  async start(): Promise<void> {
    await this.options.database.withWriter((connection) => ensureBronzeTables(connection, this.options.registry));
    await this.source.start?.();
    // A full batch runs at once; a smaller one after the debounce, so bursts share a pass.
    this.unsubscribe = this.source.onAvailable((full) => (full ? void this.runNow('EVENTS').catch(() => undefined) : this.schedule()));
    if (this.options.intervalMs > 0) {
      this.interval = setInterval(() => void this.runNow('SCHEDULE').catch(() => undefined), this.options.intervalMs);
      this.interval.unref();
    }
    await this.runNow('START');
  }

  /** Runs a pass now (or right after the one in progress) and resolves with its layer runs. */
  async runNow(trigger: RunTrigger = 'MANUAL'): Promise<PipelineRunRecord[]> {
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

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    clearInterval(this.interval);
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
    const { database, registry } = this.options;
    const batchId = randomUUID();
    const manual = trigger === 'MANUAL' || trigger === 'START';
    const finished: PipelineRunRecord[] = [];
    let position = '';
    let newestRecordAt: Date | null = null;
    const layer = async (name: string, work: (connection: DuckDBConnection, record: PipelineRunRecord) => Promise<PipelineRunRecord | undefined>) => {
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
        const done = await database.withWriter((connection) => inTransaction(connection, () => work(connection, record)));
        if (done) finished.push(done);
      } catch (error) {
        const failed: PipelineRunRecord = { ...record, status: 'FAILED', finishedAt: new Date(), error: (error as Error).message };
        await database.withWriter((connection) => recordRun(connection, failed, [])).catch(() => undefined);
        finished.push(failed);
        this.options.logger?.error({ err: error, layer: name, batchId }, 'medallion run failed');
        throw error;
      }
    };

    try {
      // Bronze: read the bus outside the writer (a read), land in one transaction with the cursor.
      const [stored] = await database.query('SELECT position FROM platform.watermarks WHERE pipeline = ?', [BRONZE_CURSOR], {
        timeoutMs: 30_000,
        onTimeout: () => new Error('timed out reading the bronze cursor'),
      });
      const batch = await this.source.next(this.options.maxRecordsPerRun ?? 100_000, typeof stored?.['position'] === 'string' ? stored['position'] : undefined);
      if (batch.entries.length > 0 || manual) {
        await layer('bronze', async (connection, record) => {
          const { landed, unclaimed } = await landRecords(connection, registry, batch.entries, record.id, record.startedAt);
          await run(
            connection,
            `INSERT INTO platform.watermarks (pipeline, log_offset, position) VALUES (?, -1, ?)
             ON CONFLICT (pipeline) DO UPDATE SET position = excluded.position`,
            [BRONZE_CURSOR, batch.position],
          );
          const executions: SourceExecution[] = [];
          const quality: QualityMeasure[] = [];
          const lineage: LineageRecord[] = [];
          let out = 0;
          for (const [source, count] of landed) {
            out += count;
            executions.push({ sourceId: source.sourceId, layer: 'bronze', targetTable: source.bronzeTable, recordsIn: count, recordsOut: count, recordsRejected: 0 });
            const q = await bronzeBatchQuality(connection, source.bronzeTable, record.id);
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
        if (batch.entries.length > 0) await this.source.committed(batch.position, batch.entries);
      }
      position = batch.position;
      newestRecordAt = batch.entries.reduce<Date | null>((newest, e) => (newest && newest >= e.publishedAt ? newest : e.publishedAt), null);

      // Silver: the event sources' new bronze rows.
      const eventSources = registry.sources.filter((s) => s.enabled && s.silverTable === 'silver.events');
      await layer('silver', async (connection, record) => {
        const outcomes = await promoteEvents(connection, eventSources, record.id, record.startedAt);
        const recordsIn = outcomes.reduce((n, o) => n + o.recordsIn, 0);
        if (recordsIn === 0 && !manual) return undefined;
        const done: PipelineRunRecord = {
          ...record,
          finishedAt: new Date(),
          recordsIn,
          recordsOut: outcomes.reduce((n, o) => n + o.promoted, 0),
          recordsRejected: outcomes.reduce((n, o) => n + o.quarantined, 0),
        };
        await recordRun(
          connection,
          done,
          outcomes.map((o) => ({
            sourceId: o.source.sourceId,
            layer: 'silver',
            targetTable: 'silver.events',
            recordsIn: o.recordsIn,
            recordsOut: o.promoted,
            recordsRejected: o.quarantined,
          })),
        );
        const measures: QualityMeasure[] = outcomes.map((o) => ({
          table: 'silver.events',
          sourceId: o.source.sourceId,
          rowCount: o.recordsIn,
          completeness: o.completeness,
          uniqueness: o.uniqueness,
          validity: o.validity,
        }));
        measures.push(...(await measureTables(connection, trigger === 'START' ? MEASURED_TABLES.filter((t) => t.startsWith('silver.')) : ['silver.events'])));
        await recordQuality(connection, record.id, done.finishedAt ?? record.startedAt, measures);
        await recordLineage(
          connection,
          record.id,
          record.startedAt,
          outcomes.flatMap((o) => [
            { from: `table:${o.source.bronzeTable}`, to: 'table:silver.events', kind: 'clean', sourceId: o.source.sourceId, records: o.promoted },
            { from: `table:${o.source.bronzeTable}`, to: 'table:silver.quarantine', kind: 'quarantine', sourceId: o.source.sourceId, records: o.quarantined },
          ]),
        );
        return done;
      });

      // Gold: refreshed for what silver changed (everything on the first pass).
      await layer('gold', async (connection, record) => {
        const outcome = await refreshGold(connection, record.startedAt);
        if (!outcome && !manual) return undefined;
        const written = outcome ?? [];
        const done: PipelineRunRecord = {
          ...record,
          finishedAt: new Date(),
          recordsIn: written.length > 0 ? await goldKeys(connection) : 0,
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
      if (finished.some((r) => r.layer === 'silver' && r.recordsOut > 0)) await this.drainSinks();
    } finally {
      for (const record of finished) this.runs.emit('finished', record);
    }
    // The start pass only builds what this instance has never served (an empty gold), nothing cached to drop.
    if (trigger !== 'START' && finished.some((r) => r.layer !== 'bronze' && r.recordsOut > 0)) this.options.onPromoted?.(finished);
    await this.publishDeadLetters();
    await this.options.onPass?.({ trigger, runs: finished, position, newestRecordAt });
    return finished;
  }

  private async drainSinks(): Promise<void> {
    for (const sink of this.options.sinks ?? []) {
      try {
        const sent = await sink.drain();
        this.options.logger?.debug({ sink: sink.name, sent }, 'medallion sink drained');
      } catch (error) {
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
    const { database, bus, registry } = this.options;
    const pending = await database.query(
      `SELECT event_id, source_id, bronze_table, rule, reason, record, run_id, quarantined_at FROM silver.quarantine WHERE NOT dead_lettered
       ORDER BY quarantined_at LIMIT 1000`,
      [],
      { timeoutMs: 30_000, onTimeout: () => new Error('timed out reading the quarantine') },
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
      // One statement marks the batch (rows without an event id match by run alone, as published above).
      await database.withWriter((connection) =>
        run(
          connection,
          `UPDATE silver.quarantine SET dead_lettered = true
           WHERE NOT dead_lettered AND (run_id, coalesce(event_id, '')) IN (${pending.map(() => '(?, ?)').join(', ')})`,
          pending.flatMap((row) => [String(row['run_id']), String(row['event_id'] ?? '')]),
        ),
      );
    } catch (error) {
      this.options.logger?.warn({ err: error, pending: pending.length }, 'dead letters not published; retried on the next run');
    }
  }
}

/** Keys a gold refresh recomputed (users, tours, booking days): its records in. */
async function goldKeys(connection: DuckDBConnection): Promise<number> {
  const rows = await rowsOf(
    connection,
    'SELECT (SELECT count(*) FROM gold_users) + (SELECT count(*) FROM gold_tours) + (SELECT count(*) FROM gold_days) AS n',
  );
  return Number(rows[0]?.['n'] ?? 0);
}
