import { rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../../src/backends/duckdb/ddl.ts';
import { ensureDemoData } from './generate.ts';

/**
 * `npm run demo-data -- --scale 100 [--seed 42] [--data-dir .data] [--anchor 2026-11-01] [--rebuild]`:
 * builds the embedded lakehouse's demo data ahead of a start (benchmarks use large scales).
 */
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    seed: { type: 'string', default: '42' },
    'data-dir': { type: 'string', default: '.data' },
    anchor: { type: 'string' },
    rebuild: { type: 'boolean', default: false },
  },
});

const scale = Number(values.scale);
const seed = Number(values.seed);
const anchor = values.anchor ? new Date(values.anchor) : undefined;
if (!(scale > 0) || !Number.isInteger(seed) || (anchor && Number.isNaN(anchor.getTime()))) {
  process.stderr.write(`demo-data: --scale must be > 0, --seed an integer, --anchor an ISO date (got ${values.scale}, ${values.seed}, ${values.anchor})\n`);
  process.exit(2);
}
const file = path.resolve(values['data-dir'], 'nexus.duckdb');
if (values.rebuild) {
  rmSync(file, { force: true });
  rmSync(`${file}.wal`, { force: true });
}
const started = performance.now();
const database = await DuckDbDatabase.open({ file });
try {
  await database.exec(LAKEHOUSE_DDL);
  const summary = await ensureDemoData(database, { seed, scale, ...(anchor ? { anchor } : {}) });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    summary.reused
      ? `demo-data: ${file} already holds data (${summary.events} events); pass --rebuild to regenerate\n`
      : `demo-data: built ${summary.tours} tours, ${summary.users} users, ${summary.events} events in ${seconds}s into ${file}\n`,
  );
} finally {
  await database.close();
}
