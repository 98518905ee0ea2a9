import type { BackendRole } from '../errors.ts';
import type { SearchPort } from '../backends/search/port.ts';
import type { SqlEngine } from '../backends/sql/port.ts';

/** Per-request count and time of backend calls, by role (what the loader-batching test and the response extensions read). */
export class BackendCallLog {
  private readonly byRole = new Map<BackendRole, { adapter: string; calls: number; totalMs: number }>();

  record(role: BackendRole, adapter: string, durationMs: number): void {
    const entry = this.byRole.get(role) ?? { adapter, calls: 0, totalMs: 0 };
    entry.calls += 1;
    entry.totalMs += durationMs;
    this.byRole.set(role, entry);
  }

  /** Calls made, for one role or in all. */
  count(role?: BackendRole): number {
    if (role) return this.byRole.get(role)?.calls ?? 0;
    let total = 0;
    for (const entry of this.byRole.values()) total += entry.calls;
    return total;
  }

  /** `{ role: { adapter, calls, totalMs } }`, for response extensions. */
  summary(): Record<string, { adapter: string; calls: number; totalMs: number }> {
    return Object.fromEntries([...this.byRole].map(([role, e]) => [role, { ...e, totalMs: Math.round(e.totalMs * 100) / 100 }]));
  }
}

async function timed<T>(log: BackendCallLog, role: BackendRole, adapter: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await call();
  } finally {
    log.record(role, adapter, performance.now() - started);
  }
}

/** A view of `engine` that records every query in `log`. Cheap: built per request. */
export function instrumentSql(engine: SqlEngine, log: BackendCallLog): SqlEngine {
  return {
    role: engine.role,
    adapter: engine.adapter,
    dialect: engine.dialect,
    capabilities: engine.capabilities,
    query: (sql, params, options) => timed(log, engine.role, engine.adapter, () => engine.query(sql, params, options)),
    health: () => engine.health(),
    close: () => engine.close(),
  };
}

/** A view of `search` that records every search in `log`. */
export function instrumentSearch(search: SearchPort, log: BackendCallLog): SearchPort {
  return {
    adapter: search.adapter,
    searchTours: (request) => timed(log, 'search', search.adapter, () => search.searchTours(request)),
    searchEvents: (request) => timed(log, 'search', search.adapter, () => search.searchEvents(request)),
    indexTours: (tours, names) => search.indexTours(tours, names),
    health: () => search.health(),
    close: () => search.close(),
  };
}
