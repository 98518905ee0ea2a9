import type { Logger } from '../logger.ts';
import type { Principal } from '../security/principal.ts';
import type { OperationType } from './metrics.ts';

/**
 * What a request's execution revealed about its operation, filled in by the operation plugin
 * (a holder object: Apollo hands plugins a shallow copy of the context) and read when the
 * request's log line is written.
 */
export interface OperationObservation {
  /** The operation's name; null when anonymous or not parsed. */
  name: string | null;
  type: OperationType | null;
  /** `extensions.code` of each error the response carried, as sent. */
  errorCodes: string[];
}

/** A fresh observation for one request. */
export function newObservation(): OperationObservation {
  return { name: null, type: null, errorCodes: [] };
}

/** How the response cache took part in a request: `MISS` executed and stored, `BYPASS` executed and not cacheable. */
export type CacheResult = 'HIT' | 'COALESCED' | 'MISS' | 'BYPASS';

/** The fields of one request's log line. */
export interface RequestLogLine {
  requestId: string | undefined;
  /** Absent for answers replayed from the cache (nothing was parsed). */
  observed?: OperationObservation;
  /** The request's context, where the caller's principal is found once authentication has set it. */
  context?: object;
  status: number;
  cache: CacheResult;
  /** From the start of execution to the answer written; absent for replayed answers (not timed, to keep hits cheap). */
  durationMs?: number;
}

/**
 * Writes one executed request's line: request id, operation, principal, status, time, error
 * codes, cache result. Info level for executions; answers replayed from the cache are logged at
 * debug only (they are the gateway's fastest path, benchmarked near 20k requests/s, and a line
 * each would cost a measurable share of it); the hit path checks that level once, at start-up.
 * 5xx answers at warn.
 */
export function logRequest(logger: Logger, line: RequestLogLine): void {
  const level = line.cache === 'HIT' || line.cache === 'COALESCED' ? 'debug' : line.status >= 500 ? 'warn' : 'info';
  // Nothing is built for a line the level drops (benchmarks run at warn).
  if (!logger.isLevelEnabled(level)) return;
  const { observed } = line;
  const principal = line.context ? principalOf(line.context) : undefined;
  const fields = {
    requestId: line.requestId,
    operationName: observed?.name ?? null,
    operationType: observed?.type ?? null,
    ...(principal ? { principal: { id: principal.id, role: principal.role } } : {}),
    status: line.status,
    ...(line.durationMs === undefined ? {} : { durationMs: Math.round(line.durationMs * 100) / 100 }),
    cache: line.cache,
    ...(observed && observed.errorCodes.length > 0 ? { errorCodes: observed.errorCodes } : {}),
  };
  logger[level](fields, 'graphql request');
}

/** The principal authentication put on a context, if any (requests of an open gateway may carry none). */
export function principalOf(context: object): Principal | undefined {
  const principal = (context as { principal?: Principal | null }).principal;
  return principal ?? undefined;
}
