/**
 * One medallion worker under measurement (the landing scenario), in its own process on the load
 * core. It publishes `BENCH_LANDING_EVENTS` booking and view events to an embedded log of its
 * own (through the gateway's publisher: validated and enriched as `ingestEvents` does), then
 * times the medallion passes that take them all to silver and gold, on the lakehouse writer
 * `BENCH_LANDING_ENGINE` names: `duckdb` (embedded, over `BENCH_DUCKDB_FILE`) or `trino` (the
 * coordinator at `BENCH_TRINO_URL`, whose process is `BENCH_FIXTURE_PID`). Prints one line,
 * `{ "benchReady": true, …LandingFigures }`, and exits.
 */
import { MedallionRunner, type PipelineRunRecord } from '../ingest/medallion/runner.ts';
import { createPublisher, type EventSubmission } from '../ingest/publisher.ts';
import { loadSourceRegistry } from '../ingest/registry.ts';
import { createEmbeddedLog } from '../src/backends/bus/embedded-log.ts';
import { DuckDbDatabase } from '../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../src/backends/duckdb/ddl.ts';
import { createDuckDbWriter } from '../src/backends/duckdb/writer.ts';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { scalarOf, type SqlWriter } from '../src/backends/sql/writer.ts';
import { createTrinoEngine } from '../src/backends/trino/engine.ts';
import { createTrinoWriter } from '../src/backends/trino/writer.ts';
import type { EventTypeName } from '../src/domain.ts';
import { ingestBatch } from './documents.ts';
import { cpuMsOf } from './processes.ts';

/** One statement the worker sent to Trino. */
export interface SentStatement {
  /** Its first keyword, upper case: INSERT, MERGE, DELETE, UPDATE, SELECT, … */
  kind: string;
  /** Characters of the statement text. */
  chars: number;
  /** The table a write statement changes (`schema.table`). */
  table: string | undefined;
  /** A bronze landing: `INSERT INTO bronze.… VALUES`, rows sent as literals. */
  landing: boolean;
  /** Rows an INSERT, MERGE, DELETE or UPDATE reported written. */
  rows: number;
  /** From sending it to its last answer. */
  ms: number;
}

/** What one measured landing printed. */
export interface LandingFigures {
  engine: 'duckdb' | 'trino';
  events: number;
  /** Wall time of the passes, from the first to the last. */
  elapsedMs: number;
  passes: number;
  promoted: number;
  quarantined: number;
  /** Wall time per layer, summed over the passes: from its start to the next layer's; `bus read` before the first. */
  layerMs: Record<string, number>;
  /** CPU time of this process (the worker, and the embedded DuckDB when it is the lakehouse). */
  workerCpuMs: number;
  /** CPU time of the coordinator's process (the fixture), when known. */
  fixtureCpuMs: number | undefined;
  /** Statements sent to Trino during the passes (empty on DuckDB). */
  statements: SentStatement[];
}

const engineName = process.env['BENCH_LANDING_ENGINE'] === 'trino' ? 'trino' : 'duckdb';
const events = Number(process.env['BENCH_LANDING_EVENTS'] ?? '20000');
const statements: SentStatement[] = [];
/** The target of INSERT INTO, MERGE INTO, DELETE FROM and UPDATE. */
const WRITE_TARGET = /^\s*(?:INSERT\s+INTO|MERGE\s+INTO|DELETE\s+FROM|UPDATE)\s+([\w.]+)/i;
const LANDING = /^\s*INSERT\s+INTO\s+bronze\.\w+\s*(?:\([^)]*\))?\s*VALUES\b/i;

const registry = await loadSourceRegistry();
// The bus: an embedded log in memory, apart from the lakehouse, so both engines read the same kind of bus.
const busDatabase = await DuckDbDatabase.open({ file: ':memory:', readConnections: 1 });
await busDatabase.exec(LAKEHOUSE_DDL);
const bus = await createEmbeddedLog({ database: busDatabase });

let lakehouse: DuckDbDatabase | undefined;
let trino: SqlEngine | undefined;
let writer: SqlWriter;
if (engineName === 'duckdb') {
  lakehouse = await DuckDbDatabase.open({ file: required('BENCH_DUCKDB_FILE') });
  writer = createDuckDbWriter(lakehouse);
} else {
  trino = createTrinoEngine({ url: required('BENCH_TRINO_URL'), timeoutMs: 600_000 });
  writer = createTrinoWriter(recording(trino));
}

// The demo lakehouse's bronze position is on the gateway's log, not on this one: start from this bus's start.
await writer.execute("DELETE FROM platform.watermarks WHERE pipeline = 'bronze'");
// Debounce and schedule out of the way: the measured passes are the ones `settle` runs.
const runner = new MedallionRunner({ writer, bus, registry, debounceMs: 3_600_000, intervalMs: 0 });
await runner.start();

const publisher = createPublisher({ bus, registry });
const inputs = ingestBatch(events);
for (let i = 0; i < inputs.length; i += 500) {
  const submissions = inputs.slice(i, i + 500).map((input) => ({ ...input, eventType: String(input['eventType']).toLowerCase() as EventTypeName }) as EventSubmission);
  const outcomes = await publisher.ingest(submissions, submissions.map(() => null));
  const refused = outcomes.find((o) => !o.ok);
  if (refused && !refused.ok) throw new Error(`an event was refused: ${refused.rejection.message}`);
}

const countOf = (table: string) => scalarOf(writer, `SELECT count(*) FROM ${table}`);
const [eventsBefore, quarantineBefore] = [await countOf('silver.events'), await countOf('silver.quarantine')];
const runs: PipelineRunRecord[] = [];
runner.runs.on('finished', (run: PipelineRunRecord) => runs.push(run));
statements.length = 0;
const fixturePid = process.env['BENCH_FIXTURE_PID'];
const fixtureCpuBefore = cpuMsOf(fixturePid);
const cpuBefore = process.cpuUsage();
const wallStart = Date.now();
const t0 = performance.now();
await runner.settle();
const elapsedMs = performance.now() - t0;
const cpu = process.cpuUsage(cpuBefore);
const fixtureCpuAfter = cpuMsOf(fixturePid);
const sent = [...statements];
const [eventsAfter, quarantineAfter] = [await countOf('silver.events'), await countOf('silver.quarantine')];

// Each layer from its start to the next layer's (its metadata writes and commit included); before the first, the bus read.
const layerMs: Record<string, number> = {};
const starts = runs.map((run) => ({ layer: run.layer, at: run.startedAt.getTime() })).sort((a, b) => a.at - b.at);
let previous = { layer: 'bus read', at: wallStart };
for (const start of [...starts, { layer: 'end', at: wallStart + elapsedMs }]) {
  layerMs[previous.layer] = (layerMs[previous.layer] ?? 0) + Math.max(0, start.at - previous.at);
  previous = start;
}

const figures: LandingFigures = {
  engine: engineName,
  events,
  elapsedMs,
  passes: runs.filter((r) => r.layer === 'bronze').length,
  promoted: eventsAfter - eventsBefore,
  quarantined: quarantineAfter - quarantineBefore,
  layerMs,
  workerCpuMs: (cpu.user + cpu.system) / 1000,
  fixtureCpuMs: fixtureCpuBefore !== undefined && fixtureCpuAfter !== undefined ? fixtureCpuAfter - fixtureCpuBefore : undefined,
  statements: sent,
};
await runner.stop();
await trino?.close();
await bus.close();
await busDatabase.close();
await lakehouse?.close();
process.stdout.write(`${JSON.stringify({ benchReady: true, ...figures })}\n`);

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** The engine, recording each statement sent (kind, size, rows written, time to its answer). */
function recording(engine: SqlEngine): SqlEngine {
  return Object.assign(Object.create(engine) as SqlEngine, {
    async query(...args: Parameters<SqlEngine['query']>) {
      const [sql] = args;
      const started = performance.now();
      const rows = await engine.query(...args);
      const written = rows[0]?.['rows'];
      const kind = (/^\s*([A-Za-z]+)/.exec(sql)?.[1] ?? '?').toUpperCase();
      statements.push({
        kind,
        chars: sql.length,
        table: WRITE_TARGET.exec(sql)?.[1]?.toLowerCase(),
        landing: LANDING.test(sql.slice(0, 4_000)),
        rows: written === undefined ? 0 : Number(written),
        ms: performance.now() - started,
      });
      return rows;
    },
  });
}

