import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { awaitReady, spawnNode, stopChild, type ReadyChild, type Role } from './processes.ts';

/** A server under test, running in its own process on the server core. */
export interface RunningServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  pid: number | undefined;
  /** Lines the server printed besides its ready line (warnings, errors). */
  output: string[];
  /** Stops the process and removes what it was given to work on. */
  stop(): Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const READY_TIMEOUT_MS = 60_000;

/** The DuckDB file name the gateway keeps under DATA_DIR. */
export const DATABASE_FILE = 'nexus.duckdb';

async function launch(script: string, env: Record<string, string>, cleanup: () => void = () => undefined, role: Role = 'server'): Promise<RunningServer> {
  // `pid`: the server proper, when the script only starts it (a native engine binary).
  let started: ReadyChild<{ url: string; pid?: number }>;
  try {
    started = await awaitReady<{ url: string; pid?: number }>(spawnNode(here(script), { role, env }), READY_TIMEOUT_MS);
  } catch (error) {
    cleanup();
    throw error;
  }
  const { child, ready, output } = started;
  return {
    url: ready.url,
    pid: ready.pid ?? child.pid,
    output,
    async stop() {
      await stopChild(child);
      cleanup();
    },
  };
}

/** Baseline A: raw `node:http` answering `body`. */
export function startRawHttp(body: string): Promise<RunningServer> {
  return launch('./servers/raw-http.ts', { BENCH_BODY: body });
}

/** The fan-out floor: a bare `ws` server broadcasting each event to every subscription. */
export function startWsBroadcast(): Promise<RunningServer> {
  return launch('./servers/ws-broadcast.ts', {});
}

/** A throw-away ClickHouse server (its HTTP interface; `pid` is clickhouse-server's) over a temporary directory of its own, on `core`'s core. */
export function startClickHouseServer(core: Role = 'server'): Promise<RunningServer> {
  return launch('./servers/clickhouse.ts', {}, undefined, core);
}

/** Baseline B: plain Apollo Server over `databaseFile`, opened read-only. */
export function startPlainApollo(databaseFile: string): Promise<RunningServer> {
  return launch('./servers/plain-apollo.ts', { BENCH_DUCKDB_FILE: databaseFile });
}

/**
 * The gateway over a private copy of the demo database in `baseDir` (so what one scenario writes
 * never reaches the next), or over `baseDir` itself when `inPlace` (to build the data).
 */
export function startGateway(baseDir: string, env: Record<string, string>, options: { inPlace?: boolean } = {}): Promise<RunningServer> {
  if (options.inPlace) return launch('./servers/gateway.ts', { ...env, DATA_DIR: baseDir });
  const dir = copyDemoDatabase(baseDir);
  return launch('./servers/gateway.ts', { ...env, DATA_DIR: dir }, () => rmSync(dir, { recursive: true, force: true }));
}

/** Baseline C: mercurius with graphql-jit answering tour lists from memory (the catalogue of `databaseFile`). */
export function startMercuriusJit(databaseFile: string): Promise<RunningServer> {
  return launch('./servers/mercurius-jit.ts', { BENCH_DUCKDB_FILE: databaseFile });
}

/** A Trino coordinator (the protocol fixture) over a private copy of the demo database, each statement answering after `statementLatencyMs`. */
export function startTrinoCoordinator(baseDir: string, statementLatencyMs: number): Promise<RunningServer> {
  const dir = copyDemoDatabase(baseDir, 'trino-');
  return launch('./servers/trino-fixture.ts', { BENCH_DUCKDB_FILE: path.join(dir, DATABASE_FILE), BENCH_STATEMENT_LATENCY_MS: String(statementLatencyMs) }, () =>
    rmSync(dir, { recursive: true, force: true }),
  );
}

/** A new directory inside `baseDir` (so removing it removes every copy too) holding a copy of its demo database. */
export function copyDemoDatabase(baseDir: string, prefix = 'gateway-'): string {
  const dir = mkdtempSync(path.join(baseDir, prefix));
  // The WAL too, in case the build's stop did not get as far as its checkpoint.
  for (const file of [DATABASE_FILE, `${DATABASE_FILE}.wal`]) {
    if (existsSync(path.join(baseDir, file))) copyFileSync(path.join(baseDir, file), path.join(dir, file));
  }
  return dir;
}
