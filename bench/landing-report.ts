import { eventsPerSec, landingLimits, TRINO_MAX_STATEMENT_CHARS, FULL_PASS_RECORDS, type LandingResult, type LandingRun } from './landing.ts';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

const COLUMNS = [
  ['run', 30],
  ['events/s', 9],
  ['wall s', 7],
  ['passes', 7],
  ['in silver', 10],
  ['bus read', 9],
  ['bronze', 7],
  ['silver', 7],
  ['gold', 7],
  ['worker CPU', 11],
  ['Trino CPU', 10],
] as const;

/** The landing scenario as text: a row per run (time split per layer, CPU per process), then the Trino statements and the limits. */
export function landingLines(landing: LandingResult): string[] {
  const commitLatencyMs = landing.commitLatencyMs;
  const row = (cells: readonly string[]) => `  ${cells.map((cell, i) => (i === 0 ? cell.padEnd(COLUMNS[i]![1]) : cell.padStart(COLUMNS[i]![1]))).join(' ')}`;
  const lines = [row(COLUMNS.map(([name]) => name)) + '   (times in s)'];
  for (const run of landing.runs) {
    const f = run.figures;
    if (!f) {
      lines.push(row([run.label]) + `   FAILED: ${(run.error ?? 'no figures').split('\n')[0]}`);
      continue;
    }
    lines.push(
      row([
        run.label,
        int(eventsPerSec(run) ?? 0),
        sec(f.elapsedMs),
        String(f.passes),
        int(f.promoted),
        sec(f.layerMs['bus read']),
        sec(f.layerMs['bronze']),
        sec(f.layerMs['silver']),
        sec(f.layerMs['gold']),
        sec(f.workerCpuMs),
        sec(f.fixtureCpuMs),
      ]),
    );
  }
  for (const run of landing.runs) for (const line of run.output) lines.push(`    ${run.label}: ${line.slice(0, 200)}`);
  const trino = landing.runs.find((r) => r.engine === 'trino' && r.commitLatencyMs === 0);
  if (trino?.statements && trino.figures) {
    const s = trino.statements;
    const passes = trino.figures.passes;
    const byKind = Object.entries(s.msByKind)
      .sort(([, a], [, b]) => b - a)
      .map(([kind, ms]) => `${kind} × ${s.countByKind[kind]} ${sec(ms)} s`)
      .join(', ');
    const byTable = Object.entries(s.writesByTable)
      .sort(([, a], [, b]) => b - a)
      .map(([table, n]) => `${table} ${n}`)
      .join(', ');
    lines.push(`  Trino statements (0 ms run): ${s.total} in ${passes} pass(es); ${s.writes} writes (INSERT/MERGE/DELETE/UPDATE), one Iceberg commit each`);
    lines.push(`  waiting on Trino, by kind: ${byKind}`);
    lines.push(`  commits by table: ${byTable}`);
  }
  // The statement sizes do not depend on the latency; without a delayed run, 1 ms keeps the arithmetic finite.
  const limits = trino ? landingLimits(trino, commitLatencyMs || 1) : undefined;
  if (limits) {
    lines.push(
      `  bronze INSERT … VALUES: ${int(limits.rowsPerInsert)} rows and ${int(limits.charsPerInsert)} characters on average, at most ${int(limits.maxRowsPerInsert)} rows ` +
        `(${int(limits.charsPerRow)} characters a row); query.max-length ${int(TRINO_MAX_STATEMENT_CHARS)} → at most ${int(limits.rowsAtMaxLength)} rows a statement`,
    );
  }
  if (limits && commitLatencyMs > 0) {
    lines.push(
      `  at ${commitLatencyMs} ms a commit: projected ${int(limits.projected)} events/s for this batch (its 0 ms time + ${int(limits.writesPerPass)} commits a pass); ` +
        `in full passes of ${int(FULL_PASS_RECORDS)} records (${int(limits.fullPassWrites)} commits, ${int(limits.fixedWrites)} of them not bronze) ${int(limits.fullPass)} events/s, ` +
        `and at most ${int(limits.fullPassCeiling)} events/s from the commits alone`,
    );
    lines.push(
      `  bronze landing alone at ${commitLatencyMs} ms: ${int(limits.bronzeCeiling)} events/s at ${int(limits.maxRowsPerInsert)} rows an INSERT, ` +
        `${int(limits.bronzeCeilingAtMaxLength)} events/s with statements up to query.max-length`,
    );
  }
  return lines;
}

/** The run of the scenario with a commit wait, if any. */
export function delayedRun(landing: LandingResult): LandingRun | undefined {
  return landing.runs.find((r) => r.engine === 'trino' && (r.commitLatencyMs ?? 0) > 0);
}
