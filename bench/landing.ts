import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LandingFigures, SentStatement } from './landing-worker.ts';
import { DATABASE_FILE } from './launch.ts';
import type { BenchOptions } from './options.ts';
import { awaitReady, spawnNode, stopChild, waitForExit, type ReadyChild } from './processes.ts';

/** Trino's default `query.max-length`: the longest statement a coordinator accepts, in characters. */
export const TRINO_MAX_STATEMENT_CHARS = 1_000_000;
/** Most bus records one medallion pass lands (the runner's default `maxRecordsPerRun`). */
export const FULL_PASS_RECORDS = 100_000;

/** One measured landing: the worker's figures, or why there are none. */
export interface LandingRun {
  label: string;
  engine: 'duckdb' | 'trino';
  /** The commit wait the coordinator added to each write statement (Trino runs). */
  commitLatencyMs?: number;
  figures?: Omit<LandingFigures, 'statements'>;
  statements?: StatementSummary;
  /** What the worker or the coordinator printed besides its figures (first lines). */
  output: string[];
  error?: string;
}

/** The statements one Trino landing sent, summed up. */
export interface StatementSummary {
  total: number;
  /** INSERT, MERGE, DELETE, UPDATE: each one an Iceberg commit. */
  writes: number;
  /** Bronze landing: `INSERT INTO bronze.… VALUES` statements, their rows and characters. */
  bulkInserts: number;
  bulkRows: number;
  bulkChars: number;
  /** Most rows one bronze INSERT carried (the writer's cut, by rows or by characters). */
  maxBulkRows: number;
  /** Write statements (commits) by the table they change. */
  writesByTable: Record<string, number>;
  /** Time from sending to the last answer, by kind (`INSERT VALUES`, `INSERT SELECT`, `MERGE`, …). */
  msByKind: Record<string, number>;
  countByKind: Record<string, number>;
}

/** The scenario's three runs: embedded DuckDB, Trino without and with a commit wait. */
export interface LandingResult {
  events: number;
  /** The commit wait of the delayed Trino run (0: not run). */
  commitLatencyMs: number;
  runs: LandingRun[];
}

const WORKER = fileURLToPath(new URL('./landing-worker.ts', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./servers/trino-fixture.ts', import.meta.url));

/** Runs the landing on embedded DuckDB, then through the Trino fixture at 0 ms and at the configured commit latency. */
export async function measureLanding(options: BenchOptions, baseDir: string): Promise<LandingResult> {
  const runs: LandingRun[] = [];
  runs.push(await landOnce(options, baseDir, { label: 'embedded DuckDB', engine: 'duckdb' }));
  runs.push(await landOnce(options, baseDir, { label: 'Trino fixture, 0 ms commits', engine: 'trino', commitLatencyMs: 0 }));
  const latency = options.commitLatencyMs;
  if (latency > 0) runs.push(await landOnce(options, baseDir, { label: `Trino fixture, ${latency} ms commits`, engine: 'trino', commitLatencyMs: latency }));
  return { events: options.landingEvents, commitLatencyMs: latency, runs };
}

/**
 * One landing over a private copy of the demo lakehouse: the worker on the load core; for Trino,
 * the fixture (holding the copy) on the server core.
 */
async function landOnce(options: BenchOptions, baseDir: string, run: Pick<LandingRun, 'label' | 'engine' | 'commitLatencyMs'>): Promise<LandingRun> {
  const result: LandingRun = { ...run, output: [] };
  const dir = mkdtempSync(path.join(baseDir, 'landing-'));
  let fixture: ReadyChild<{ url: string }> | undefined;
  try {
    for (const file of [DATABASE_FILE, `${DATABASE_FILE}.wal`]) {
      if (existsSync(path.join(baseDir, file))) copyFileSync(path.join(baseDir, file), path.join(dir, file));
    }
    const lakehouseFile = path.join(dir, DATABASE_FILE);
    const env: Record<string, string> = { BENCH_LANDING_ENGINE: run.engine, BENCH_LANDING_EVENTS: String(options.landingEvents) };
    if (run.engine === 'duckdb') {
      env['BENCH_DUCKDB_FILE'] = lakehouseFile;
    } else {
      fixture = await awaitReady<{ url: string }>(
        spawnNode(FIXTURE, { role: 'server', env: { BENCH_DUCKDB_FILE: lakehouseFile, BENCH_COMMIT_LATENCY_MS: String(run.commitLatencyMs ?? 0) } }),
        60_000,
      );
      env['BENCH_TRINO_URL'] = fixture.ready.url;
      if (fixture.child.pid !== undefined) env['BENCH_FIXTURE_PID'] = String(fixture.child.pid);
    }
    const worker = spawnNode(WORKER, { role: 'load', env });
    try {
      // Generous: a loaded machine at 250 ms a commit takes minutes for 100k events.
      const budgetMs = 120_000 + options.landingEvents * (run.engine === 'trino' ? 10 : 2) + options.landingEvents * (run.commitLatencyMs ?? 0) * 0.01;
      const { ready, output } = await awaitReady<LandingFigures & { benchReady: true }>(worker, budgetMs);
      const { benchReady: _, statements, ...figures } = ready;
      result.figures = figures;
      if (run.engine === 'trino') result.statements = summarise(statements);
      result.output.push(...output.slice(0, 5));
    } finally {
      await waitForExit(worker, 30_000);
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    if (fixture) {
      result.output.push(...fixture.output.slice(0, 5).map((line) => `coordinator: ${line}`));
      await stopChild(fixture.child);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

const WRITE_KINDS = new Set(['INSERT', 'MERGE', 'DELETE', 'UPDATE']);

function summarise(statements: readonly SentStatement[]): StatementSummary {
  const summary: StatementSummary = {
    total: statements.length,
    writes: 0,
    bulkInserts: 0,
    bulkRows: 0,
    bulkChars: 0,
    maxBulkRows: 0,
    writesByTable: {},
    msByKind: {},
    countByKind: {},
  };
  for (const statement of statements) {
    const kind = statement.landing ? 'bronze INSERT VALUES' : statement.kind;
    summary.msByKind[kind] = (summary.msByKind[kind] ?? 0) + statement.ms;
    summary.countByKind[kind] = (summary.countByKind[kind] ?? 0) + 1;
    if (WRITE_KINDS.has(statement.kind)) {
      summary.writes += 1;
      const table = statement.table ?? '?';
      summary.writesByTable[table] = (summary.writesByTable[table] ?? 0) + 1;
    }
    if (statement.landing) {
      summary.bulkInserts += 1;
      summary.bulkRows += statement.rows;
      summary.bulkChars += statement.chars;
      summary.maxBulkRows = Math.max(summary.maxBulkRows, statement.rows);
    }
  }
  return summary;
}

/** Events per second of a run, or undefined without figures. */
export function eventsPerSec(run: LandingRun | undefined): number | undefined {
  return run?.figures && run.figures.elapsedMs > 0 ? run.figures.events / (run.figures.elapsedMs / 1000) : undefined;
}

/**
 * Where a Trino landing's limit is, from a run without commit wait: each write statement is one
 * Iceberg commit, made one after another by one worker, so `latencyMs` adds `writes × latency`
 * per pass. Projected rates: of the measured batch, and of a full pass (bronze INSERTs and the
 * measured time scaling with the records, the other writes per pass fixed); ceilings from the
 * commits alone (a coordinator that took no time besides them), and for bronze alone at the
 * writer's fullest INSERT and at Trino's statement-size limit.
 */
export function landingLimits(run: LandingRun, latencyMs: number) {
  const figures = run.figures;
  const statements = run.statements;
  if (!figures || !statements || figures.passes === 0 || statements.bulkRows === 0) return undefined;
  const seconds = figures.elapsedMs / 1000;
  const latency = latencyMs / 1000;
  const scale = FULL_PASS_RECORDS / figures.events;
  const fixedWrites = (statements.writes - statements.bulkInserts) / figures.passes;
  const rowsPerInsert = statements.bulkRows / statements.bulkInserts;
  const fullPassWrites = fixedWrites + (statements.bulkInserts / figures.passes) * scale;
  const charsPerRow = statements.bulkChars / statements.bulkRows;
  const rowsAtMaxLength = Math.floor(TRINO_MAX_STATEMENT_CHARS / charsPerRow);
  return {
    writesPerPass: statements.writes / figures.passes,
    statementsPerPass: statements.total / figures.passes,
    rowsPerInsert,
    charsPerInsert: statements.bulkChars / statements.bulkInserts,
    charsPerRow,
    rowsAtMaxLength,
    projected: figures.events / (seconds + statements.writes * latency),
    commitCeiling: figures.events / (statements.writes * latency),
    fixedWrites,
    fullPassWrites,
    fullPass: FULL_PASS_RECORDS / (seconds * scale + fullPassWrites * latency),
    fullPassCeiling: FULL_PASS_RECORDS / (fullPassWrites * latency),
    maxRowsPerInsert: statements.maxBulkRows,
    bronzeCeiling: statements.maxBulkRows / latency,
    bronzeCeilingAtMaxLength: rowsAtMaxLength / latency,
  };
}
