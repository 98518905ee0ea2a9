import { limit, type SqlEngine, type SqlRow } from '../sql/port.ts';
import type { ClickHouseEngine } from './engine.ts';
import { DIMENSION_TABLES, type DimensionTable } from '../analytics/dimensions.ts';
import { dimensionTableDdl, dimensionTableName, eventColumns, eventsTableDdl, identifier, migrateAnalytics } from './migrations.ts';
import { utcText } from './quote.ts';

/** Options of `copyEventsToClickHouse`. */
export interface CopyEventsOptions {
  /** Events per lakehouse read and per ClickHouse INSERT. Default 10,000. */
  batchSize?: number;
  /** The lakehouse relation to copy from. Default `analytics.events` (the embedded analytics view). */
  source?: string;
  /** Budget of each statement (read, insert, DDL) in ms. Default: each engine's own. */
  timeoutMs?: number;
  /** Stops the copy; the live table is left as it was. */
  signal?: AbortSignal;
}

/** What a copy did. */
export interface CopyEventsReport {
  events: number;
  /** Rows of the dimension tables (tours). */
  dimensionRows: number;
  batches: number;
  elapsedMs: number;
}

/**
 * Copies every analytics event from the lakehouse into ClickHouse's `events` table (bootstrap and
 * demo use: production feeds ClickHouse from the bus). The lakehouse is read in keyset pages
 * (`event_id > last ORDER BY event_id`: no OFFSET rescans; silver deduplicates event ids), the
 * next page read while the current one is inserted. Rows go to a staging table that then
 * replaces `events` by RENAME, so readers see the old rows or all the new ones, never a half
 * load, and running the copy twice does not double the events.
 */
export async function copyEventsToClickHouse(lakehouse: SqlEngine, clickhouse: ClickHouseEngine, options: CopyEventsOptions = {}): Promise<CopyEventsReport> {
  const started = performance.now();
  const batchSize = options.batchSize ?? 10_000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const statementOptions = { ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }), ...(options.signal ? { signal: options.signal } : {}) };

  await migrateAnalytics(clickhouse);
  const features = await clickhouse.features(statementOptions);
  const database = identifier(clickhouse.database);
  const staging = `${database}.events_loading`;
  const replaced = `${database}.events_replaced`;
  // Leftovers of an interrupted copy.
  await clickhouse.command(`DROP TABLE IF EXISTS ${staging}`, statementOptions);
  await clickhouse.command(`DROP TABLE IF EXISTS ${replaced}`, statementOptions);
  await clickhouse.command(eventsTableDdl(database, 'events_loading', features), statementOptions);

  const columns = eventColumns(features).map(([name]) => name);
  const read = (after: string): Promise<SqlRow[]> => {
    const page = lakehouse.query(
      `SELECT ${columns.join(', ')} FROM ${options.source ?? 'analytics.events'} WHERE event_id > ? ORDER BY event_id ${limit(batchSize)}`,
      [after],
      statementOptions,
    );
    // Awaited later; until then a failure must not count as unhandled.
    page.catch(() => undefined);
    return page;
  };

  let events = 0;
  let batches = 0;
  try {
    let next = read('');
    for (;;) {
      const rows = await next;
      if (rows.length === 0) break;
      const last = rows[rows.length - 1]?.['event_id'];
      next = rows.length < batchSize ? Promise.resolve([]) : read(String(last));
      await clickhouse.insert(staging, rows.map((row) => toClickHouseRow(row, features.dateTime64)), statementOptions);
      events += rows.length;
      batches += 1;
    }
    await clickhouse.command(`RENAME TABLE ${database}.events TO ${replaced}, ${staging} TO ${database}.events`, statementOptions);
    await clickhouse.command(`DROP TABLE ${replaced}`, statementOptions);
  } catch (error) {
    await clickhouse.command(`DROP TABLE IF EXISTS ${staging}`).catch(() => undefined);
    throw error;
  }
  const dimensionRows = await copyDimensionsToClickHouse(lakehouse, clickhouse, statementOptions);
  return { events, dimensionRows, batches, elapsedMs: performance.now() - started };
}

/**
 * Replaces ClickHouse's copies of the dimension tables (src/backends/analytics/dimensions.ts)
 * with the lakehouse's rows, by the same staging table and RENAME as the events; resolves with
 * the rows copied. Dimensions are small (one row per tour): one read, one insert each.
 */
export async function copyDimensionsToClickHouse(lakehouse: SqlEngine, clickhouse: ClickHouseEngine, statementOptions: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number> {
  let copied = 0;
  for (const dimension of DIMENSION_TABLES) copied += await copyDimensionToClickHouse(lakehouse, clickhouse, dimension, statementOptions);
  return copied;
}

/** Replaces ClickHouse's copy of one dimension table (e.g. the tours, after the catalogue changed); resolves with the rows copied. */
export async function copyDimensionToClickHouse(
  lakehouse: SqlEngine,
  clickhouse: ClickHouseEngine,
  dimension: DimensionTable,
  statementOptions: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const database = identifier(clickhouse.database);
  const table = dimensionTableName(dimension);
  const staging = `${table}_loading`;
  const replaced = `${table}_replaced`;
  const rows = await lakehouse.query(`SELECT * FROM (${dimension.query}) dimension ORDER BY ${identifier(dimension.key)}`, [], statementOptions);
  await clickhouse.command(`DROP TABLE IF EXISTS ${database}.${staging}`, statementOptions);
  await clickhouse.command(`DROP TABLE IF EXISTS ${database}.${replaced}`, statementOptions);
  await clickhouse.command(dimensionTableDdl(database, staging, dimension), statementOptions);
  const values = rows.map((row) => Object.fromEntries(dimension.columns.map(([name, type]) => {
    const value = row[name];
    if (value == null && !type.startsWith('Nullable')) throw new TypeError(`${dimension.name}: ${name} is NULL but not nullable in ClickHouse`);
    return [name, value == null ? null : String(value)];
  })));
  await clickhouse.insert(`${database}.${staging}`, values, statementOptions);
  // A dimension added since the server was bootstrapped has no table yet to swap out.
  await clickhouse.command(dimensionTableDdl(database, table, dimension), statementOptions);
  await clickhouse.command(`RENAME TABLE ${database}.${table} TO ${database}.${replaced}, ${database}.${staging} TO ${database}.${table}`, statementOptions);
  await clickhouse.command(`DROP TABLE ${database}.${replaced}`, statementOptions);
  return rows.length;
}

/** Where `npm run bootstrap` records, in the lakehouse's `platform.watermarks`, the silver position its full copy to ClickHouse reached. */
export const CLICKHOUSE_EVENTS_WATERMARK = 'clickhouse.events';

/** One lakehouse event as a JSONEachRow object for `eventColumns`. */
export function toClickHouseRow(row: SqlRow, dateTime64: boolean): Record<string, unknown> {
  const occurredAt = row['occurred_at'];
  const at = occurredAt instanceof Date ? occurredAt.getTime() : Number.NaN;
  if (!Number.isFinite(at)) throw new TypeError(`event ${String(row['event_id'])}: occurred_at is not a timestamp (${String(occurredAt)})`);
  return {
    event_id: required(row, 'event_id'),
    user_id: required(row, 'user_id'),
    event_type: required(row, 'event_type'),
    tour_id: optional(row, 'tour_id'),
    region: optional(row, 'region'),
    amount: row['amount'] == null ? null : Number(row['amount']),
    currency: optional(row, 'currency'),
    // Text in UTC, read in the column's zone (UTC). Without DateTime64 the milliseconds are cut
    // off, as the column would cut them: whole-second bounds still compare as on the lakehouse.
    occurred_at: utcText(at, dateTime64),
    source: required(row, 'source'),
  };
}

function required(row: SqlRow, column: string): string {
  const value = row[column];
  if (value == null) throw new TypeError(`event ${String(row['event_id'])}: ${column} is NULL but not nullable in ClickHouse`);
  return String(value);
}

function optional(row: SqlRow, column: string): string | null {
  const value = row[column];
  return value == null ? null : String(value);
}
