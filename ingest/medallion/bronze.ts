import type { BusPort, LogEntry } from '../../src/backends/bus/port.ts';
import { scalarOf, type BulkValue, type SqlWriter } from '../../src/backends/sql/writer.ts';
import { bronzeSourceTable } from '../../src/backends/trino/iceberg-ddl.ts';
import type { Source, SourceRegistry } from '../registry.ts';
import type { MedallionDialect } from './dialect.ts';

/**
 * Bronze: every record a source published, as published, one table per source
 * (`target_table` in the registry). The layout is the same for every source, so a new source
 * needs no code: the record stays JSON text and its bus position, publish time and date
 * (the partition column) sit beside it. The layout and its partitioning are declared once, in
 * `bronzeSourceTable` (src/backends/trino/iceberg-ddl.ts), which the bootstrap creates on Iceberg
 * and the medallion creates on either engine.
 */
export function bronzeTableDdl(table: string, dialect: MedallionDialect): string {
  assertTableName(table);
  return dialect.createTable(bronzeSourceTable(table));
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
 * Lands bus records in their sources' bronze tables (one bulk insert per source). A record is
 * routed by its `sourceId` (set by the gateway's publisher), else by its topic when one source
 * owns that topic; records of the dead-letter topic, and records no source claims, are skipped.
 * Bronze is at-least-once: a pass replayed after a crash before its cursor was stored lands its
 * records again, and silver keeps each event once.
 */
export async function landRecords(
  writer: SqlWriter,
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

  for (const [source, group] of groups) {
    assertTableName(source.bronzeTable);
    let seq = BigInt(await scalarOf(writer, `SELECT coalesce(max(landed_seq), 0) FROM ${source.bronzeTable}`));
    const rows: BulkValue[][] = group.map((entry) => {
      seq += 1n;
      // In the column order of bronzeSourceTable; the date is the UTC day of the publish time.
      return [seq, entry.eventId, entry.topic, entry.partition, entry.offset, entry.cursor, entry.publishedAt.toISOString().slice(0, 10), entry.publishedAt, landedAt, runId, entry.value];
    });
    await writer.bulkInsert(bronzeSourceTable(source.bronzeTable), rows);
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
export async function ensureBronzeTables(writer: SqlWriter, dialect: MedallionDialect, registry: SourceRegistry): Promise<void> {
  for (const source of registry.sources) {
    if (source.enabled) await writer.execute(bronzeTableDdl(source.bronzeTable, dialect));
  }
}

/** Batch quality of what just landed in one bronze table: parseable records, event ids present and unique. */
export async function bronzeBatchQuality(writer: SqlWriter, dialect: MedallionDialect, table: string, runId: string) {
  assertTableName(table);
  const [row] = await writer.rows(
    `SELECT count(*) AS n,
       avg(CASE WHEN event_id IS NOT NULL AND event_id <> '' THEN 1.0 ELSE 0.0 END) AS completeness,
       count(DISTINCT event_id) AS distinct_ids,
       avg(CASE WHEN ${dialect.isJson('record')} THEN 1.0 ELSE 0.0 END) AS validity
     FROM ${table} WHERE run_id = ?`,
    [runId],
  );
  return row;
}
