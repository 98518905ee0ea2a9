import { limit, type SqlEngine, type SqlRow } from '../sql/port.ts';
import type { ClickHouseEngine } from './engine.ts';
import { CLICKHOUSE_EVENTS_WATERMARK, copyDimensionsToClickHouse, toClickHouseRow } from './load.ts';
import { eventColumns, identifier } from './migrations.ts';
import { storeWatermark } from '../../platform/metadata.ts';
import type { SqlWriter } from '../sql/writer.ts';

/** Keeps ClickHouse's `events` current from the lakehouse's silver events. */
export interface ClickHouseEventSink {
  /** Appends what the medallion promoted since the last drain; resolves with the events sent. */
  drain(): Promise<number>;
}

/** ClickHouse table of the sink's high-water marks (one row per mark stored; the largest wins). */
export const CLICKHOUSE_SINK_MARKS = 'medallion_sink_marks';
const SINK = 'events';

/** Options of `createPromotedEventsSink`. */
export interface PromotedEventsSinkOptions {
  /** The lakehouse, read only (DuckDB or Trino): silver's promoted events come from it. */
  lakehouse: SqlEngine;
  clickhouse: ClickHouseEngine;
  /** Events per lakehouse read and per ClickHouse INSERT. Default 10,000. */
  batchSize?: number;
  /** Runs between a batch's INSERT and its mark; a rejection fails the drain there. For fault tests. */
  afterInsert?: () => Promise<void>;
}

/**
 * The ClickHouse sink, wherever the medallion runs (the gateway's in-process medallion, the worker): appends the events silver promoted (by `promoted_seq`)
 * to ClickHouse's `events` (then copies the dimension tables again: new events bring new users and move users between segments), reading
 * them through the lakehouse's SQL port, so it works with the
 * lakehouse on Trino as on DuckDB. Its high-water mark lives in ClickHouse itself
 * (`medallion_sink_marks`, written after each batch), not in the lakehouse, so the sink needs
 * no lakehouse writer. ClickHouse 18.16 has no insert deduplication tokens, and the events table
 * is a plain MergeTree (its sorting key serves the analytics reads; a ReplacingMergeTree by
 * event_id would need FINAL or argMax in every analytics query to hide duplicates until merges
 * ran). So duplicates are kept out at the source: the only batch that can be in ClickHouse
 * without its mark is the one in flight when a drain failed or the process died, and the first
 * batch after a start or a failure is checked against ClickHouse by event id (only the missing
 * rows are inserted); later batches follow a mark stored by this process and are appended as they
 * are. Why not ClickHouse's Kafka engine: it would copy the topics' raw records (bronze:
 * unvalidated, quarantined ones included, not enriched, redeliveries included), not silver.
 */
export function createPromotedEventsSink(options: PromotedEventsSinkOptions): ClickHouseEventSink {
  const { lakehouse, clickhouse } = options;
  const batchSize = options.batchSize ?? 10_000;
  const marks = `${identifier(clickhouse.database)}.${CLICKHOUSE_SINK_MARKS}`;
  const events = `${identifier(clickhouse.database)}.events`;
  let prepared: Promise<void> | undefined;
  /** Whether ClickHouse is known to hold no event past the stored mark (false after a start or a failure). */
  let verified = false;
  let running: Promise<number> = Promise.resolve(0);

  function prepare(): Promise<void> {
    prepared ??= clickhouse
      .command(`CREATE TABLE IF NOT EXISTS ${marks} (sink String, seq UInt64, marked_at DateTime) ENGINE = ReplacingMergeTree(seq) ORDER BY sink`)
      .catch((error: unknown) => {
        prepared = undefined;
        throw error;
      });
    return prepared;
  }

  const store = (seq: number) => clickhouse.insert(marks, [{ sink: SINK, seq, marked_at: Math.floor(Date.now() / 1000) }]);

  /** The stored mark; without one, where the bootstrap's full copy stopped, else silver's newest event (ClickHouse loaded some other way). */
  async function mark(): Promise<number> {
    const [row] = await clickhouse.query(`SELECT count() AS n, max(seq) AS seq FROM ${marks} WHERE sink = ?`, [SINK]);
    if (Number(row?.['n'] ?? 0) > 0) return Number(row?.['seq']);
    const [copied] = await lakehouse.query('SELECT log_offset FROM platform.watermarks WHERE pipeline = ?', [CLICKHOUSE_EVENTS_WATERMARK]);
    const [head] = copied ? [] : await lakehouse.query('SELECT coalesce(max(promoted_seq), 0) AS head FROM silver.events');
    const start = copied ? Number(copied['log_offset']) : Number(head?.['head'] ?? 0);
    await store(start);
    return start;
  }

  /** The rows of a batch ClickHouse does not have yet. */
  async function missing(rows: readonly SqlRow[]): Promise<SqlRow[]> {
    const ids = rows.map((row) => String(row['event_id']));
    const present = await clickhouse.query(`SELECT DISTINCT event_id FROM ${events} WHERE event_id IN (${ids.map(() => '?').join(', ')})`, ids);
    const seen = new Set(present.map((row) => String(row['event_id'])));
    return rows.filter((row) => !seen.has(String(row['event_id'])));
  }

  async function drainOnce(): Promise<number> {
    await prepare();
    const features = await clickhouse.features();
    const columns = eventColumns(features).map(([name]) => name);
    let from = await mark();
    let sent = 0;
    for (;;) {
      const rows = await lakehouse.query(`SELECT ${columns.join(', ')}, promoted_seq FROM silver.events WHERE promoted_seq > ? ORDER BY promoted_seq ${limit(batchSize)}`, [from]);
      if (rows.length === 0) break;
      const fresh = verified ? rows : await missing(rows);
      if (fresh.length > 0) await clickhouse.insert(events, fresh.map((row) => toClickHouseRow(row, features.dateTime64)));
      await options.afterInsert?.();
      from = Number(rows[rows.length - 1]?.['promoted_seq'] ?? from);
      await store(from);
      verified = true;
      sent += fresh.length;
      if (rows.length < batchSize) break;
    }
    // New events can bring new users and move users between segments: the dimension copies follow.
    if (sent > 0) await copyDimensionsToClickHouse(lakehouse, clickhouse);
    return sent;
  }

  return {
    drain() {
      running = running
        .catch(() => 0)
        .then(() =>
          drainOnce().catch((error: unknown) => {
            verified = false;
            throw error;
          }),
        );
      return running;
    },
  };
}

/** Records, after a full copy of the lakehouse's events, that the sink starts from what silver holds now. */
export async function markClickHouseCopied(writer: SqlWriter, lakehouse: SqlEngine): Promise<void> {
  const head = await promotedHead(lakehouse);
  await storeWatermark(writer, CLICKHOUSE_EVENTS_WATERMARK, head);
}

/** The newest promotion sequence in silver (0 before the medallion promoted anything). */
async function promotedHead(lakehouse: SqlEngine): Promise<number> {
  const [row] = await lakehouse.query('SELECT coalesce(max(promoted_seq), 0) AS head FROM silver.events');
  return Number(row?.['head'] ?? 0);
}
