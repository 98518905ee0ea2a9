/**
 * `npm run bench [-- --quick] [-- --only=tour-list-50,…]`: builds the demo data once, then runs
 * each scenario with every server in its own fresh process (servers on core 0, the load
 * generator on core 1 when `taskset` is available), prints a table per scenario and writes
 * everything to bench/results/latest.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SINGLE_TOUR, getRequest } from './documents.ts';
import { DATABASE_FILE, startGateway } from './launch.ts';
import { checkAnswer } from './measure.ts';
import { BenchUsageError, parseBenchOptions, type BenchOptions } from './options.ts';
import { PINNED, killChildren } from './processes.ts';
import { formatScenario, formatSummary } from './report.ts';
import type { ScenarioResult } from './results.ts';
import { SINGLE_TOUR_VARIABLES, runScenario, type BenchContext } from './scenarios.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/latest.json', import.meta.url));

let options: BenchOptions;
try {
  options = parseBenchOptions(process.argv.slice(2), process.env);
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const started = performance.now();
const revision = (() => {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'resolvers', 'loaders', 'subscriptions', 'ingest', 'schema'], { encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  return `${head.stdout.trim()}${dirty.stdout.trim() ? ' + uncommitted changes' : ''}`;
})();
const machine = {
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  pinned: PINNED ? 'servers on core 0, load generator on core 1 (taskset)' : 'not pinned (no taskset or a single core)',
};
process.stdout.write(
  `Nexus Gateway benchmark at ${revision} — ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${machine.pinned}\n` +
    `${options.connections} connections, ${options.warmupSec} s warm-up + ${options.durationSec} s per run${options.quick ? ' (--quick)' : ''}; scenarios: ${options.only.join(', ')}\n`,
);

const baseDir = mkdtempSync(path.join(tmpdir(), 'nexus-bench-data-'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    rmSync(baseDir, { recursive: true, force: true });
    process.exit(130);
  });
}
const scenarios: ScenarioResult[] = [];
try {
  const ctx = await buildContext(options, baseDir);
  for (const id of options.only) {
    const result = await runScenario(id, ctx);
    scenarios.push(result);
    process.stdout.write(`${formatScenario(result)}\n`);
  }
  process.stdout.write(`${formatSummary(scenarios)}\n`);
} finally {
  rmSync(baseDir, { recursive: true, force: true });
}

mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
writeFileSync(
  RESULTS_FILE,
  `${JSON.stringify({ finishedAt: new Date().toISOString(), revision, elapsedSec: Math.round((performance.now() - started) / 100) / 10, machine, options, scenarios }, null, 2)}\n`,
);
process.stdout.write(`\nWrote ${path.relative(process.cwd(), RESULTS_FILE)} in ${Math.round((performance.now() - started) / 1000)} s.\n`);

/**
 * Builds the demo data once by starting and stopping a gateway over `dir` (its stop checkpoints
 * the database, so the file is complete), keeping its single-tour answer for raw node:http.
 */
async function buildContext(options: BenchOptions, dir: string): Promise<BenchContext> {
  process.stdout.write('Building demo data (one gateway start/stop)… ');
  const t0 = performance.now();
  const gateway = await startGateway(dir, { RESPONSE_CACHE: 'false' }, { inPlace: true });
  try {
    const answer = await checkAnswer(gateway.url, getRequest(SINGLE_TOUR, SINGLE_TOUR_VARIABLES));
    process.stdout.write(`done in ${Math.round(performance.now() - t0)} ms\n`);
    return { options, baseDir: dir, databaseFile: path.join(dir, DATABASE_FILE), singleTourBody: answer.body };
  } finally {
    await gateway.stop();
  }
}
