import { isoNoZone } from '../backends/lakehouse/queries.ts';
import type { SqlDialect, SqlValue } from '../backends/sql/port.ts';

/** The SQL that differs between the analytics engines: time buckets and timestamp parameters. */

const CLICKHOUSE_BUCKETS = { day: 'toStartOfDay', week: 'toMonday', month: 'toStartOfMonth', quarter: 'toStartOfQuarter', year: 'toStartOfYear' } as const;

/** Start-of-bucket expression of `column` (weeks start on Monday everywhere). */
export function bucketExpression(dialect: SqlDialect, interval: keyof typeof CLICKHOUSE_BUCKETS, column: string): string {
  switch (dialect) {
    case 'duckdb':
    case 'trino':
      return `date_trunc('${interval}', ${column})`;
    case 'clickhouse':
      return `${CLICKHOUSE_BUCKETS[interval]}(${column})`;
    default: {
      const unknown: never = dialect;
      throw new Error(`no bucketing for dialect ${String(unknown)}`);
    }
  }
}

/**
 * A timestamp bound to `?` for comparison with a UTC timestamp column. DuckDB and Trino take a
 * zone-less text cast to TIMESTAMP; ClickHouse takes the Date itself, which its binding writes as
 * a DateTime in UTC (a bare string there would be read in the server's time zone).
 */
export function timestampParameter(dialect: SqlDialect, date: Date): { sql: string; value: SqlValue } {
  switch (dialect) {
    case 'duckdb':
    case 'trino':
      return { sql: 'CAST(? AS TIMESTAMP)', value: isoNoZone(date) };
    case 'clickhouse':
      return { sql: '?', value: date };
    default: {
      const unknown: never = dialect;
      throw new Error(`no timestamp parameter for dialect ${String(unknown)}`);
    }
  }
}

