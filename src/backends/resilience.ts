import CircuitBreaker from 'opossum';
import { BackendError, type BackendRole } from '../errors.ts';
import type { BusPort } from './bus/port.ts';
import type { BackendHealth } from './health.ts';
import type { SearchPort } from './search/port.ts';
import type { SqlEngine } from './sql/port.ts';

/**
 * Resilience of one backend role: a budget per call, retries of idempotent reads after transient
 * failures, and a circuit breaker (opossum) that fails calls fast while the backend keeps failing.
 *
 * - The budget is handed down to the adapter (`QueryOptions.timeoutMs`), which cancels the work
 *   when it runs out; no second timer races it here. Retries share the one budget.
 * - Only reads are retried (SQL that only reads, searches, bus replays), only after a failure in
 *   transport (refused or reset connection: see `isTransient`), never after a timeout (a retried
 *   slow query doubles the load on a struggling backend), never after an error of the request.
 *   Delays are "full jitter" (uniform in [0, base·2^n)), so clients retrying after one blip do
 *   not come back in lockstep.
 * - The breaker counts backend failures (`BackendError`, timeouts included) per role over a
 *   rolling window. Errors of the request (GraphQL `BAD_USER_INPUT`, a bad cursor, a bug of ours
 *   caught before anything was sent) and calls its caller aborted do not count. Once open, calls
 *   fail at once with a `BackendError` ("circuit open"), which the gateway turns into
 *   `BACKEND_UNAVAILABLE` on the fields of that role only; after `resetTimeoutMs` one trial call
 *   goes through (half-open): success closes the breaker, failure opens it again.
 * - Health probes bypass the breaker (they must see the backend come back); the role's health
 *   entry says when the breaker is open.
 */

/** The tunables of one role (config: BACKEND_RETRIES, BACKEND_RETRY_DELAY_MS, BREAKER_*). */
export interface ResiliencePolicy {
  /** Budget of one call, all its attempts together, in ms (the adapter cancels at the end of it). */
  timeoutMs: number;
  /** Further attempts of an idempotent read after a transient failure. 0 turns retries off. */
  retries: number;
  /** Base of the full-jitter backoff: the n-th retry waits uniformly in [0, base·2^(n-1)) ms. */
  retryDelayMs: number;
  /** The breaker opens when more than this percentage of the calls in the window failed. */
  errorThresholdPercent: number;
  /** Calls the window must hold before the breaker may open (a few failures alone never open it). */
  volumeThreshold: number;
  /** How long an open breaker fails fast before it lets one trial call through, in ms. */
  resetTimeoutMs: number;
  /** Length of the rolling window of call outcomes, in ms. */
  windowMs: number;
}

/** Breaker states, as health and logs name them. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** Options of `createBackendGuard`. */
export interface BackendGuardOptions {
  role: BackendRole;
  adapter: string;
  policy: ResiliencePolicy;
  /** Told of every breaker transition (logs). */
  onStateChange?: (state: BreakerState, detail: { role: BackendRole; adapter: string; reason: string | null }) => void;
  /** Uniform random numbers in [0, 1) for the jitter. Default `Math.random` (tests pass their own). */
  random?: () => number;
  /** Waits `ms` (the retry delay). Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** How one call may be handled. */
export interface GuardedCall {
  /** Whether the call only reads (and may be retried). A function so the check runs only after a failure. */
  idempotent: boolean | (() => boolean);
  /** The caller's budget, when it set one; default the policy's. */
  timeoutMs?: number | undefined;
  /** The caller's abort signal: an aborted call is never retried and never counts as a backend failure. */
  signal?: AbortSignal | undefined;
}

/** Timeouts, retries and the circuit breaker of one role. */
export interface BackendGuard {
  readonly role: BackendRole;
  readonly adapter: string;
  readonly state: BreakerState;
  /** Runs `attempt` (given its budget in ms) through the breaker, retrying a read after transient failures. */
  run<T>(attempt: (budgetMs: number) => Promise<T>, call: GuardedCall): Promise<T>;
  /** The adapter's health probe, with the breaker's state folded in (an open breaker is never `OK`). */
  health(probe: BackendHealth): BackendHealth;
  /** Stops the breaker's timers. Idempotent. */
  close(): void;
}

/** Node, undici and HTTP failures after which a read may be sent again: the request never got an answer. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TRANSIENT_STATUS = new Set([502, 503]);

/**
 * A backend failure worth one more attempt: a `BackendError` that is not a timeout, caused by a
 * connection that was refused or dropped (or a gateway in front saying so). Errors the backend
 * answered with (a SQL error, a missing table) would fail the same way again.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof BackendError) || error.timedOut) return false;
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 6 && typeof cause === 'object' && cause !== null; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    const status = (cause as { statusCode?: unknown; status?: unknown }).statusCode ?? (cause as { status?: unknown }).status;
    if (typeof status === 'number' && TRANSIENT_STATUS.has(status)) return true;
    const inner = (cause as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner.some((e) => typeof (e as { code?: unknown })?.code === 'string' && TRANSIENT_CODES.has((e as { code: string }).code))) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/** Whether a failure says something about the backend's health (what the breaker counts). */
export function isBackendFailure(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return false; // the caller went away; the backend may be fine
  // A statement stopped at a ceiling its caller set was too big, not the backend unwell.
  return error instanceof BackendError && !error.limitExceeded;
}

/** SQL that cannot change anything: a query (SELECT, WITH … SELECT, SHOW, DESCRIBE, EXPLAIN, VALUES). */
export function isReadOnlySql(sql: string): boolean {
  const text = sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)+/, '');
  if (!/^\(*\s*(?:SELECT|WITH|SHOW|DESCRIBE|EXPLAIN|VALUES|TABLE)\b/i.test(text)) return false;
  // A CTE may lead into a write in some dialects; a string literal that happens to hold one of
  // these words only costs the retry.
  return !/\b(?:INSERT|UPDATE|DELETE|MERGE|UPSERT|CREATE|DROP|ALTER|TRUNCATE|COPY|ATTACH|DETACH|GRANT|REVOKE|CALL|SET)\b/i.test(text);
}

/** The delay before retry number `retry` (1-based): uniform in [0, base·2^(retry-1)). */
export function retryDelay(retry: number, baseMs: number, random: () => number): number {
  return Math.floor(random() * baseMs * 2 ** (retry - 1));
}

const sleepFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the guard of one role (one breaker for every call of that role). */
export function createBackendGuard(options: BackendGuardOptions): BackendGuard {
  const { role, adapter, policy } = options;
  validate(policy);
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepFor;
  const breaker = new CircuitBreaker<[() => Promise<unknown>, AbortSignal | undefined], unknown>((work) => work(), {
    name: role,
    // The adapters enforce the budget and cancel the work; opossum's timer would only race them.
    timeout: false,
    errorThresholdPercentage: policy.errorThresholdPercent,
    volumeThreshold: policy.volumeThreshold,
    resetTimeout: policy.resetTimeoutMs,
    rollingCountTimeout: policy.windowMs,
    rollingCountBuckets: 10,
    // Latency percentiles and snapshot events are not read: cheaper without them.
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
    // A filtered error counts as a success: the backend answered (the request was wrong).
    // opossum passes fire()'s arguments after the error: the work, then the caller's signal.
    errorFilter: (error: unknown, ...args: unknown[]) => !isBackendFailure(error, args[1] as AbortSignal | undefined),
  });
  let openedAt: Date | undefined;
  let lastFailure: string | null = null;
  breaker.on('failure', (error: unknown) => {
    lastFailure = error instanceof Error ? error.message : String(error);
  });
  breaker.on('open', () => {
    openedAt = new Date();
    options.onStateChange?.('open', { role, adapter, reason: lastFailure });
  });
  breaker.on('halfOpen', () => options.onStateChange?.('halfOpen', { role, adapter, reason: null }));
  breaker.on('close', () => {
    openedAt = undefined;
    options.onStateChange?.('closed', { role, adapter, reason: null });
  });

  const state = (): BreakerState => (breaker.opened ? 'open' : breaker.halfOpen ? 'halfOpen' : 'closed');

  function fire<T>(work: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return (breaker.fire(work, signal) as Promise<T>).catch((error: unknown) => {
      if (CircuitBreaker.isOurError(error as Error)) {
        throw new BackendError({
          role,
          adapter,
          message: breaker.isShutdown ? 'closed' : `circuit open after repeated failures (last: ${lastFailure ?? 'unknown'}); failing fast`,
          cause: error,
        });
      }
      throw error;
    });
  }

  return {
    role,
    adapter,
    get state() {
      return state();
    },
    async run(attempt, call) {
      const budget = call.timeoutMs ?? policy.timeoutMs;
      if (policy.retries === 0) return fire(() => attempt(budget), call.signal);
      const deadline = performance.now() + budget;
      for (let retry = 0; ; retry += 1) {
        const remaining = retry === 0 ? budget : Math.floor(deadline - performance.now());
        try {
          return await fire(() => attempt(remaining), call.signal);
        } catch (error) {
          if (retry >= policy.retries || call.signal?.aborted || !isTransient(error)) throw error;
          if (!(typeof call.idempotent === 'function' ? call.idempotent() : call.idempotent)) throw error;
          const delay = retryDelay(retry + 1, policy.retryDelayMs, random);
          // A retry that could not get a useful share of the budget is not worth sending.
          if (deadline - performance.now() - delay < Math.min(budget / 4, 100)) throw error;
          await sleep(delay);
          if (call.signal?.aborted) throw error;
        }
      }
    },
    health(probe) {
      const current = state();
      if (current !== 'open') return probe;
      const stats = breaker.stats;
      const reason =
        `circuit open since ${openedAt?.toISOString() ?? 'start'}: ${stats.failures} of ${stats.fires} calls failed in the last ` +
        `${policy.windowMs} ms (last: ${lastFailure ?? 'unknown'}); calls fail fast, one trial call every ${policy.resetTimeoutMs} ms`;
      return { ...probe, status: probe.status === 'DOWN' ? 'DOWN' : 'DEGRADED', error: probe.error ? `${probe.error}; ${reason}` : reason };
    },
    close() {
      if (!breaker.isShutdown) breaker.shutdown();
    },
  };
}

function validate(policy: ResiliencePolicy): void {
  const problems: string[] = [];
  const check = (name: keyof ResiliencePolicy, ok: (value: number) => boolean, expected: string) => {
    if (!ok(policy[name])) problems.push(`${name} must be ${expected}, got ${policy[name]}`);
  };
  check('timeoutMs', (v) => v > 0, 'a positive number of ms');
  check('retries', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  check('retryDelayMs', (v) => v >= 0, 'a number of ms ≥ 0');
  check('errorThresholdPercent', (v) => v > 0 && v <= 100, 'a percentage in (0, 100]');
  check('volumeThreshold', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  check('resetTimeoutMs', (v) => v > 0, 'a positive number of ms');
  check('windowMs', (v) => v > 0, 'a positive number of ms');
  if (problems.length > 0) throw new RangeError(`createBackendGuard: ${problems.join('; ')}`);
}

/**
 * The SQL engine with `guard` around `query`: reads are retried, every statement goes through the
 * breaker, the budget is handed down. Everything else the engine offers (ClickHouse's `insert`,
 * `command`) stays as it was; its health probe bypasses the breaker.
 */
export function guardSqlEngine<E extends SqlEngine>(engine: E, guard: BackendGuard): E {
  const guarded: Pick<SqlEngine, 'query' | 'health' | 'close'> = {
    query: (sql, params, options) =>
      guard.run((timeoutMs) => engine.query(sql, params, options ? { ...options, timeoutMs } : { timeoutMs }), {
        idempotent: () => isReadOnlySql(sql),
        timeoutMs: options?.timeoutMs,
        signal: options?.signal,
      }),
    health: async () => guard.health(await engine.health()),
    close: async () => {
      guard.close();
      await engine.close();
    },
  };
  return { ...engine, ...guarded };
}

/** The search port with `guard` around its calls: searches are reads (retried); indexing is not. */
export function guardSearch(search: SearchPort, guard: BackendGuard): SearchPort {
  const { indexEvents } = search;
  return {
    ...search,
    searchTours: (request) => guard.run(() => search.searchTours(request), { idempotent: true }),
    searchEvents: (request) => guard.run(() => search.searchEvents(request), { idempotent: true }),
    indexTours: (tours, names) => guard.run(() => search.indexTours(tours, names), { idempotent: false }),
    ...(indexEvents ? { indexEvents: (events) => guard.run(() => indexEvents.call(search, events), { idempotent: false }) } : {}),
    health: async () => guard.health(await search.health()),
    close: async () => {
      guard.close();
      await search.close();
    },
  };
}

/**
 * The bus with `guard` around publish and replay. A publish is never retried here (the adapter
 * owns the exactly-once rules: idempotency keys); replays are reads. `tail` is a subscription,
 * not a call, and passes through.
 */
export function guardBus<B extends BusPort>(bus: B, guard: BackendGuard): B {
  const guarded: Pick<BusPort, 'publish' | 'readAfter' | 'health' | 'close'> = {
    publish: (records) => guard.run(() => bus.publish(records), { idempotent: false }),
    readAfter: (cursor, limit) => guard.run(() => bus.readAfter(cursor, limit), { idempotent: true }),
    health: async () => guard.health(await bus.health()),
    close: async () => {
      guard.close();
      await bus.close();
    },
  };
  return { ...bus, ...guarded };
}
