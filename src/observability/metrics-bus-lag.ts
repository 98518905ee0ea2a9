import type { DuckDbDatabase } from '../backends/duckdb/database.ts';
import type { Logger } from '../logger.ts';
import type { BusLagSource } from './metrics.ts';

/**
 * The embedded medallion's lag behind the embedded bus, read at scrape time: the newest offset of
 * the event log (`bronze.event_log`, the bus itself) minus the position the medallion's bronze
 * layer has landed up to (its stored cursor, an event-log offset). 0 when it has caught up.
 *
 * Registered only with the embedded bus (with Kafka, positions are per partition and the consumer
 * group's lag is Kafka's own figure). Unknown (the gauge is left out) when the read fails. The head is a max over the log's offset column: a scan of one column, a
 * few milliseconds at millions of records, once per scrape.
 */
export function medallionBusLag(database: DuckDbDatabase, logger: Logger): BusLagSource {
  return async () => {
    try {
      const [row] = await database.query(
        `SELECT (SELECT max(log_offset) FROM bronze.event_log) AS head,
                (SELECT position FROM platform.watermarks WHERE pipeline = 'bronze') AS landed`,
        [],
        { timeoutMs: 2_000, onTimeout: () => new Error('timed out reading the medallion position') },
      );
      const head = row?.['head'];
      const landed = row?.['landed'];
      // Nothing published yet: nothing to be behind on.
      if (head === null || head === undefined) return 0;
      // Never landed anything: every record of the log is behind.
      if (landed === null || landed === undefined) return Number(head) + 1;
      if (typeof landed !== 'string' || !/^-?\d{1,19}$/.test(landed)) return undefined;
      return Math.max(0, Number(BigInt(String(head)) - BigInt(landed)));
    } catch (error) {
      logger.debug({ err: error }, 'medallion bus lag not read');
      return undefined;
    }
  };
}
