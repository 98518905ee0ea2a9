import { isUnknownPosition, type BusPort, type LogEntry } from '../../src/backends/bus/port.ts';
import type { Logger } from '../../src/logger.ts';
import { readBus } from './bronze.ts';

/** What one landing takes from a record source: records in log order and the position after them. */
export interface SourceBatch {
  entries: LogEntry[];
  /** Bus cursor after the last entry (the source's current position when `entries` is empty). */
  position: string;
}

/**
 * Where the medallion's bronze landing takes its records from. The runner asks for a batch,
 * lands it in one transaction (storing `position` as the bronze watermark with it), and only then
 * tells the source `committed(position)`. A batch whose landing failed is not committed: the
 * next `next()` offers its records again. Records are at-least-once: silver keeps each event id
 * once, so a batch landed twice (a crash between the landing and `committed`) costs bronze
 * duplicates, never silver ones.
 */
export interface RecordSource {
  /** Names the source in logs (`bus-cursor`, `kafka-group`). */
  readonly kind: string;
  /** False while another replica runs the passes (a standby): the runner then runs none. Default: always active. */
  readonly active?: boolean;
  /** Opens the source (joins a consumer group, ...). Called once by the runner's `start`. */
  start?(): Promise<void>;
  /** Up to `max` records not yet committed, in log order; `stored` is the bronze watermark, when there is one. */
  next(max: number, stored: string | undefined): Promise<SourceBatch>;
  /** The landing of everything up to `position` committed in the lakehouse. */
  committed(position: string, entries: readonly LogEntry[]): Promise<void>;
  /**
   * Calls `listener` when records are waiting; `full` when at least a batch's worth is (run now
   * rather than after the debounce). Returns an unsubscribe function.
   */
  onAvailable(listener: (full: boolean) => void): () => void;
  /** Stops taking records (leaves a consumer group, ...). Idempotent. */
  close?(): Promise<void>;
}

/**
 * The embedded runner's source: the bus records after the cursor stored in `platform.watermarks`
 * (the bronze landing writes the cursor in its own transaction, so `committed` has nothing left
 * to do). A stored position this bus never made (stored by the other bus on the same DATA_DIR,
 * e.g. the embedded log's before KAFKA_BROKERS was set, or by a cluster since reset) must not
 * stop the gateway: bronze starts again from the bus's start, says so, and silver skips the
 * event ids it already has.
 */
export function busCursorSource(options: { bus: BusPort; logger?: Logger | undefined }): RecordSource {
  const { bus, logger } = options;
  return {
    kind: 'bus-cursor',
    async next(max, stored) {
      const cursor = stored ?? bus.startCursor;
      try {
        const batch = await readBus(bus, cursor, max);
        return { entries: batch.entries, position: batch.cursor };
      } catch (error) {
        if (!isUnknownPosition(error) || cursor === bus.startCursor) throw error;
        logger?.warn(
          { pipeline: 'bronze', position: cursor.slice(0, 80), bus: bus.adapter, reason: (error as Error).message },
          `medallion: the stored bronze position is not a position on this ${bus.adapter} bus (stored by another bus on this DATA_DIR, or before the bus was reset); bronze reset to the start of the bus: its records are landed again and silver keeps each event id once`,
        );
        const batch = await readBus(bus, bus.startCursor, max);
        return { entries: batch.entries, position: batch.cursor };
      }
    },
    async committed() {
      // The cursor was stored with the landing.
    },
    onAvailable(listener) {
      return bus.tail(() => listener(false));
    },
  };
}
