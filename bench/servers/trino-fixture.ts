/**
 * A Trino coordinator for the landing and catalogue scenarios: the Trino protocol fixture (answers from DuckDB)
 * over a copy of the demo lakehouse (`BENCH_DUCKDB_FILE`, opened read-write), every write
 * statement answering after `BENCH_COMMIT_LATENCY_MS` (an Iceberg commit's wait), on a free port
 * of 127.0.0.1, and every statement after `BENCH_STATEMENT_LATENCY_MS` (a coordinator's planning
 * and scheduling). Its own process, so its work is measured apart from the medallion's.
 */
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { startTrinoFixture } from '../../test/helpers/trino-fixture.ts';

const file = process.env['BENCH_DUCKDB_FILE'];
if (!file) throw new Error('BENCH_DUCKDB_FILE is required');
const statementLatencyMs = Number(process.env['BENCH_STATEMENT_LATENCY_MS'] ?? '0');
const database = await DuckDbDatabase.open({ file, readConnections: 1 });
const fixture = await startTrinoFixture({
  connect: () => database.dedicatedConnection(),
  // Large pages: the medallion's reads are small, and a real coordinator sends ~1 MB pages.
  pageSize: 1_000,
  commitLatencyMs: Number(process.env['BENCH_COMMIT_LATENCY_MS'] ?? '0'),
  // A coordinator's planning and scheduling: every statement waits this long before it runs.
  ...(statementLatencyMs > 0 ? { onStatement: () => new Promise<void>((resolve) => setTimeout(resolve, statementLatencyMs)) } : {}),
});
process.stdout.write(`${JSON.stringify({ benchReady: true, url: fixture.url })}\n`);

process.once('SIGTERM', () => {
  fixture
    .close()
    .then(() => database.close())
    .then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`fixture stop failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exit(1);
      },
    );
});
