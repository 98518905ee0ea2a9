import type { Attributes, Tracer } from '@opentelemetry/api';
import { ATTR_DB_OPERATION_NAME, ATTR_DB_QUERY_TEXT, ATTR_DB_SYSTEM_NAME } from '@opentelemetry/semantic-conventions';
import { BackendError, type BackendRole } from '../errors.ts';
import type { SearchPort } from '../backends/search/port.ts';
import type { SqlEngine } from '../backends/sql/port.ts';
import { statementText, traceBackendCall } from './tracing.ts';

/** How a backend call ended, as metrics label it. */
export type BackendCallOutcome = 'ok' | 'error' | 'timeout';

/** A gateway's backend-call metrics: recorders pre-bound to one role and adapter (made once, reused by every request). */
export interface BackendCallMetrics {
  backendCalls(role: BackendRole, adapter: string): { record(durationMs: number, outcome: BackendCallOutcome): void };
}

/** What sees backend calls beyond the request's own log: the gateway's metrics and tracer, when it has them. */
export interface BackendCallObservers {
  metrics?: BackendCallMetrics | undefined;
  tracer?: Tracer | undefined;
}

/** Per-request count and time of backend calls, by role (what the loader-batching test and the response extensions read). */
export class BackendCallLog {
  // Made on the first call: a subscriber's context that never executes keeps no empty map.
  private byRole: Map<BackendRole, { adapter: string; calls: number; totalMs: number }> | undefined = undefined;

  /** One call of `role` (or `count` calls: 0 adds time to the role without another call). */
  record(role: BackendRole, adapter: string, durationMs: number, count = 1): void {
    const byRole = (this.byRole ??= new Map());
    const entry = byRole.get(role) ?? { adapter, calls: 0, totalMs: 0 };
    // One role answered by two adapters in a request (the catalogue replica and the lakehouse): both named.
    if (entry.adapter !== adapter && !entry.adapter.split('+').includes(adapter)) entry.adapter = `${entry.adapter}+${adapter}`;
    entry.calls += count;
    entry.totalMs += durationMs;
    byRole.set(role, entry);
  }

  /** Calls made, for one role or in all. */
  count(role?: BackendRole): number {
    if (!this.byRole) return 0;
    if (role) return this.byRole.get(role)?.calls ?? 0;
    let total = 0;
    for (const entry of this.byRole.values()) total += entry.calls;
    return total;
  }

  /** `{ role: { adapter, calls, totalMs } }`, for response extensions. */
  summary(): Record<string, { adapter: string; calls: number; totalMs: number }> {
    if (!this.byRole) return {};
    return Object.fromEntries([...this.byRole].map(([role, e]) => [role, { ...e, totalMs: Math.round(e.totalMs * 100) / 100 }]));
  }
}

const NO_ATTRIBUTES: Attributes = {};
const SEARCH_TOURS: Attributes = { [ATTR_DB_OPERATION_NAME]: 'searchTours' };
const SEARCH_EVENTS: Attributes = { [ATTR_DB_OPERATION_NAME]: 'searchEvents' };

/** Where one instrumented port records its calls: made once per port and request. */
interface CallSite {
  log: BackendCallLog;
  role: BackendRole;
  adapter: string;
  recorder: ReturnType<BackendCallMetrics['backendCalls']> | undefined;
  tracer: Tracer | undefined;
}

function callSite(log: BackendCallLog, role: BackendRole, adapter: string, observers: BackendCallObservers): CallSite {
  return { log, role, adapter, recorder: observers.metrics?.backendCalls(role, adapter), tracer: observers.tracer };
}

/** One call: timed into the request's log and the gateway's metrics, in a client span when tracing. */
function timed<T>(site: CallSite, spanAttributes: Attributes, call: () => Promise<T>): Promise<T> {
  if (!site.tracer) return measured(site, call);
  const attributes = { [ATTR_DB_SYSTEM_NAME]: site.adapter, 'nexus.backend.role': site.role, ...spanAttributes };
  return traceBackendCall(site.tracer, `${site.role} ${site.adapter}`, attributes, () => measured(site, call));
}

async function measured<T>(site: CallSite, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let outcome: BackendCallOutcome = 'ok';
  try {
    return await call();
  } catch (error) {
    outcome = error instanceof BackendError && error.timedOut ? 'timeout' : 'error';
    throw error;
  } finally {
    const durationMs = performance.now() - started;
    site.log.record(site.role, site.adapter, durationMs);
    site.recorder?.record(durationMs, outcome);
  }
}

/**
 * A view of `engine` that records every query in `log` (and in the gateway's metrics and traces,
 * when `observers` has them). Cheap: built per request; the metric recorders are pre-bound.
 */
export function instrumentSql(engine: SqlEngine, log: BackendCallLog, observers: BackendCallObservers = {}): SqlEngine {
  const site = callSite(log, engine.role, engine.adapter, observers);
  return {
    role: engine.role,
    adapter: engine.adapter,
    dialect: engine.dialect,
    capabilities: engine.capabilities,
    // The statement carries `?` placeholders only: bound values never reach a span.
    query: (sql, params, options) =>
      timed(site, site.tracer ? { [ATTR_DB_QUERY_TEXT]: statementText(sql) } : NO_ATTRIBUTES, () => engine.query(sql, params, options)),
    health: () => engine.health(),
    close: () => engine.close(),
  };
}

/** A view of `search` that records every search in `log` (and in the gateway's metrics and traces). */
export function instrumentSearch(search: SearchPort, log: BackendCallLog, observers: BackendCallObservers = {}): SearchPort {
  const site = callSite(log, 'search', search.adapter, observers);
  return {
    adapter: search.adapter,
    // The search text is a user's value: spans name the operation only.
    searchTours: (request) => timed(site, SEARCH_TOURS, () => search.searchTours(request)),
    searchEvents: (request) => timed(site, SEARCH_EVENTS, () => search.searchEvents(request)),
    indexTours: (tours, names) => search.indexTours(tours, names),
    health: () => search.health(),
    close: () => search.close(),
  };
}
