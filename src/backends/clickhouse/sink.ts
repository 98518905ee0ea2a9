import { storeWatermark } from '../../platform/metadata.ts';
import type { SqlEngine } from '../sql/port.ts';
import type { SqlWriter } from '../sql/writer.ts';
import type { ClickHouseEngine } from './engine.ts';
import { appendPromotedEvents, CLICKHOUSE_EVENTS_WATERMARK, copyDimensionsToClickHouse } from './load.ts';

/** Keeps ClickHouse's `events` current from the lakehouse's silver events. */
export interface ClickHouseEventSink {
  /** Appends what the medallion promoted since the last drain; resolves with the events sent. */
  drain(): Promise<number>;
}

/**
 * The sink behind `CLICKHOUSE_URL` wherever the medallion runs: after each medallion pass the
 * newly promoted silver events go to ClickHouse, and the dimension tables are copied again, so
 * analytics answers follow ingestion as they do embedded. Its position is a watermark in `platform.watermarks`, written by `npm run bootstrap`
 * after its full copy; without one (ClickHouse loaded some other way) the first drain starts at
 * the newest event promoted so far. Drains run one at a time.
 */
export function createClickHouseEventSink(options: { writer: SqlWriter; lakehouse: SqlEngine; clickhouse: ClickHouseEngine }): ClickHouseEventSink {
  const { writer, lakehouse, clickhouse } = options;
  let running: Promise<number> = Promise.resolve(0);

  async function watermark(): Promise<number> {
    const [row] = await lakehouse.query('SELECT log_offset FROM platform.watermarks WHERE pipeline = ?', [CLICKHOUSE_EVENTS_WATERMARK]);
    if (row) return Number(row['log_offset']);
    const start = await promotedHead(lakehouse);
    await store(start);
    return start;
  }

  const store = (seq: number): Promise<void> => storeWatermark(writer, CLICKHOUSE_EVENTS_WATERMARK, seq);

  async function drainOnce(): Promise<number> {
    const from = await watermark();
    const { events, lastSeq } = await appendPromotedEvents(lakehouse, clickhouse, from);
    if (lastSeq !== from) await store(lastSeq);
    // New events can bring new users and move users between segments (gold was refreshed in the
    // same pass): the dimension copies follow, or the new events would join no user.
    if (events > 0) await copyDimensionsToClickHouse(lakehouse, clickhouse);
    return events;
  }

  return {
    drain() {
      running = running.catch(() => 0).then(drainOnce);
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
