import { trinoLiteral } from './literal.ts';
import { DIMENSION_TABLES } from '../analytics/dimensions.ts';

/**
 * The lakehouse's tables as Iceberg tables behind Trino: the same layout as the embedded
 * lakehouse (src/backends/duckdb/ddl.ts and the per-source bronze tables of
 * ingest/medallion/bronze.ts), typed in Trino's terms and partitioned for Iceberg. A test reads a
 * fresh embedded database's `information_schema` and asserts that every table there is declared
 * here with the same columns in the same order, types and nullability, so the two cannot drift.
 *
 * Trino's Iceberg connector takes `NOT NULL` but no PRIMARY KEY, UNIQUE or DEFAULT: keys the
 * embedded tables declare become NOT NULL columns (their uniqueness is the writers' business, as
 * in any Iceberg table), and a default (`silver.quarantine.dead_lettered`) is written explicitly.
 * Timestamps are `TIMESTAMP(6)` (Iceberg stores microseconds; Trino's bare `TIMESTAMP` is
 * `timestamp(3)`), in UTC without a zone like the embedded ones.
 */

/** The column types the lakehouse uses, as Trino spells them. */
export type IcebergType = 'VARCHAR' | 'DOUBLE' | 'BIGINT' | 'INTEGER' | 'BOOLEAN' | 'DATE' | 'TIMESTAMP(6)' | 'ARRAY(VARCHAR)';

export interface IcebergColumn {
  readonly name: string;
  readonly type: IcebergType;
  readonly nullable: boolean;
}

export interface IcebergTable {
  /** `schema.table`; created in the Trino session's catalog. */
  readonly name: string;
  readonly columns: readonly IcebergColumn[];
  /** Iceberg partition fields, e.g. `month(occurred_at)`, `event_date`; empty: unpartitioned. */
  readonly partitioning: readonly string[];
}

export interface IcebergView {
  readonly name: string;
  /** The view's query (portable SQL: it runs unchanged on DuckDB and on Trino). */
  readonly query: string;
}

/** The lakehouse's schemas, in the Trino session's catalog. */
export const LAKEHOUSE_SCHEMAS = ['bronze', 'silver', 'gold', 'platform', 'analytics'] as const;

const TS = 'TIMESTAMP(6)';
const required = (name: string, type: IcebergType): IcebergColumn => ({ name, type, nullable: false });
const optional = (name: string, type: IcebergType): IcebergColumn => ({ name, type, nullable: true });
const table = (name: string, partitioning: readonly string[], columns: readonly IcebergColumn[]): IcebergTable => ({ name, columns, partitioning });

/** The fixed tables (every lakehouse has them), in the embedded column order (ALTER-added columns last). */
export const LAKEHOUSE_TABLES: readonly IcebergTable[] = [
  table('bronze.event_log', ['day(published_at)'], [
    required('log_offset', 'BIGINT'),
    required('topic', 'VARCHAR'),
    required('log_partition', 'INTEGER'),
    required('event_key', 'VARCHAR'),
    required('event_id', 'VARCHAR'),
    optional('idempotency_key', 'VARCHAR'),
    required('value', 'VARCHAR'),
    required('published_at', TS),
  ]),
  table('silver.destinations', [], [
    required('destination_id', 'VARCHAR'),
    required('name', 'VARCHAR'),
    required('country_code', 'VARCHAR'),
    required('country', 'VARCHAR'),
    required('city', 'VARCHAR'),
    optional('latitude', 'DOUBLE'),
    optional('longitude', 'DOUBLE'),
    optional('rating', 'DOUBLE'),
  ]),
  table('silver.tours', [], [
    required('tour_id', 'VARCHAR'),
    required('name', 'VARCHAR'),
    optional('destination_id', 'VARCHAR'),
    required('region', 'VARCHAR'),
    required('price', 'DOUBLE'),
    required('currency', 'VARCHAR'),
    optional('rating', 'DOUBLE'),
    required('duration_days', 'INTEGER'),
    required('category', 'VARCHAR'),
    required('tags', 'ARRAY(VARCHAR)'),
    optional('description', 'VARCHAR'),
    required('updated_at', TS),
  ]),
  table('silver.users', [], [required('user_id', 'VARCHAR'), required('home_region', 'VARCHAR'), required('signed_up_at', TS)]),
  table('silver.events', ['month(occurred_at)'], [
    required('event_id', 'VARCHAR'),
    required('user_id', 'VARCHAR'),
    required('event_type', 'VARCHAR'),
    optional('tour_id', 'VARCHAR'),
    optional('region', 'VARCHAR'),
    optional('amount', 'DOUBLE'),
    optional('currency', 'VARCHAR'),
    required('occurred_at', TS),
    required('source', 'VARCHAR'),
    optional('payload', 'VARCHAR'),
    optional('topic', 'VARCHAR'),
    optional('log_offset', 'BIGINT'),
    optional('destination_id', 'VARCHAR'),
    optional('tour_category', 'VARCHAR'),
    optional('promoted_seq', 'BIGINT'),
    optional('log_cursor', 'VARCHAR'),
  ]),
  table('silver.quarantine', ['month(quarantined_at)'], [
    optional('event_id', 'VARCHAR'),
    optional('source_id', 'VARCHAR'),
    required('bronze_table', 'VARCHAR'),
    required('target_table', 'VARCHAR'),
    required('rule', 'VARCHAR'),
    required('reason', 'VARCHAR'),
    required('record', 'VARCHAR'),
    required('run_id', 'VARCHAR'),
    required('quarantined_at', TS),
    required('dead_lettered', 'BOOLEAN'),
    optional('log_cursor', 'VARCHAR'),
  ]),
  table('gold.user_360', [], [
    required('user_id', 'VARCHAR'),
    optional('home_region', 'VARCHAR'),
    required('total_events', 'BIGINT'),
    required('total_bookings', 'BIGINT'),
    required('total_spend', 'DOUBLE'),
    required('average_booking_value', 'DOUBLE'),
    optional('favourite_region', 'VARCHAR'),
    optional('favourite_category', 'VARCHAR'),
    optional('last_booking_at', TS),
    optional('last_event_at', TS),
    required('updated_at', TS),
  ]),
  table('gold.booking_metrics', ['month(metric_date)'], [
    required('metric_date', 'DATE'),
    required('region', 'VARCHAR'),
    required('bookings', 'BIGINT'),
    required('cancellations', 'BIGINT'),
    required('revenue', 'DOUBLE'),
    required('average_amount', 'DOUBLE'),
    required('unique_customers', 'BIGINT'),
    required('updated_at', TS),
  ]),
  table('gold.recommendation_features', [], [
    required('user_id', 'VARCHAR'),
    required('feature', 'VARCHAR'),
    required('feature_value', 'VARCHAR'),
    required('weight', 'DOUBLE'),
    required('updated_at', TS),
  ]),
  table('gold.tourism_analytics', [], [
    required('tour_id', 'VARCHAR'),
    required('region', 'VARCHAR'),
    optional('destination_id', 'VARCHAR'),
    required('category', 'VARCHAR'),
    required('views', 'BIGINT'),
    required('clicks', 'BIGINT'),
    required('bookings', 'BIGINT'),
    required('cancellations', 'BIGINT'),
    required('revenue', 'DOUBLE'),
    required('conversion_rate', 'DOUBLE'),
    optional('rating', 'DOUBLE'),
    required('updated_at', TS),
  ]),
  table('platform.pipeline_runs', ['month(started_at)'], [
    required('run_id', 'VARCHAR'),
    required('layer', 'VARCHAR'),
    required('status', 'VARCHAR'),
    required('started_at', TS),
    optional('finished_at', TS),
    required('records_in', 'BIGINT'),
    required('records_out', 'BIGINT'),
    required('records_rejected', 'BIGINT'),
    optional('error', 'VARCHAR'),
    optional('batch_id', 'VARCHAR'),
    optional('run_trigger', 'VARCHAR'),
  ]),
  table('platform.watermarks', [], [required('pipeline', 'VARCHAR'), required('log_offset', 'BIGINT'), optional('position', 'VARCHAR')]),
  table('platform.data_quality', ['month(measured_at)'], [
    required('table_name', 'VARCHAR'),
    required('measured_at', TS),
    required('row_count', 'BIGINT'),
    required('completeness', 'DOUBLE'),
    required('uniqueness', 'DOUBLE'),
    required('validity', 'DOUBLE'),
    required('overall_score', 'DOUBLE'),
    optional('source_id', 'VARCHAR'),
    optional('run_id', 'VARCHAR'),
  ]),
  table('platform.demo_data', [], [
    required('seed', 'INTEGER'),
    required('scale', 'DOUBLE'),
    required('anchor', TS),
    required('events', 'BIGINT'),
    required('built_at', TS),
  ]),
  table('platform.source_executions', ['month(started_at)'], [
    required('run_id', 'VARCHAR'),
    required('batch_id', 'VARCHAR'),
    required('source_id', 'VARCHAR'),
    required('layer', 'VARCHAR'),
    required('target_table', 'VARCHAR'),
    required('records_in', 'BIGINT'),
    required('records_out', 'BIGINT'),
    required('records_rejected', 'BIGINT'),
    required('started_at', TS),
    required('finished_at', TS),
  ]),
  table('platform.data_lineage', [], [
    required('from_node', 'VARCHAR'),
    required('to_node', 'VARCHAR'),
    required('kind', 'VARCHAR'),
    optional('source_id', 'VARCHAR'),
    required('records', 'BIGINT'),
    optional('last_run_id', 'VARCHAR'),
    optional('last_run_at', TS),
  ]),
];

/**
 * One source's bronze table (`target_table` in ingest/sources.yaml): the record as published, its
 * bus position and times; partitioned by its publish date (`event_date`, the day of `published_at`).
 */
export function bronzeSourceTable(name: string): IcebergTable {
  return table(name, ['event_date'], [
    required('landed_seq', 'BIGINT'),
    optional('event_id', 'VARCHAR'),
    required('topic', 'VARCHAR'),
    required('log_partition', 'INTEGER'),
    required('log_offset', 'VARCHAR'),
    required('log_cursor', 'VARCHAR'),
    required('event_date', 'DATE'),
    required('published_at', TS),
    required('landed_at', TS),
    required('run_id', 'VARCHAR'),
    required('record', 'VARCHAR'),
  ]);
}

/** Views of the lakehouse: analytics reads its own schema, views over the silver events and dimensions. */
export const LAKEHOUSE_VIEWS: readonly IcebergView[] = [
  {
    name: 'analytics.events',
    query: 'SELECT event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source FROM silver.events',
  },
  ...DIMENSION_TABLES.map((table) => ({ name: table.name, query: table.query })),
];

/** The fixed tables plus one bronze table per source (the registry's `bronzeTable` of each enabled source). */
export function lakehouseTables(bronzeTables: readonly string[]): IcebergTable[] {
  const fixed = new Set(LAKEHOUSE_TABLES.map((t) => t.name));
  const perSource = [...new Set(bronzeTables)].filter((name) => !fixed.has(name)).sort();
  return [...LAKEHOUSE_TABLES, ...perSource.map(bronzeSourceTable)];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** `schema.table` with plain lower-case identifiers, checked before it becomes SQL text. */
export function checkedName(name: string): string {
  const parts = name.split('.');
  if (parts.length !== 2 || !parts.every((part) => IDENTIFIER.test(part))) throw new RangeError(`not a lakehouse table name: ${JSON.stringify(name)}`);
  return name;
}

/** `CREATE SCHEMA IF NOT EXISTS` (in the session's catalog). */
export function createSchemaSql(schema: string): string {
  if (!IDENTIFIER.test(schema)) throw new RangeError(`not a schema name: ${JSON.stringify(schema)}`);
  return `CREATE SCHEMA IF NOT EXISTS ${schema}`;
}

/** `CREATE TABLE IF NOT EXISTS ... WITH (format = 'PARQUET', partitioning = ARRAY[...])`. */
export function createTableSql(icebergTable: IcebergTable): string {
  const columns = icebergTable.columns.map((column) => {
    if (!IDENTIFIER.test(column.name)) throw new RangeError(`${icebergTable.name}: not a column name: ${JSON.stringify(column.name)}`);
    return `  ${column.name} ${column.type}${column.nullable ? '' : ' NOT NULL'}`;
  });
  const properties = [`format = ${trinoLiteral('PARQUET')}`];
  if (icebergTable.partitioning.length > 0) properties.push(`partitioning = ARRAY[${icebergTable.partitioning.map((field) => trinoLiteral(field)).join(', ')}]`);
  return `CREATE TABLE IF NOT EXISTS ${checkedName(icebergTable.name)} (\n${columns.join(',\n')}\n)\nWITH (${properties.join(', ')})`;
}

/** `CREATE OR REPLACE VIEW`: a re-run brings the view's query up to date. */
export function createViewSql(view: IcebergView): string {
  return `CREATE OR REPLACE VIEW ${checkedName(view.name)} AS\n${view.query}`;
}

/** Every statement that creates the lakehouse in Trino, in order: schemas, tables, views. Idempotent. */
export function lakehouseDdl(tables: readonly IcebergTable[], views: readonly IcebergView[] = LAKEHOUSE_VIEWS): string[] {
  return [...LAKEHOUSE_SCHEMAS.map(createSchemaSql), ...tables.map(createTableSql), ...views.map(createViewSql)];
}
