import { checkedName, createTableSql, type IcebergTable } from '../../src/backends/trino/iceberg-ddl.ts';

/**
 * What the medallion's SQL says differently on its two engines, and nothing else: every other
 * statement is written once, in the SQL DuckDB and Trino share (INSERT … SELECT, MERGE INTO,
 * window functions, CTEs, `CAST(x AS VARCHAR)`, `INTERVAL '5' MINUTE`). The README's medallion
 * section lists the differences.
 */
export interface MedallionDialect {
  readonly name: 'duckdb' | 'trino';
  /** The timestamp type of the lakehouse's columns (a bare `TIMESTAMP` is `timestamp(3)` on Trino). */
  readonly timestamp: string;
  /** SQL text: the text of the scalar field `field` of the JSON document `document` (NULL when absent). */
  jsonText(document: string, field: string): string;
  /** SQL text: the JSON text of the field `field` when it is an object or an array, else NULL. */
  jsonContainer(document: string, field: string): string;
  /** SQL text: the field `field` of `document` as an array of text when it is a JSON array, else NULL. */
  jsonTextArray(document: string, field: string): string;
  /** SQL text: TRUE when `document` parses as JSON, else FALSE (never NULL). */
  isJson(document: string): string;
  /** SQL text: TRUE when `document` is a JSON object, else FALSE (never NULL). */
  isJsonObject(document: string): string;
  /** SQL text: the ISO 8601 instant `text` (`…T…Z`) as a timestamp without zone (UTC), NULL when it does not parse. */
  parseTimestamp(text: string): string;
  /** The statement creating `table` (if missing) with its columns and, on Iceberg, its partitioning. */
  createTable(table: IcebergTable): string;
  /** Maintenance of a table the medallion writes: compaction, snapshot expiry, orphan files. */
  housekeeping(table: string, settings: HousekeepingSettings): string[];
  /** A query answering the table's newest snapshot (`snapshot_id`, `committed_at`), where the engine keeps snapshots. */
  latestSnapshot(table: string): string | undefined;
}

/** Thresholds of Iceberg housekeeping, as Trino literals (validated by src/config.ts). */
export interface HousekeepingSettings {
  /** Files under this size are merged (`optimize`), e.g. `128MB`. */
  fileSizeThreshold: string;
  /** Snapshots older than this are expired, e.g. `7d`. */
  snapshotRetention: string;
  /** Files no snapshot references, older than this, are deleted, e.g. `7d`. */
  orphanFileRetention: string;
}

const SIZE_OR_DURATION = /^\d+(?:\.\d+)?(?:ms|s|m|h|d|B|kB|MB|GB|TB)$/;

/** A size or duration as a string literal; anything else is refused before it becomes SQL. */
function setting(value: string): string {
  if (!SIZE_OR_DURATION.test(value)) throw new RangeError(`not a Trino duration or data size: ${JSON.stringify(value)}`);
  return `'${value}'`;
}

const FIELD = /^[A-Za-z][A-Za-z0-9_]*$/;

function path(field: string): string {
  if (!FIELD.test(field)) throw new RangeError(`not a JSON field name the medallion reads: ${JSON.stringify(field)}`);
  return `'$.${field}'`;
}

/** DuckDB's spelling of the lakehouse types (src/backends/trino/iceberg-ddl.ts speaks Trino's). */
export const DUCKDB_TYPES: Record<IcebergTable['columns'][number]['type'], string> = {
  VARCHAR: 'VARCHAR',
  DOUBLE: 'DOUBLE',
  BIGINT: 'BIGINT',
  INTEGER: 'INTEGER',
  BOOLEAN: 'BOOLEAN',
  DATE: 'DATE',
  'TIMESTAMP(6)': 'TIMESTAMP',
  'ARRAY(VARCHAR)': 'VARCHAR[]',
};

/** The embedded lakehouse. */
export const DUCKDB_DIALECT: MedallionDialect = {
  name: 'duckdb',
  timestamp: 'TIMESTAMP',
  jsonText: (document, field) => `json_extract_string(${document}, ${path(field)})`,
  jsonContainer: (document, field) =>
    `CASE WHEN json_type(${document}, ${path(field)}) IN ('OBJECT', 'ARRAY') THEN CAST(json_extract(${document}, ${path(field)}) AS VARCHAR) END`,
  jsonTextArray: (document, field) => `TRY_CAST(json_extract(${document}, ${path(field)}) AS VARCHAR[])`,
  isJson: (document) => `coalesce(json_valid(${document}), false)`,
  // A CASE, not AND: DuckDB may evaluate both sides of an AND, and json_type fails on text that is not JSON.
  isJsonObject: (document) => `CASE WHEN json_valid(${document}) THEN json_type(${document}) = 'OBJECT' ELSE false END`,
  parseTimestamp: (text) => `TRY_CAST(replace(replace(${text}, 'T', ' '), 'Z', '') AS TIMESTAMP)`,
  createTable: (table) =>
    `CREATE TABLE IF NOT EXISTS ${checkedName(table.name)} (\n${table.columns.map((c) => `  ${c.name} ${DUCKDB_TYPES[c.type]}${c.nullable ? '' : ' NOT NULL'}`).join(',\n')}\n)`,
  // DuckDB checkpoints its WAL by itself; nothing to compact or expire.
  housekeeping: () => [],
  latestSnapshot: () => undefined,
};

/**
 * Trino with the Iceberg connector. Housekeeping follows the connector's table procedures
 * (https://trino.io/docs/current/connector/iceberg.html#alter-table-execute): small files merged,
 * snapshots and orphan files older than their retention removed (settings from src/config.ts;
 * the connector refuses retentions under its minimum, 7 days by default).
 */
export const TRINO_DIALECT: MedallionDialect = {
  name: 'trino',
  timestamp: 'TIMESTAMP(6)',
  jsonText: (document, field) => `json_extract_scalar(${document}, ${path(field)})`,
  jsonContainer: (document, field) =>
    `CASE WHEN substr(json_format(json_extract(${document}, ${path(field)})), 1, 1) IN ('{', '[') THEN json_format(json_extract(${document}, ${path(field)})) END`,
  // A cast from JSON, https://trino.io/docs/current/functions/json.html#cast-from-json (TRY_CAST: NULL when not an array).
  jsonTextArray: (document, field) => `TRY_CAST(json_extract(${document}, ${path(field)}) AS ARRAY(VARCHAR))`,
  isJson: (document) => `(try(json_parse(${document})) IS NOT NULL)`,
  // Trino has no json_type: a document that parses and opens with a brace is an object.
  isJsonObject: (document) => `coalesce(try(json_parse(${document})) IS NOT NULL AND substr(trim(${document}), 1, 1) = '{', false)`,
  parseTimestamp: (text) => `TRY_CAST(replace(replace(${text}, 'T', ' '), 'Z', '') AS TIMESTAMP(6))`,
  createTable: (table) => createTableSql(table),
  housekeeping: (table, settings) => [
    `ALTER TABLE ${checkedName(table)} EXECUTE optimize(file_size_threshold => ${setting(settings.fileSizeThreshold)})`,
    `ALTER TABLE ${checkedName(table)} EXECUTE expire_snapshots(retention_threshold => ${setting(settings.snapshotRetention)})`,
    `ALTER TABLE ${checkedName(table)} EXECUTE remove_orphan_files(retention_threshold => ${setting(settings.orphanFileRetention)})`,
  ],
  latestSnapshot: (table) => {
    const [schema, name] = checkedName(table).split('.') as [string, string];
    return `SELECT snapshot_id, committed_at FROM ${schema}."${name}$snapshots" ORDER BY committed_at DESC LIMIT 1`;
  },
};

/** The dialect of a lakehouse writer. */
export function dialectOf(name: 'duckdb' | 'trino'): MedallionDialect {
  return name === 'trino' ? TRINO_DIALECT : DUCKDB_DIALECT;
}
