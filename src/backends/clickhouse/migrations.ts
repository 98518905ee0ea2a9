import { DIMENSION_TABLES, type DimensionTable } from '../analytics/dimensions.ts';
import type { ClickHouseEngine, ClickHouseFeatures } from './engine.ts';

/**
 * The analytics schema on ClickHouse: the same `analytics.events` columns the embedded view has
 * (src/backends/duckdb/ddl.ts), so `src/backends/analytics/queries.ts` runs unchanged on both.
 */

/** Column name → ClickHouse type of `analytics.events`. Nullable exactly where the lakehouse allows NULL. */
export function eventColumns(features: Pick<ClickHouseFeatures, 'dateTime64'>): ReadonlyArray<readonly [string, string]> {
  return [
    ['event_id', 'String'],
    ['user_id', 'String'],
    ['event_type', 'String'],
    ['tour_id', 'Nullable(String)'],
    ['region', 'Nullable(String)'],
    ['amount', 'Nullable(Float64)'],
    ['currency', 'Nullable(String)'],
    // UTC in the type, not the server's zone: text in and out, and toStartOfDay/toMonday/
    // toStartOfMonth buckets, are then UTC whatever zone the server runs in. DateTime64 keeps
    // the lakehouse's milliseconds where the server has it (20.1+); DateTime holds whole seconds.
    ['occurred_at', features.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')"],
    ['source', 'String'],
  ];
}

/**
 * `CREATE TABLE IF NOT EXISTS` of an events table named `database.table`.
 *
 * Monthly partitions: every analytics read is bounded in time or aggregates over months, and
 * partition pruning serves any time range whatever the sorting key. Sorting key
 * `(event_type, user_id, occurred_at)` rather than `(event_type, occurred_at, event_id)`: the
 * time part is already served by the partitions, while `userProfiles` (user 360, per request)
 * looks users up by id and would otherwise read every granule; `event_type` first keeps the
 * booking-only reads (revenueSeries) to their own ranges. `tour_id` cannot join the key: it is
 * Nullable, and sorting keys before 20.x refuse Nullable columns. `event_id` adds nothing to a
 * MergeTree key (keys are not unique); loads are deduplicated by replacing the whole table
 * (load.ts).
 */
export function eventsTableDdl(database: string, table: string, features: Pick<ClickHouseFeatures, 'dateTime64'>): string {
  const columns = eventColumns(features).map(([name, type]) => `  ${name} ${type}`).join(',\n');
  return `CREATE TABLE IF NOT EXISTS ${identifier(database)}.${identifier(table)} (\n${columns}\n)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (event_type, user_id, occurred_at)`;
}

/** `CREATE TABLE IF NOT EXISTS` of a dimension table (its copy from the lakehouse) named `database.table`. */
export function dimensionTableDdl(database: string, table: string, dimension: DimensionTable): string {
  const columns = dimension.columns.map(([name, type]) => `  ${identifier(name)} ${type}`).join(',\n');
  return `CREATE TABLE IF NOT EXISTS ${identifier(database)}.${identifier(table)} (\n${columns}\n)\nENGINE = MergeTree\nORDER BY ${identifier(dimension.key)}`;
}

/** The table part of a dimension's `analytics.<table>` name. */
export function dimensionTableName(dimension: DimensionTable): string {
  return identifier(dimension.name.split('.')[1] ?? '');
}

/** A database or table name as a ClickHouse identifier; only plain names, so nothing else reaches DDL. */
export function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new RangeError(`not a plain ClickHouse identifier: ${JSON.stringify(name)}`);
  return name;
}

/** What `migrateAnalytics` found and did. */
export interface MigrationReport {
  database: string;
  /** Statements run (all idempotent). */
  statements: string[];
  /** Server version, e.g. `18.16.1`. */
  serverVersion: string;
}

/**
 * Creates the analytics database and `events` table if missing (idempotent: safe on every start
 * and every deploy), then checks an existing table has the expected columns and types, failing
 * with a message naming each difference rather than serving wrong answers later.
 */
export async function migrateAnalytics(engine: ClickHouseEngine): Promise<MigrationReport> {
  const features = await engine.features();
  const statements = [
    `CREATE DATABASE IF NOT EXISTS ${identifier(engine.database)}`,
    eventsTableDdl(engine.database, 'events', features),
    ...DIMENSION_TABLES.map((dimension) => dimensionTableDdl(engine.database, dimensionTableName(dimension), dimension)),
  ];
  for (const statement of statements) await engine.command(statement);
  await checkEventsTable(engine, engine.database, 'events', features);
  return { database: engine.database, statements, serverVersion: features.version.join('.') };
}

/** Throws unless `database.table` has exactly the columns of `eventColumns` (same order, same types). */
export async function checkEventsTable(engine: ClickHouseEngine, database: string, table: string, features: ClickHouseFeatures): Promise<void> {
  const actual = await engine.query<{ name: string; type: string }>(
    'SELECT name, type FROM system.columns WHERE database = ? AND table = ?',
    [database, table],
  );
  const found = new Map(actual.map((c) => [c.name, c.type]));
  const problems: string[] = [];
  for (const [name, type] of eventColumns(features)) {
    const have = found.get(name);
    if (have === undefined) problems.push(`column ${name} is missing (expected ${type})`);
    else if (have.replaceAll(' ', '') !== type.replaceAll(' ', '')) problems.push(`column ${name} is ${have}, expected ${type}`);
  }
  if (problems.length > 0) {
    throw new Error(`${database}.${table} does not match the analytics schema: ${problems.join('; ')}. Migrate it (or drop it to recreate).`);
  }
}
