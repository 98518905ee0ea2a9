import type { DestinationRow, EventRow, EventTypeName, TourRow } from '../../domain.ts';
import { userInputError } from '../../errors.ts';
import { limit, placeholders, type QueryOptions, type SqlEngine, type SqlValue } from '../sql/port.ts';
import {
  DESTINATION_COLUMNS,
  EVENT_COLUMNS,
  TOUR_COLUMNS,
  destinationFromRow,
  eventFromRow,
  tourFromRow,
} from './rows.ts';

/** Lakehouse reads in SQL that runs unchanged on DuckDB and on Trino (positional `?` parameters). */

export interface TourFilterInput {
  regions?: readonly string[] | null;
  destinationId?: string | null;
  categories?: readonly string[] | null;
  minPrice?: number | null;
  maxPrice?: number | null;
  minRating?: number | null;
  tags?: readonly string[] | null;
}

export interface Page<T> {
  rows: T[];
  hasNextPage: boolean;
  /** NaN when the page was read without counting. */
  totalCount: number;
}

/** A WHERE clause under construction: conditions joined by AND, their parameters in order. */
export class Where {
  readonly conditions: string[] = [];
  readonly params: SqlValue[] = [];

  add(condition: string, ...params: SqlValue[]): this {
    this.conditions.push(condition);
    this.params.push(...params);
    return this;
  }

  in(column: string, values: readonly SqlValue[] | null | undefined): this {
    if (values && values.length > 0) this.add(`${column} IN (${placeholders(values.length)})`, ...values);
    return this;
  }

  sql(): string {
    return this.conditions.length === 0 ? 'TRUE' : this.conditions.join(' AND ');
  }
}

function tourWhere(filter: TourFilterInput | null | undefined): Where {
  const where = new Where();
  if (!filter) return where;
  where.in('region', filter.regions);
  where.in('category', filter.categories);
  if (filter.destinationId != null) where.add('destination_id = ?', filter.destinationId);
  if (filter.minPrice != null) where.add('price >= ?', filter.minPrice);
  if (filter.maxPrice != null) where.add('price <= ?', filter.maxPrice);
  if (filter.minRating != null) where.add('rating >= ?', filter.minRating);
  for (const tag of filter.tags ?? []) where.add('contains(tags, ?)', tag);
  return where;
}

function tableAsOf(engine: SqlEngine, table: string, asOf: Date | null | undefined): { sql: string; params: SqlValue[] } {
  if (!asOf) return { sql: table, params: [] };
  if (!engine.capabilities.timeTravel) {
    throw userInputError(
      `Argument "asOf" needs a lakehouse that keeps table snapshots (Trino over Iceberg); the ${engine.adapter} lakehouse only has the current table.`,
      { argumentName: 'asOf' },
    );
  }
  // Bound as a Date: each adapter renders its own timestamp form (Trino rejects ISO's T and Z here).
  return { sql: `${table} FOR TIMESTAMP AS OF CAST(? AS TIMESTAMP(6) WITH TIME ZONE)`, params: [asOf] };
}

/** One page of tours ordered by id, after the tour id `afterId`; with `withTotal`, the filter's count too. */
export async function toursPage(
  engine: SqlEngine,
  args: { filter?: TourFilterInput | null; first: number; afterId?: string | null; asOf?: Date | null; withTotal?: boolean },
  options?: QueryOptions,
): Promise<Page<TourRow>> {
  const table = tableAsOf(engine, 'silver.tours', args.asOf);
  return keysetPage(engine, {
    table,
    columns: TOUR_COLUMNS,
    key: 'tour_id',
    where: tourWhere(args.filter),
    first: args.first,
    afterId: args.afterId ?? null,
    withTotal: args.withTotal ?? true,
    map: tourFromRow,
  }, options);
}

/**
 * A page of `table` ordered by its text key. The count rides on the same statement only when asked
 * for (counting a filtered table costs more than reading one page of it).
 */
async function keysetPage<T>(
  engine: SqlEngine,
  args: {
    table: { sql: string; params: SqlValue[] };
    columns: string;
    key: string;
    where: Where;
    first: number;
    afterId: string | null;
    withTotal: boolean;
    map: (row: Record<string, unknown>) => T;
  },
  options?: QueryOptions,
): Promise<Page<T>> {
  const { table, columns, key, where, first, afterId } = args;
  const afterParams = afterId === null ? [] : [afterId];
  if (!args.withTotal) {
    const rows = await engine.query(
      `SELECT ${columns} FROM ${table.sql} WHERE ${where.sql()} ${afterId === null ? '' : `AND ${key} > ?`} ORDER BY ${key} ${limit(first + 1)}`,
      [...table.params, ...where.params, ...afterParams],
      options,
    );
    return { rows: rows.slice(0, first).map(args.map), hasNextPage: rows.length > first, totalCount: Number.NaN };
  }
  const rows = await engine.query(
    `WITH matching AS (SELECT ${columns} FROM ${table.sql} WHERE ${where.sql()})
     , page AS (SELECT * FROM matching ${afterId === null ? '' : `WHERE ${key} > ?`} ORDER BY ${key} ${limit(first + 1)})
     SELECT page.*, totals.total_count
     FROM (SELECT count(*) AS total_count FROM matching) totals LEFT JOIN page ON TRUE
     ORDER BY page.${key}`,
    [...table.params, ...where.params, ...afterParams],
    options,
  );
  return pageOf(rows, first, key, args.map);
}

/**
 * Reads a page statement's answer: the total rides on every row (one all-null row when the page
 * is empty), and one look-ahead row past `first` says whether a next page exists.
 */
function pageOf<T>(
  rows: Record<string, unknown>[],
  first: number,
  key: string,
  map: (row: Record<string, unknown>) => T,
): Page<T> {
  const totalCount = rows.length > 0 ? Number(rows[0]?.['total_count'] ?? 0) : 0;
  const present = rows.filter((row) => row[key] !== null && row[key] !== undefined);
  return { rows: present.slice(0, first).map(map), hasNextPage: present.length > first, totalCount };
}

/** Tours by id, in one statement. */
export async function toursByIds(engine: SqlEngine, ids: readonly string[], asOf?: Date | null, options?: QueryOptions): Promise<TourRow[]> {
  const table = tableAsOf(engine, 'silver.tours', asOf);
  const rows = await engine.query(
    `SELECT ${TOUR_COLUMNS} FROM ${table.sql} WHERE tour_id IN (${placeholders(ids.length)})`,
    [...table.params, ...ids],
    options,
  );
  return rows.map(tourFromRow);
}

/**
 * The first `first` tours (by id, after `afterId`) of each destination, in one statement for
 * every destination of a request level.
 */
export async function toursByDestinations(
  engine: SqlEngine,
  args: { destinationIds: readonly string[]; first: number; afterId?: string | null },
  options?: QueryOptions,
): Promise<{ rows: TourRow[]; totals: Map<string, number> }> {
  const after = args.afterId == null ? '' : 'AND tour_id > ?';
  const rows = await engine.query(
    `SELECT * FROM (
       SELECT ${TOUR_COLUMNS},
         row_number() OVER (PARTITION BY destination_id ORDER BY tour_id) AS position,
         count(*) OVER (PARTITION BY destination_id) AS total_count
       FROM silver.tours
       WHERE destination_id IN (${placeholders(args.destinationIds.length)}) ${after}
     ) ranked
     WHERE position <= ?
     ORDER BY destination_id, tour_id`,
    [...args.destinationIds, ...(args.afterId == null ? [] : [args.afterId]), args.first + 1],
    options,
  );
  const totals = new Map<string, number>();
  for (const row of rows) totals.set(String(row['destination_id']), Number(row['total_count']));
  return { rows: rows.map(tourFromRow), totals };
}

export interface DestinationFilterInput {
  countryCodes?: readonly string[] | null;
  minRating?: number | null;
}

/** One page of destinations ordered by id. */
export async function destinationsPage(
  engine: SqlEngine,
  args: { filter?: DestinationFilterInput | null; first: number; afterId?: string | null; withTotal?: boolean },
  options?: QueryOptions,
): Promise<Page<DestinationRow>> {
  const where = new Where().in('country_code', args.filter?.countryCodes);
  if (args.filter?.minRating != null) where.add('rating >= ?', args.filter.minRating);
  return keysetPage(engine, {
    table: { sql: 'silver.destinations', params: [] },
    columns: DESTINATION_COLUMNS,
    key: 'destination_id',
    where,
    first: args.first,
    afterId: args.afterId ?? null,
    withTotal: args.withTotal ?? true,
    map: destinationFromRow,
  }, options);
}

export async function destinationsByIds(engine: SqlEngine, ids: readonly string[], options?: QueryOptions): Promise<DestinationRow[]> {
  const rows = await engine.query(
    `SELECT ${DESTINATION_COLUMNS} FROM silver.destinations WHERE destination_id IN (${placeholders(ids.length)})`,
    ids,
    options,
  );
  return rows.map(destinationFromRow);
}

export interface EventFilterInput {
  userId?: string | null;
  eventTypes?: readonly EventTypeName[] | null;
  regions?: readonly string[] | null;
  tourIds?: readonly string[] | null;
  from?: Date | null;
  to?: Date | null;
  text?: string | null;
  minAmount?: number | null;
  maxAmount?: number | null;
}

/** Keyset position in the newest-first event order. */
export interface EventPosition {
  occurredAtMs: number;
  id: string;
}

function eventWhere(filter: EventFilterInput | null | undefined): Where {
  const where = new Where();
  if (!filter) return where;
  if (filter.userId != null) where.add('user_id = ?', filter.userId);
  where.in('event_type', filter.eventTypes);
  where.in('region', filter.regions);
  where.in('tour_id', filter.tourIds);
  if (filter.from != null) where.add('occurred_at >= CAST(? AS TIMESTAMP)', isoNoZone(filter.from));
  if (filter.to != null) where.add('occurred_at < CAST(? AS TIMESTAMP)', isoNoZone(filter.to));
  if (filter.minAmount != null) where.add('amount >= ?', filter.minAmount);
  if (filter.maxAmount != null) where.add('amount <= ?', filter.maxAmount);
  if (filter.text != null && filter.text.trim() !== '') {
    // Every word must occur in the event's text fields (case-insensitive substring).
    for (const word of filter.text.trim().toLowerCase().split(/\s+/)) {
      where.add(
        `(lower(event_type) LIKE ? OR lower(coalesce(region, '')) LIKE ? OR lower(source) LIKE ? OR lower(coalesce(payload, '')) LIKE ? OR lower(coalesce(tour_id, '')) LIKE ?)`,
        ...Array.from({ length: 5 }, () => `%${escapeLike(word)}%`),
      );
    }
  }
  return where;
}

/** Timestamps are stored as UTC without zone; bind them the same way on every engine. */
export function isoNoZone(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

function escapeLike(word: string): string {
  // `LIKE` has no portable ESCAPE default; strip wildcards rather than match them.
  return word.replace(/[%_]/g, '');
}

/** Events newest first, after a keyset position; `withTotal` adds the filter's count. */
export async function eventsPage(
  engine: SqlEngine,
  args: { filter?: EventFilterInput | null; first: number; after?: EventPosition | null; withTotal?: boolean },
  options?: QueryOptions,
): Promise<Page<EventRow>> {
  const where = eventWhere(args.filter);
  const keyset = new Where();
  if (args.after) {
    const at = isoNoZone(new Date(args.after.occurredAtMs));
    keyset.add('(occurred_at < CAST(? AS TIMESTAMP) OR (occurred_at = CAST(? AS TIMESTAMP) AND event_id < ?))', at, at, args.after.id);
  }
  const total = args.withTotal ? `(SELECT count(*) FROM silver.events WHERE ${where.sql()})` : 'NULL';
  const rows = await engine.query(
    `SELECT ${EVENT_COLUMNS}, ${total} AS total_count
     FROM silver.events
     WHERE ${where.sql()} AND ${keyset.sql()}
     ORDER BY occurred_at DESC, event_id DESC
     ${limit(args.first + 1)}`,
    [...(args.withTotal ? where.params : []), ...where.params, ...keyset.params],
    options,
  );
  let totalCount = rows.length > 0 ? Number(rows[0]?.['total_count'] ?? 0) : 0;
  if (args.withTotal && rows.length === 0 && args.after) {
    const [row] = await engine.query(`SELECT count(*) AS n FROM silver.events WHERE ${where.sql()}`, where.params, options);
    totalCount = Number(row?.['n'] ?? 0);
  }
  return { rows: rows.slice(0, args.first).map(eventFromRow), hasNextPage: rows.length > args.first, totalCount };
}

/**
 * The newest `first` bookings of each user (after a keyset position), in one statement for every
 * user of a request level.
 */
export async function bookingsByUsers(
  engine: SqlEngine,
  args: { userIds: readonly string[]; first: number; after?: EventPosition | null },
  options?: QueryOptions,
): Promise<EventRow[]> {
  const keyset = new Where();
  if (args.after) {
    const at = isoNoZone(new Date(args.after.occurredAtMs));
    keyset.add('(occurred_at < CAST(? AS TIMESTAMP) OR (occurred_at = CAST(? AS TIMESTAMP) AND event_id < ?))', at, at, args.after.id);
  }
  const rows = await engine.query(
    `SELECT * FROM (
       SELECT ${EVENT_COLUMNS},
         row_number() OVER (PARTITION BY user_id ORDER BY occurred_at DESC, event_id DESC) AS position
       FROM silver.events
       WHERE event_type = 'booking' AND user_id IN (${placeholders(args.userIds.length)}) AND ${keyset.sql()}
     ) ranked
     WHERE position <= ?
     ORDER BY user_id, position`,
    [...args.userIds, ...keyset.params, args.first + 1],
    options,
  );
  return rows.map(eventFromRow);
}

/** Events by id, in one statement (unknown ids are absent). */
export async function eventsByIds(engine: SqlEngine, ids: readonly string[], options?: QueryOptions): Promise<EventRow[]> {
  const rows = await engine.query(`SELECT ${EVENT_COLUMNS} FROM silver.events WHERE event_id IN (${placeholders(ids.length)})`, ids, options);
  return rows.map(eventFromRow);
}

/** Which of these user ids exist (have a profile row or an event). */
export async function existingUsers(engine: SqlEngine, ids: readonly string[], options?: QueryOptions): Promise<Set<string>> {
  const rows = await engine.query(
    `SELECT user_id FROM silver.users WHERE user_id IN (${placeholders(ids.length)})
     UNION
     SELECT DISTINCT user_id FROM silver.events WHERE user_id IN (${placeholders(ids.length)})`,
    [...ids, ...ids],
    options,
  );
  return new Set(rows.map((row) => String(row['user_id'])));
}
