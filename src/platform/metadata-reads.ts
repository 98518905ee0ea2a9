import type { SourceRegistry } from '../../ingest/registry.ts';
import { Where } from '../backends/lakehouse/queries.ts';
import { limit, placeholders, type QueryOptions, type SqlEngine } from '../backends/sql/port.ts';
import { GOLD_TABLES, type PipelineRunRecord } from './metadata.ts';

/**
 * Platform metadata reads (pipeline runs, source executions, data quality, lineage, quarantine,
 * tables): what `platform { ... }` answers, from the tables src/platform/metadata.ts writes.
 */

export async function pipelineRuns(
  engine: SqlEngine,
  args: { first: number; layer?: string | null; status?: string | null },
  options?: QueryOptions,
): Promise<PipelineRunRecord[]> {
  const where = new Where();
  if (args.layer) where.add('layer = ?', args.layer);
  if (args.status) where.add('status = ?', args.status);
  const rows = await engine.query(
    `SELECT ${RUN_COLUMNS} FROM platform.pipeline_runs WHERE ${where.sql()}
     ORDER BY started_at DESC, run_id ${limit(args.first)}`,
    where.params,
    options,
  );
  return rows.map(runFromRow);
}

/** Pipeline runs by id, in one statement. */
export async function pipelineRunsByIds(engine: SqlEngine, ids: readonly string[], options?: QueryOptions): Promise<PipelineRunRecord[]> {
  const rows = await engine.query(`SELECT ${RUN_COLUMNS} FROM platform.pipeline_runs WHERE run_id IN (${placeholders(ids.length)})`, ids, options);
  return rows.map(runFromRow);
}

const RUN_COLUMNS = 'run_id, batch_id, layer, status, run_trigger, started_at, finished_at, records_in, records_out, records_rejected, error';

function runFromRow(row: Record<string, unknown>): PipelineRunRecord {
  return {
    id: String(row['run_id']),
    batchId: String(row['batch_id'] ?? row['run_id']),
    layer: String(row['layer']),
    status: String(row['status']) as PipelineRunRecord['status'],
    trigger: String(row['run_trigger'] ?? 'EVENTS') as PipelineRunRecord['trigger'],
    startedAt: row['started_at'] as Date,
    finishedAt: (row['finished_at'] as Date | null) ?? null,
    recordsIn: Number(row['records_in']),
    recordsOut: Number(row['records_out']),
    recordsRejected: Number(row['records_rejected']),
    error: row['error'] == null ? null : String(row['error']),
  };
}

/** A source's part in a layer run, as `platform.sourceExecutions` shows it. */
export interface SourceExecutionRow {
  runId: string;
  sourceId: string;
  layer: string;
  targetTable: string;
  recordsIn: number;
  recordsOut: number;
  recordsRejected: number;
  startedAt: Date;
  finishedAt: Date;
}

const EXECUTION_COLUMNS = 'run_id, source_id, layer, target_table, records_in, records_out, records_rejected, started_at, finished_at';

/** Per-source execution metrics, newest first; optionally of one source. */
export async function sourceExecutions(
  engine: SqlEngine,
  args: { first: number; sourceId?: string | null },
  options?: QueryOptions,
): Promise<SourceExecutionRow[]> {
  const where = new Where();
  if (args.sourceId) where.add('source_id = ?', args.sourceId);
  const rows = await engine.query(
    `SELECT ${EXECUTION_COLUMNS} FROM platform.source_executions WHERE ${where.sql()}
     ORDER BY started_at DESC, run_id, source_id ${limit(args.first)}`,
    where.params,
    options,
  );
  return rows.map(executionFromRow);
}

/** The source executions of each of `runIds` (every source a run touched: a handful), one statement. */
export async function executionsOfRuns(engine: SqlEngine, runIds: readonly string[], options?: QueryOptions): Promise<SourceExecutionRow[]> {
  const rows = await engine.query(
    `SELECT ${EXECUTION_COLUMNS} FROM platform.source_executions WHERE run_id IN (${placeholders(runIds.length)}) ORDER BY run_id, source_id`,
    runIds,
    options,
  );
  return rows.map(executionFromRow);
}

/** The `first` newest executions of each of `sourceIds`, one statement for any number of sources. */
export async function latestExecutionsOfSources(
  engine: SqlEngine,
  sourceIds: readonly string[],
  first: number,
  options?: QueryOptions,
): Promise<SourceExecutionRow[]> {
  const rows = await engine.query(
    `SELECT ${EXECUTION_COLUMNS} FROM (
       SELECT ${EXECUTION_COLUMNS}, row_number() OVER (PARTITION BY source_id ORDER BY started_at DESC, run_id) AS newest
       FROM platform.source_executions WHERE source_id IN (${placeholders(sourceIds.length)})
     ) ranked WHERE newest <= ${Math.floor(first)}
     ORDER BY source_id, started_at DESC, run_id`,
    sourceIds,
    options,
  );
  return rows.map(executionFromRow);
}

function executionFromRow(row: Record<string, unknown>): SourceExecutionRow {
  return {
    runId: String(row['run_id']),
    sourceId: String(row['source_id']),
    layer: String(row['layer']),
    targetTable: String(row['target_table']),
    recordsIn: Number(row['records_in']),
    recordsOut: Number(row['records_out']),
    recordsRejected: Number(row['records_rejected']),
    startedAt: row['started_at'] as Date,
    finishedAt: row['finished_at'] as Date,
  };
}

/** A recorded quality measure. */
export interface DataQualityRow {
  table: string;
  sourceId: string | null;
  runId: string | null;
  measuredAt: Date;
  rowCount: number;
  completeness: number;
  uniqueness: number;
  validity: number;
  overallScore: number;
}

/**
 * The latest recorded quality of every table (whole table, `sourceId` null) and of every
 * source's rows in a table, as the medallion runs measured them; optionally of one table.
 */
export async function latestQuality(engine: SqlEngine, args: { table?: string | null } = {}, options?: QueryOptions): Promise<DataQualityRow[]> {
  const rows = await engine.query(
    `SELECT table_name, source_id, run_id, measured_at, row_count, completeness, uniqueness, validity, overall_score
     FROM (
       SELECT q.*, row_number() OVER (PARTITION BY table_name, coalesce(source_id, '') ORDER BY measured_at DESC, run_id DESC) AS newest
       FROM platform.data_quality q ${args.table ? 'WHERE table_name = ?' : ''}
     ) latest
     WHERE newest = 1
     ORDER BY table_name, coalesce(source_id, '')`,
    args.table ? [args.table] : [],
    options,
  );
  return rows.map((row) => ({
    table: String(row['table_name']),
    sourceId: row['source_id'] == null ? null : String(row['source_id']),
    runId: row['run_id'] == null ? null : String(row['run_id']),
    measuredAt: row['measured_at'] as Date,
    rowCount: Number(row['row_count']),
    completeness: Number(row['completeness']),
    uniqueness: Number(row['uniqueness']),
    validity: Number(row['validity']),
    overallScore: Number(row['overall_score']),
  }));
}

/** A lineage edge: declared by the registry, and with what the runs moved along it once they have. */
export interface LineageRow {
  from: string;
  to: string;
  kind: string;
  sourceId: string | null;
  records: number;
  lastRunId: string | null;
  lastRunAt: Date | null;
}

/**
 * Lineage: the edges the registry declares (source → topic → bronze → silver, silver → gold),
 * merged with the edges runs recorded and the records that moved along them.
 */
export async function lineageOf(engine: SqlEngine, registry: SourceRegistry, options?: QueryOptions): Promise<LineageRow[]> {
  const edges = new Map<string, LineageRow>();
  const declare = (from: string, to: string, kind: string, sourceId: string | null) =>
    edges.set(`${from}>${to}`, { from, to, kind, sourceId, records: 0, lastRunId: null, lastRunAt: null });
  for (const source of registry.sources) {
    if (!source.enabled) continue;
    declare(`source:${source.sourceId}`, `topic:${source.topic}`, 'publish', source.sourceId);
    declare(`topic:${source.topic}`, `table:${source.bronzeTable}`, 'land', source.sourceId);
    if (source.silverTable) declare(`table:${source.bronzeTable}`, `table:${source.silverTable}`, 'clean', source.sourceId);
  }
  for (const [gold, inputs] of Object.entries(GOLD_TABLES)) {
    for (const input of inputs) declare(`table:${input}`, `table:${gold}`, 'aggregate', null);
  }
  const recorded = await engine.query(
    'SELECT from_node, to_node, kind, source_id, records, last_run_id, last_run_at FROM platform.data_lineage',
    [],
    options,
  );
  for (const row of recorded) {
    const from = String(row['from_node']);
    const to = String(row['to_node']);
    edges.set(`${from}>${to}`, {
      from,
      to,
      kind: String(row['kind']),
      sourceId: row['source_id'] == null ? null : String(row['source_id']),
      records: Number(row['records']),
      lastRunId: row['last_run_id'] == null ? null : String(row['last_run_id']),
      lastRunAt: (row['last_run_at'] as Date | null) ?? null,
    });
  }
  return [...edges.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
}

/** A record the silver step refused. */
export interface QuarantinedRow {
  eventId: string | null;
  sourceId: string | null;
  bronzeTable: string;
  targetTable: string;
  rule: string;
  reason: string;
  record: string;
  runId: string;
  quarantinedAt: Date;
  deadLettered: boolean;
}

/** Quarantined records, newest first, optionally of one source or rule. */
export async function quarantined(
  engine: SqlEngine,
  args: { first: number; sourceId?: string | null; rule?: string | null },
  options?: QueryOptions,
): Promise<QuarantinedRow[]> {
  const where = new Where();
  if (args.sourceId) where.add('source_id = ?', args.sourceId);
  if (args.rule) where.add('rule = ?', args.rule);
  const rows = await engine.query(
    `SELECT event_id, source_id, bronze_table, target_table, rule, reason, record, run_id, quarantined_at, dead_lettered
     FROM silver.quarantine WHERE ${where.sql()}
     ORDER BY quarantined_at DESC, event_id ${limit(args.first)}`,
    where.params,
    options,
  );
  return rows.map((row) => ({
    eventId: row['event_id'] == null ? null : String(row['event_id']),
    sourceId: row['source_id'] == null ? null : String(row['source_id']),
    bronzeTable: String(row['bronze_table']),
    targetTable: String(row['target_table']),
    rule: String(row['rule']),
    reason: String(row['reason']),
    record: String(row['record']),
    runId: String(row['run_id']),
    quarantinedAt: row['quarantined_at'] as Date,
    deadLettered: row['dead_lettered'] === true,
  }));
}

/** The medallion schemas whose tables `platform.tables` lists. */
const LAYERS = ['bronze', 'silver', 'gold', 'platform'];

/** Tables of the lakehouse (from `information_schema`, on every engine) with their layer and row count. */
export async function tableInfo(engine: SqlEngine, options?: QueryOptions) {
  const names = await engine.query(
    `SELECT table_schema, table_name FROM information_schema.tables
     WHERE table_schema IN (${placeholders(LAYERS.length)}) AND table_type = 'BASE TABLE'
     ORDER BY table_schema, table_name`,
    LAYERS,
    options,
  );
  const tables = names
    .map((row) => `${String(row['table_schema'])}.${String(row['table_name'])}`)
    // Names come from the catalog, but are still checked before they become SQL text.
    .filter((name) => /^[a-z_]+\.[a-z0-9_]+$/.test(name));
  if (tables.length === 0) return [];
  const rows = await engine.query(tables.map((t) => `SELECT '${t}' AS name, count(*) AS row_count FROM ${t}`).join(' UNION ALL '), [], options);
  return rows
    .map((row) => ({ name: String(row['name']), layer: String(row['name']).split('.')[0] ?? '', rowCount: Number(row['row_count']) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
