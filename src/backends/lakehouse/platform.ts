import type { PipelineRunRecord } from '../../../ingest/medallion/silver-events.ts';
import type { SourceRegistry } from '../../../ingest/registry.ts';
import { limit, placeholders, type QueryOptions, type SqlEngine } from '../sql/port.ts';

/** Platform metadata reads (pipeline runs, data quality, lineage, tables). */

export async function pipelineRuns(engine: SqlEngine, first: number, options?: QueryOptions): Promise<PipelineRunRecord[]> {
  const rows = await engine.query(
    `SELECT run_id, layer, status, started_at, finished_at, records_in, records_out, records_rejected, error
     FROM platform.pipeline_runs ORDER BY started_at DESC, run_id ${limit(first)}`,
    [],
    options,
  );
  return rows.map((row) => ({
    id: String(row['run_id']),
    layer: String(row['layer']),
    status: String(row['status']) as PipelineRunRecord['status'],
    startedAt: row['started_at'] as Date,
    finishedAt: (row['finished_at'] as Date | null) ?? null,
    recordsIn: Number(row['records_in']),
    recordsOut: Number(row['records_out']),
    recordsRejected: Number(row['records_rejected']),
    error: row['error'] == null ? null : String(row['error']),
  }));
}

/**
 * Quality of the silver tables, measured now: completeness (share of required columns filled),
 * uniqueness (distinct keys / rows) and validity (share of rows passing the business rules:
 * non-negative amounts, known tours, two-letter regions, no future timestamps).
 */
export async function qualityOf(engine: SqlEngine, options?: QueryOptions) {
  const [events] = await engine.query(
    `SELECT count(*) AS n,
       count(DISTINCT event_id) AS distinct_ids,
       avg((CASE WHEN user_id IS NULL THEN 0 ELSE 1 END + CASE WHEN occurred_at IS NULL THEN 0 ELSE 1 END
            + CASE WHEN source IS NULL THEN 0 ELSE 1 END
            + CASE WHEN event_type = 'search' OR tour_id IS NOT NULL THEN 1 ELSE 0 END) / 4.0) AS completeness,
       avg(CASE WHEN (amount IS NULL OR amount >= 0)
                 AND (tour_id IS NULL OR tour_id IN (SELECT tour_id FROM silver.tours))
                 AND (region IS NULL OR length(region) = 2)
                 AND occurred_at <= current_timestamp THEN 1.0 ELSE 0.0 END) AS validity
     FROM silver.events`,
    [],
    options,
  );
  const [tours] = await engine.query(
    `SELECT count(*) AS n, count(DISTINCT tour_id) AS distinct_ids,
       avg((CASE WHEN description IS NULL THEN 0 ELSE 1 END + CASE WHEN rating IS NULL THEN 0 ELSE 1 END
            + CASE WHEN destination_id IS NULL THEN 0 ELSE 1 END) / 3.0) AS completeness,
       avg(CASE WHEN price >= 0 AND duration_days > 0 AND (rating IS NULL OR rating BETWEEN 0 AND 5) THEN 1.0 ELSE 0.0 END) AS validity
     FROM silver.tours`,
    [],
    options,
  );
  const measuredAt = new Date();
  return [
    ['silver.events', events],
    ['silver.tours', tours],
  ].map(([table, row]) => {
    const r = row as Record<string, unknown> | undefined;
    const rowCount = Number(r?.['n'] ?? 0);
    const completeness = Number(r?.['completeness'] ?? 1);
    const uniqueness = rowCount === 0 ? 1 : Number(r?.['distinct_ids'] ?? 0) / rowCount;
    const validity = Number(r?.['validity'] ?? 1);
    const round = (x: number) => Math.round(x * 10_000) / 10_000;
    return {
      table: String(table),
      measuredAt,
      rowCount,
      completeness: round(completeness),
      uniqueness: round(uniqueness),
      validity: round(validity),
      overallScore: round((completeness + uniqueness + validity) / 3),
    };
  });
}

/** Lineage from the source registry: source → topic → bronze table → silver → analytics. */
export function lineageOf(registry: SourceRegistry) {
  const edges: { from: string; to: string; kind: string }[] = [];
  for (const source of registry.sources) {
    if (!source.enabled) continue;
    edges.push({ from: `source:${source.sourceId}`, to: `topic:${source.topic}`, kind: 'publish' });
    edges.push({ from: `topic:${source.topic}`, to: `table:${source.bronzeTable}`, kind: 'ingest' });
    edges.push({ from: `table:${source.bronzeTable}`, to: 'table:silver.events', kind: 'clean' });
  }
  edges.push({ from: 'table:silver.events', to: 'table:analytics.events', kind: 'serve' });
  return edges;
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
