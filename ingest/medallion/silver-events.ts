import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { BusPort } from '../../src/backends/bus/port.ts';
import type { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { Channel } from '../../subscriptions/channel.ts';

/** A finished medallion run, as `platform.pipelineRuns` and `pipelineRunFinished` show it. */
export interface PipelineRunRecord {
  id: string;
  layer: string;
  status: 'RUNNING' | 'SUCCESS' | 'FAILED';
  startedAt: Date;
  finishedAt: Date | null;
  recordsIn: number;
  recordsOut: number;
  recordsRejected: number;
  error: string | null;
}

/** Options of the embedded bronze → silver event step. */
export interface SilverEventsOptions {
  database: DuckDbDatabase;
  bus: BusPort;
  /** Topics whose records are platform events. */
  eventTopics: readonly string[];
  /** Wait after a publish before running, so bursts share a run. */
  debounceMs: number;
  /** Called after a run that changed silver (e.g. to invalidate cached answers). */
  onPromoted?: (run: PipelineRunRecord) => void;
}

/**
 * The embedded medallion's first step: moves events from the bronze log into `silver.events`
 * (typed, deduplicated by event id), incrementally from a stored watermark, after every burst of
 * publishes. Each run is recorded in `platform.pipeline_runs` and announced on `runs`.
 * In production the platform's Spark jobs do this from Kafka into Iceberg.
 */
export class SilverEventsStep {
  /** Emits `'finished'` with a `PipelineRunRecord` after every run. */
  readonly runs = new EventEmitter();
  private readonly options: SilverEventsOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PipelineRunRecord | undefined> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(options: SilverEventsOptions) {
    this.options = options;
    this.runs.setMaxListeners(0);
  }

  /** Starts following the bus; runs once at start for anything published before. */
  async start(): Promise<void> {
    this.unsubscribe = this.options.bus.tail(() => this.schedule());
    await this.runNow();
  }

  /** Runs now (or right after the run in progress) and resolves with its record. */
  async runNow(): Promise<PipelineRunRecord | undefined> {
    if (this.stopped) return undefined;
    if (this.running) {
      this.again = true;
      await this.running;
      return this.runNow();
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
    const record = await this.running;
    if (this.again) {
      this.again = false;
      this.schedule();
    }
    return record;
  }

  /** A live stream of finished runs (for `pipelineRunFinished`). */
  subscribeRuns(): AsyncIterableIterator<PipelineRunRecord> {
    const listener = (run: PipelineRunRecord) => channel.push(run);
    const channel: Channel<PipelineRunRecord> = new Channel({
      capacity: 100,
      onClose: () => this.runs.off('finished', listener),
    });
    this.runs.on('finished', listener);
    return channel;
  }

  /** Resolves once every event published so far is in silver. */
  async settle(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.runNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runNow().catch(() => undefined);
    }, this.options.debounceMs);
  }

  private async run(): Promise<PipelineRunRecord | undefined> {
    const { database, eventTopics } = this.options;
    const startedAt = new Date();
    const id = randomUUID();
    const topics = eventTopics.map(() => '?').join(', ');
    const result = await database.withWriter(async (connection) => {
      const watermarkRows = await connection.runAndReadAll(
        "SELECT coalesce(max(log_offset), -1) AS w FROM platform.watermarks WHERE pipeline = 'silver.events'",
      );
      const watermark = BigInt(String(watermarkRows.getRowObjectsJS()[0]?.['w'] ?? -1));
      const headRows = await connection.runAndReadAll('SELECT coalesce(max(log_offset), -1) AS h FROM bronze.event_log');
      const head = BigInt(String(headRows.getRowObjectsJS()[0]?.['h'] ?? -1));
      if (head <= watermark) return undefined;

      await connection.run('BEGIN TRANSACTION');
      try {
        const counted = await connection.runAndReadAll(
          `SELECT count(*) AS n FROM bronze.event_log WHERE log_offset > ? AND log_offset <= ? AND topic IN (${topics})`,
          [watermark, head, ...eventTopics],
        );
        const recordsIn = Number(counted.getRowObjectsJS()[0]?.['n'] ?? 0);
        const inserted = await connection.run(
          `INSERT INTO silver.events
           SELECT event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source, payload, topic, log_offset
           FROM (
             SELECT
               json_extract_string(value, '$.eventId') AS event_id,
               json_extract_string(value, '$.userId') AS user_id,
               json_extract_string(value, '$.eventType') AS event_type,
               json_extract_string(value, '$.tourId') AS tour_id,
               json_extract_string(value, '$.region') AS region,
               TRY_CAST(json_extract_string(value, '$.amount') AS DOUBLE) AS amount,
               json_extract_string(value, '$.currency') AS currency,
               TRY_CAST(replace(replace(json_extract_string(value, '$.occurredAt'), 'T', ' '), 'Z', '') AS TIMESTAMP) AS occurred_at,
               json_extract_string(value, '$.source') AS source,
               CASE WHEN json_type(value, '$.payload') IN ('OBJECT', 'ARRAY') THEN CAST(json_extract(value, '$.payload') AS VARCHAR) END AS payload,
               topic,
               log_offset,
               row_number() OVER (PARTITION BY json_extract_string(value, '$.eventId') ORDER BY log_offset) AS copy
             FROM bronze.event_log
             WHERE log_offset > ? AND log_offset <= ? AND topic IN (${topics})
           ) typed
           WHERE copy = 1 AND occurred_at IS NOT NULL AND user_id IS NOT NULL
             -- A record delivered twice (at-least-once buses) lands once; only rows that came
             -- through the log can collide, and the filter on log_offset lets the scan skip the rest.
             AND NOT EXISTS (SELECT 1 FROM silver.events s WHERE s.log_offset IS NOT NULL AND s.event_id = typed.event_id)`,
          [watermark, head, ...eventTopics],
        );
        const recordsOut = Number(inserted.rowsChanged);
        await connection.run(
          `INSERT INTO platform.watermarks VALUES ('silver.events', ?) ON CONFLICT (pipeline) DO UPDATE SET log_offset = excluded.log_offset`,
          [head],
        );
        const finishedAt = new Date();
        const record: PipelineRunRecord = {
          id,
          layer: 'silver',
          status: 'SUCCESS',
          startedAt,
          finishedAt,
          recordsIn,
          recordsOut,
          recordsRejected: recordsIn - recordsOut,
          error: null,
        };
        await connection.run('INSERT INTO platform.pipeline_runs VALUES (?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?, ?, ?, ?)', [
          record.id,
          record.layer,
          record.status,
          startedAt.toISOString().replace('T', ' ').replace('Z', ''),
          finishedAt.toISOString().replace('T', ' ').replace('Z', ''),
          record.recordsIn,
          record.recordsOut,
          record.recordsRejected,
          null,
        ]);
        await connection.run('COMMIT');
        return record;
      } catch (error) {
        await connection.run('ROLLBACK');
        throw error;
      }
    });
    if (result) {
      this.options.onPromoted?.(result);
      this.runs.emit('finished', result);
    }
    return result;
  }
}
