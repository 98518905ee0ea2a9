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
  hasPreviousPage: boolean;
  /** NaN when the page was read without counting. */
  totalCount: number;
}

/**
 * A slice of an id-ordered list: the `first` rows after the id `afterId`, or the `last` rows
 * before the id `beforeId` (each cursor exclusive; none: from that end of the list).
 */
export type IdSlice = { first: number; afterId?: string | null; last?: never; beforeId?: never } | { last: number; beforeId?: string | null; first?: never; afterId?: never };

/** A slice of the newest-first event list, by keyset position: `first` older than `after`, or `last` newer than `before`. */
export type EventSlice =
  | { first: number; after?: EventPosition | null; last?: never; before?: never }
  | { last: number; before?: EventPosition | null; first?: never; after?: never };

/** A slice read in one direction: `size` rows past `cursor`, against the list's order when `backward`. */
export interface Keyset<K> {
  size: number;
  backward: boolean;
  cursor: K | null;
}

export function idKeyset(slice: IdSlice): Keyset<string> {
  return slice.last === undefined
    ? { size: slice.first, backward: false, cursor: slice.afterId ?? null }
    : { size: slice.last, backward: true, cursor: slice.beforeId ?? null };
}

function eventKeyset(slice: EventSlice): Keyset<EventPosition> {
  return slice.last === undefined
    ? { size: slice.first, backward: false, cursor: slice.after ?? null }
    : { size: slice.last, backward: true, cursor: slice.before ?? null };
}

/**
 * The page of rows read nearest the cursor first, with one look-ahead row: in list order, and
 * which sides have more. The side the cursor is on has more exactly when there is a cursor (it
 * names a row there), as Relay's spec allows.
 */
export function sliced<R>(rows: readonly R[], keyset: Keyset<unknown>): { rows: R[]; hasNextPage: boolean; hasPreviousPage: boolean } {
  const more = rows.length > keyset.size;
  const page = rows.slice(0, keyset.size);
  if (!keyset.backward) return { rows: page, hasNextPage: more, hasPreviousPage: keyset.cursor !== null };
  return { rows: page.reverse(), hasNextPage: keyset.cursor !== null, hasPreviousPage: more };
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

/** One page of tours ordered by id (a slice of it); with `withTotal`, the filter's count too. */
export async function toursPage(
  engine: SqlEngine,
  args: IdSlice & { filter?: TourFilterInput | null; asOf?: Date | null; withTotal?: boolean },
  options?: QueryOptions,
): Promise<Page<TourRow>> {
  const table = tableAsOf(engine, 'silver.tours', args.asOf);
  return keysetPage(engine, {
    table,
    columns: TOUR_COLUMNS,
    key: 'tour_id',
    where: tourWhere(args.filter),
    keyset: idKeyset(args),
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
    keyset: Keyset<string>;
    withTotal: boolean;
    map: (row: Record<string, unknown>) => T;
  },
  options?: QueryOptions,
): Promise<Page<T>> {
  const { table, columns, key, where, keyset } = args;
  // Backward reads the list from the other end: rows before the cursor, nearest first.
  const [compare, order] = keyset.backward ? ['<', 'DESC'] : ['>', 'ASC'];
  const cursorParams = keyset.cursor === null ? [] : [keyset.cursor];
  if (!args.withTotal) {
    const rows = await engine.query(
      `SELECT ${columns} FROM ${table.sql} WHERE ${where.sql()} ${keyset.cursor === null ? '' : `AND ${key} ${compare} ?`} ORDER BY ${key} ${order} ${limit(keyset.size + 1)}`,
      [...table.params, ...where.params, ...cursorParams],
      options,
    );
    const page = sliced(rows, keyset);
    return { ...page, rows: page.rows.map(args.map), totalCount: Number.NaN };
  }
  const rows = await engine.query(
    `WITH matching AS (SELECT ${columns} FROM ${table.sql} WHERE ${where.sql()})
     , page AS (SELECT * FROM matching ${keyset.cursor === null ? '' : `WHERE ${key} ${compare} ?`} ORDER BY ${key} ${order} ${limit(keyset.size + 1)})
     SELECT page.*, totals.total_count
     FROM (SELECT count(*) AS total_count FROM matching) totals LEFT JOIN page ON TRUE
     ORDER BY page.${key} ${order}`,
    [...table.params, ...where.params, ...cursorParams],
    options,
  );
  return pageOf(rows, keyset, key, args.map);
}

/**
 * Reads a page statement's answer: the total rides on every row (one all-null row when the page
 * is empty), and one look-ahead row past the page's size says whether more exist that way.
 */
function pageOf<T>(
  rows: Record<string, unknown>[],
  keyset: Keyset<unknown>,
  key: string,
  map: (row: Record<string, unknown>) => T,
): Page<T> {
  const totalCount = rows.length > 0 ? Number(rows[0]?.['total_count'] ?? 0) : 0;
  const page = sliced(rows.filter((row) => row[key] !== null && row[key] !== undefined), keyset);
  return { ...page, rows: page.rows.map(map), totalCount };
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
 * The same slice of tours (by id) of each destination, with one look-ahead row each, in one
 * statement for every destination of a request level. Each destination's rows come nearest the
 * cursor first (backward: highest id first); `totals` counts the rows on the slice's side of it.
 */
export async function toursByDestinations(
  engine: SqlEngine,
  args: IdSlice & { destinationIds: readonly string[] },
  options?: QueryOptions,
): Promise<{ rows: TourRow[]; totals: Map<string, number> }> {
  const keyset = idKeyset(args);
  const [compare, order] = keyset.backward ? ['<', 'DESC'] : ['>', 'ASC'];
  const rows = await engine.query(
    `SELECT * FROM (
       SELECT ${TOUR_COLUMNS},
         row_number() OVER (PARTITION BY destination_id ORDER BY tour_id ${order}) AS position,
         count(*) OVER (PARTITION BY destination_id) AS total_count
       FROM silver.tours
       WHERE destination_id IN (${placeholders(args.destinationIds.length)}) ${keyset.cursor === null ? '' : `AND tour_id ${compare} ?`}
     ) ranked
     WHERE position <= ?
     ORDER BY destination_id, tour_id ${order}`,
    [...args.destinationIds, ...(keyset.cursor === null ? [] : [keyset.cursor]), keyset.size + 1],
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
  args: IdSlice & { filter?: DestinationFilterInput | null; withTotal?: boolean },
  options?: QueryOptions,
): Promise<Page<DestinationRow>> {
  const where = new Where().in('country_code', args.filter?.countryCodes);
  if (args.filter?.minRating != null) where.add('rating >= ?', args.filter.minRating);
  return keysetPage(engine, {
    table: { sql: 'silver.destinations', params: [] },
    columns: DESTINATION_COLUMNS,
    key: 'destination_id',
    where,
    keyset: idKeyset(args),
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
  /** Event ids (not a GraphQL filter: `Query.event` reads one event through it). */
  ids?: readonly string[] | null;
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
  where.in('event_id', filter.ids);
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

/**
 * The keyset condition and order of an event slice: newest first, so forward reads older events
 * (smaller occurrence time, then smaller id) and backward reads newer ones, nearest the cursor first.
 */
function eventOrder(keyset: Keyset<EventPosition>): { where: Where; order: string } {
  const where = new Where();
  const [compare, order] = keyset.backward ? ['>', 'ASC'] : ['<', 'DESC'];
  if (keyset.cursor) {
    const at = isoNoZone(new Date(keyset.cursor.occurredAtMs));
    where.add(`(occurred_at ${compare} CAST(? AS TIMESTAMP) OR (occurred_at = CAST(? AS TIMESTAMP) AND event_id ${compare} ?))`, at, at, keyset.cursor.id);
  }
  return { where, order: `occurred_at ${order}, event_id ${order}` };
}

/** Events newest first, a slice by keyset position; `withTotal` adds the filter's count. */
export async function eventsPage(
  engine: SqlEngine,
  args: EventSlice & { filter?: EventFilterInput | null; withTotal?: boolean },
  options?: QueryOptions,
): Promise<Page<EventRow>> {
  const where = eventWhere(args.filter);
  const slice = eventKeyset(args);
  const { where: keyset, order } = eventOrder(slice);
  const total = args.withTotal ? `(SELECT count(*) FROM silver.events WHERE ${where.sql()})` : 'NULL';
  const rows = await engine.query(
    `SELECT ${EVENT_COLUMNS}, ${total} AS total_count
     FROM silver.events
     WHERE ${where.sql()} AND ${keyset.sql()}
     ORDER BY ${order}
     ${limit(slice.size + 1)}`,
    [...(args.withTotal ? where.params : []), ...where.params, ...keyset.params],
    options,
  );
  let totalCount = rows.length > 0 ? Number(rows[0]?.['total_count'] ?? 0) : 0;
  if (args.withTotal && rows.length === 0 && slice.cursor) {
    const [row] = await engine.query(`SELECT count(*) AS n FROM silver.events WHERE ${where.sql()}`, where.params, options);
    totalCount = Number(row?.['n'] ?? 0);
  }
  const page = sliced(rows, slice);
  return { ...page, rows: page.rows.map(eventFromRow), totalCount };
}

/** Events by id, in one statement. */
export async function eventsByIds(engine: SqlEngine, ids: readonly string[], options?: QueryOptions): Promise<EventRow[]> {
  const rows = await engine.query(`SELECT ${EVENT_COLUMNS} FROM silver.events WHERE event_id IN (${placeholders(ids.length)})`, ids, options);
  return rows.map(eventFromRow);
}

/**
 * The same slice of bookings (newest first, by keyset position) of each user, with one look-ahead
 * row each, in one statement for every user of a request level. Each user's rows come nearest
 * the cursor first (backward: oldest first).
 */
export async function bookingsByUsers(
  engine: SqlEngine,
  args: EventSlice & { userIds: readonly string[] },
  options?: QueryOptions,
): Promise<EventRow[]> {
  const slice = eventKeyset(args);
  const { where: keyset, order } = eventOrder(slice);
  const rows = await engine.query(
    `SELECT * FROM (
       SELECT ${EVENT_COLUMNS},
         row_number() OVER (PARTITION BY user_id ORDER BY ${order}) AS position
       FROM silver.events
       WHERE event_type = 'booking' AND user_id IN (${placeholders(args.userIds.length)}) AND ${keyset.sql()}
     ) ranked
     WHERE position <= ?
     ORDER BY user_id, position`,
    [...args.userIds, ...keyset.params, slice.size + 1],
    options,
  );
  return rows.map(eventFromRow);
}

/** A parent's share of a per-parent slice read nearest the cursor first (`toursByDestinations`, `bookingsByUsers`): its page in list order. */
export function childPage<R>(own: readonly R[], slice: IdSlice | EventSlice): { rows: R[]; hasNextPage: boolean; hasPreviousPage: boolean } {
  const s = slice as { first?: number; last?: number; afterId?: unknown; beforeId?: unknown; after?: unknown; before?: unknown };
  const backward = s.last !== undefined;
  const cursor = (backward ? (s.beforeId ?? s.before) : (s.afterId ?? s.after)) ?? null;
  return sliced(own, { size: s.last ?? s.first ?? 0, backward, cursor });
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
