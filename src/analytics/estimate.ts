import type { QueryOptions, SqlEngine, SqlRow } from '../backends/sql/port.ts';
import type { CompiledQuestion, Question } from './compile.ts';
import { timestampParameter } from './dialect.ts';

/** What the engine expects a statement to read, asked before the statement runs. */
export interface Estimate {
  /** Rows the engine expects to read; null when it cannot tell (no statistics). */
  rows: number | null;
  engine: string;
  /** `explain` (DuckDB plan cardinalities), `explain-io` (Trino), `explain-estimate` / `system.parts` (ClickHouse). */
  method: string;
  /**
   * Rows the engine may touch at most for this estimate, where reads come in blocks (ClickHouse
   * reads whole granules): the floor of the statement's `max_rows_to_read`.
   */
  ceiling: number | null;
}

/** ClickHouse's default index granularity: reads come in granules of this many rows. */
const GRANULE = 8192;

/** Servers found without `EXPLAIN ESTIMATE` (ClickHouse before 21.9), keyed by engine: asked once. */
const noExplainEstimate = new WeakSet<object>();

/**
 * The engine's own estimate of the rows `compiled` reads. None of these statements reads table
 * data: DuckDB and Trino plan the statement (`EXPLAIN`), ClickHouse answers from its `EXPLAIN
 * ESTIMATE` (21.9+) or, on older servers, from `system.parts`: the rows of the active parts whose
 * time range meets the question's (partition pruning, as the server will do it), plus the joined
 * tables.
 *
 * `memo` identifies the engine across requests (the per-request views of it differ).
 */
export async function estimateRows(engine: SqlEngine, compiled: CompiledQuestion, question: Question, memo: object, options: QueryOptions = {}): Promise<Estimate> {
  switch (engine.dialect) {
    case 'duckdb': {
      const rows = await engine.query(`EXPLAIN (FORMAT JSON) ${compiled.sql}`, compiled.params, options);
      const plan: unknown = JSON.parse(String(rows.find((r) => r['explain_key'] === 'physical_plan')?.['explain_value'] ?? '[]'));
      const scanned = sumScans(plan);
      return { rows: scanned, engine: 'duckdb', method: 'explain', ceiling: scanned };
    }
    case 'trino': {
      const [row] = await engine.query(`EXPLAIN (TYPE IO, FORMAT JSON) ${compiled.sql}`, compiled.params, options);
      const io = JSON.parse(String(row ? Object.values(row)[0] : '{}')) as { inputTableColumnInfos?: { estimate?: { outputRowCount?: number | string } }[] };
      let total: number | null = 0;
      for (const input of io.inputTableColumnInfos ?? []) {
        const raw = input.estimate?.outputRowCount;
        const count = raw == null ? Number.NaN : Number(raw);
        // Trino says NaN for a table without statistics.
        total = total === null || !Number.isFinite(count) ? null : total + count;
      }
      return { rows: total, engine: 'trino', method: 'explain-io', ceiling: total };
    }
    case 'clickhouse':
      return clickHouseEstimate(engine, compiled, question, memo, options);
    default: {
      const unknown: never = engine.dialect;
      throw new Error(`no estimate for dialect ${String(unknown)}`);
    }
  }
}

async function clickHouseEstimate(engine: SqlEngine, compiled: CompiledQuestion, question: Question, memo: object, options: QueryOptions): Promise<Estimate> {
  if (!noExplainEstimate.has(memo)) {
    try {
      const rows = await engine.query(`EXPLAIN ESTIMATE ${compiled.sql}`, compiled.params, options);
      const sum = (column: string): number => rows.reduce((n, r) => n + Number(r[column] ?? 0), 0);
      return { rows: sum('rows'), engine: 'clickhouse', method: 'explain-estimate', ceiling: Math.max(sum('rows'), sum('marks') * GRANULE) };
    } catch (error) {
      // Code 62 (syntax error): a server without EXPLAIN; anything else is a real failure.
      if (!/Code: 62\b|Syntax error/.test(String(error instanceof Error ? `${error.message} ${String(error.cause)}` : error))) throw error;
      noExplainEstimate.add(memo);
    }
  }
  let rows = 0;
  let ceiling = 0;
  for (const [i, table] of compiled.tables.entries()) {
    const [database, name] = table.split('.') as [string, string];
    const conditions = ['active', 'database = ?', 'table = ?'];
    const params: (string | Date | number)[] = [database, name];
    // The fact table's parts outside the question's time range are pruned, as the read will prune them.
    if (i === 0 && question.time) {
      const range = (date: Date) => timestampParameter('clickhouse', date);
      if (question.time.from) {
        conditions.push(`max_time >= ${range(question.time.from).sql}`);
        params.push(question.time.from);
      }
      if (question.time.to) {
        conditions.push(`min_time < ${range(question.time.to).sql}`);
        params.push(question.time.to);
      }
    }
    const [row]: SqlRow[] = await engine.query(
      `SELECT sum(rows) AS rows, sum(marks) AS marks FROM system.parts WHERE ${conditions.join(' AND ')}`,
      params,
      options,
    );
    rows += Number(row?.['rows'] ?? 0);
    ceiling += Number(row?.['marks'] ?? 0) * GRANULE;
  }
  return { rows, engine: 'clickhouse', method: 'system.parts', ceiling: Math.max(rows, ceiling) };
}

/** Sum of the estimated cardinalities of a DuckDB JSON plan's table scans. */
function sumScans(node: unknown): number {
  if (Array.isArray(node)) return node.reduce((n: number, child) => n + sumScans(child), 0);
  if (!node || typeof node !== 'object') return 0;
  const { name, children, extra_info: info } = node as { name?: string; children?: unknown[]; extra_info?: Record<string, unknown> };
  const own = typeof name === 'string' && name.endsWith('SCAN') && info && 'Table' in info ? Number(info['Estimated Cardinality'] ?? 0) : 0;
  return (Number.isFinite(own) ? own : 0) + sumScans(children ?? []);
}
