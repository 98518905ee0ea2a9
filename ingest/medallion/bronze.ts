import { DuckDBDateValue, DuckDBTimestampValue, type DuckDBConnection } from '@duckdb/node-api';
import type { BusPort, LogEntry } from '../../src/backends/bus/port.ts';
import type { Source, SourceRegistry } from '../registry.ts';
import { rowsOf, run, scalar } from './sql.ts';

/**
 * Bronze: every record a source published, as published, one table per source
 * (`target_table` in the registry). The layout is the same for every source, so a new source
 * needs no code: the record stays JSON text and its bus position, publish time and date
 * (the partition column: `day(published_at)` on Iceberg) sit beside it.
 */
export function bronzeTableDdl(table: string): string {
  assertTableName(table);
  return `CREATE TABLE IF NOT EXISTS ${table} (
  landed_seq BIGINT NOT NULL,
  event_id VARCHAR,
  topic VARCHAR NOT NULL,
  log_partition INTEGER NOT NULL,
  log_offset VARCHAR NOT NULL,
  log_cursor VARCHAR NOT NULL,
  event_date DATE NOT NULL,
  published_at TIMESTAMP NOT NULL,
  landed_at TIMESTAMP NOT NULL,
  run_id VARCHAR NOT NULL,
  record VARCHAR NOT NULL
)`;
}

/** Table names come from the registry (checked by its schema); checked again before they become SQL. */
export function assertTableName(table: string): void {
  if (!/^[a-z_]+\.[a-z][a-z0-9_]*$/.test(table)) throw new Error(`"${table}" is not a table name the medallion writes`);
}

/** What one landing read: new bus records and the cursor after the last one. */
export interface BusBatch {
  entries: LogEntry[];
  /** Position after the batch (unchanged when it is empty). */
  cursor: string;
}

/** Reads up to `max` records after `cursor` from the bus, in pages. */
export async function readBus(bus: BusPort, cursor: string, max: number, pageSize = 5_000): Promise<BusBatch> {
  const entries: LogEntry[] = [];
  let position = cursor;
  while (entries.length < max) {
    const page = await bus.readAfter(position, Math.min(pageSize, max - entries.length));
    if (page.length === 0) break;
    entries.push(...page);
    position = page[page.length - 1]?.cursor ?? position;
    if (page.length < pageSize) break;
  }
  return { entries, cursor: position };
}

/** Per source: how many records landed in its bronze table. */
export type Landed = Map<Source, number>;

/**
 * Lands bus records in their sources' bronze tables (in the caller's transaction). A record is
 * routed by its `sourceId` (set by the gateway's publisher), else by its topic when one source
 * owns that topic; records of the dead-letter topic, and records no source claims, are skipped.
 */
export async function landRecords(
  connection: DuckDBConnection,
  registry: SourceRegistry,
  entries: readonly LogEntry[],
  runId: string,
  landedAt: Date,
): Promise<{ landed: Landed; unclaimed: number }> {
  const byTopic = new Map<string, Source[]>();
  for (const source of registry.sources) {
    if (!source.enabled) continue;
    const owners = byTopic.get(source.topic);
    if (owners) owners.push(source);
    else byTopic.set(source.topic, [source]);
  }
  const groups = new Map<Source, LogEntry[]>();
  let unclaimed = 0;
  for (const entry of entries) {
    if (entry.topic === registry.deadLetterTopic) continue;
    const source = sourceOf(entry, registry, byTopic);
    if (!source) {
      unclaimed += 1;
      continue;
    }
    const group = groups.get(source);
    if (group) group.push(entry);
    else groups.set(source, [entry]);
  }
  const landed: Landed = new Map();
  const landedMicros = BigInt(landedAt.getTime()) * 1000n;
  for (const [source, group] of groups) {
    assertTableName(source.bronzeTable);
    const [schema, table] = source.bronzeTable.split('.') as [string, string];
    let seq = BigInt(await scalar(connection, `SELECT coalesce(max(landed_seq), 0) FROM ${source.bronzeTable}`));
    const appender = await connection.createAppender(table, schema);
    try {
      for (const entry of group) {
        seq += 1n;
        const publishedMicros = BigInt(entry.publishedAt.getTime()) * 1000n;
        appender.appendBigInt(seq);
        appender.appendVarchar(entry.eventId);
        appender.appendVarchar(entry.topic);
        appender.appendInteger(entry.partition);
        appender.appendVarchar(entry.offset);
        appender.appendVarchar(entry.cursor);
        appender.appendDate(new DuckDBDateValue(Math.floor(entry.publishedAt.getTime() / 86_400_000)));
        appender.appendTimestamp(new DuckDBTimestampValue(publishedMicros));
        appender.appendTimestamp(new DuckDBTimestampValue(landedMicros));
        appender.appendVarchar(runId);
        appender.appendVarchar(entry.value);
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
    landed.set(source, group.length);
  }
  return { landed, unclaimed };
}

function sourceOf(entry: LogEntry, registry: SourceRegistry, byTopic: Map<string, Source[]>): Source | undefined {
  const claimed = /"sourceId"\s*:\s*"([a-z][a-z0-9_]*)"/.exec(entry.value)?.[1];
  if (claimed) {
    const source = registry.byId(claimed);
    if (source?.enabled && source.topic === entry.topic) return source;
  }
  const owners = byTopic.get(entry.topic) ?? [];
  return owners.length === 1 ? owners[0] : undefined;
}

/** Creates every enabled source's bronze table. */
export async function ensureBronzeTables(connection: DuckDBConnection, registry: SourceRegistry): Promise<void> {
  for (const source of registry.sources) {
    if (source.enabled) await run(connection, bronzeTableDdl(source.bronzeTable));
  }
}

/** Batch quality of what just landed in one bronze table: parseable records, event ids present and unique. */
export async function bronzeBatchQuality(connection: DuckDBConnection, table: string, runId: string) {
  assertTableName(table);
  const [row] = await rowsOf(
    connection,
    `SELECT count(*) AS n,
       avg(CASE WHEN event_id IS NOT NULL AND event_id <> '' THEN 1.0 ELSE 0.0 END) AS completeness,
       count(DISTINCT event_id) AS distinct_ids,
       avg(CASE WHEN json_valid(record) THEN 1.0 ELSE 0.0 END) AS validity
     FROM ${table} WHERE run_id = ?`,
    [runId],
  );
  return row;
}
