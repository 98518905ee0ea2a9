import { BackendError, type BackendRole, backendTimeout } from '../../errors.ts';
import { probeHealth } from '../health.ts';
import type { QueryOptions, SqlEngine, SqlRow, SqlValue } from '../sql/port.ts';
import type { DuckDbDatabase } from './database.ts';

/** Options of the DuckDB adapter of a SQL role. */
export interface DuckDbEngineOptions {
  /** The shared embedded database. Closed by whoever opened it, not by the engine. */
  database: DuckDbDatabase;
  /** Which role this engine serves (for errors and health). */
  role: BackendRole;
  /** Default time budget per query in ms. */
  timeoutMs: number;
}

/** The embedded adapter of the lakehouse and analytics roles. */
export function createDuckDbEngine(options: DuckDbEngineOptions): SqlEngine {
  const { database, role, timeoutMs } = options;
  const adapter = 'duckdb';
  return {
    role,
    adapter,
    dialect: 'duckdb',
    capabilities: { timeTravel: false },
    async query<R extends SqlRow>(sql: string, params: readonly SqlValue[] = [], queryOptions: QueryOptions = {}) {
      const budget = queryOptions.timeoutMs ?? timeoutMs;
      try {
        return await database.query<R>(sql, params, {
          timeoutMs: budget,
          ...(queryOptions.signal ? { signal: queryOptions.signal } : {}),
          onTimeout: () => backendTimeout(role, adapter, budget),
        });
      } catch (error) {
        if (error instanceof BackendError) throw error;
        throw new BackendError({ role, adapter, message: error instanceof Error ? error.message : String(error), cause: error });
      }
    },
    health: () => probeHealth(role, adapter, async () => {
      await database.query('SELECT 1', [], { timeoutMs: 2_000, onTimeout: () => backendTimeout(role, adapter, 2_000) });
    }),
    // The database is shared between roles; the process closes it once.
    close: async () => undefined,
  };
}
