import { describe, expect, it } from 'vitest';
import type { BusPort, BusRecord, PublishAck } from '../src/backends/bus/port.ts';
import type { BackendHealth } from '../src/backends/health.ts';
import {
  createBackendGuard,
  guardBus,
  guardSearch,
  guardSqlEngine,
  isReadOnlySql,
  isTransient,
  retryDelay,
  type BackendGuard,
  type BreakerState,
  type ResiliencePolicy,
} from '../src/backends/resilience.ts';
import type { SearchPort, TourSearchResult } from '../src/backends/search/port.ts';
import type { QueryOptions, SqlEngine, SqlRow } from '../src/backends/sql/port.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { BackendError, backendTimeout, userInputError } from '../src/errors.ts';

const POLICY: ResiliencePolicy = {
  timeoutMs: 1_000,
  retries: 2,
  retryDelayMs: 50,
  errorThresholdPercent: 50,
  volumeThreshold: 4,
  resetTimeoutMs: 20,
  windowMs: 10_000,
};

/** A refused connection, as the ClickHouse and Trino adapters report it. */
const refused = (role: 'analytics' | 'search' | 'bus' = 'analytics') =>
  new BackendError({ role, adapter: 'fake', message: 'connect ECONNREFUSED 127.0.0.1:8123', cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
/** An error the backend answered with: sending the statement again fails the same way. */
const syntaxError = () => new BackendError({ role: 'analytics', adapter: 'fake', message: 'Syntax error at position 7' });

const healthy: BackendHealth = { role: 'analytics', adapter: 'fake', status: 'OK', latencyMs: 1, error: null };

/** A SQL engine whose answers the test scripts, recording each call. */
function fakeEngine(answer: (call: number, sql: string, options: QueryOptions | undefined) => Promise<SqlRow[]>) {
  const calls: { sql: string; options: QueryOptions | undefined }[] = [];
  let probe: BackendHealth = healthy;
  const engine: SqlEngine & { insertRows: () => string } = {
    role: 'analytics',
    adapter: 'fake',
    dialect: 'duckdb',
    capabilities: { timeTravel: false },
    async query<R extends SqlRow>(sql: string, _params?: unknown, options?: QueryOptions) {
      calls.push({ sql, options });
      return (await answer(calls.length, sql, options)) as R[];
    },
    health: async () => probe,
    close: async () => undefined,
    insertRows: () => 'an ability of this adapter only',
  };
  return { engine, calls, setProbe: (next: BackendHealth) => (probe = next) };
}

/** A guard with a recorded (instant) sleep and a fixed random, plus its state changes as awaitable events. */
function guardFor(policy: Partial<ResiliencePolicy> = {}, random = () => 0.5) {
  const delays: number[] = [];
  const waiters: { state: BreakerState; resolve: () => void }[] = [];
  const guard = createBackendGuard({
    role: 'analytics',
    adapter: 'fake',
    policy: { ...POLICY, ...policy },
    random,
    sleep: async (ms) => {
      delays.push(ms);
    },
    onStateChange: (state) => {
      for (const waiter of waiters.filter((w) => w.state === state)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    },
  });
  const next = (state: BreakerState) => new Promise<void>((resolve) => waiters.push({ state, resolve }));
  return { guard, delays, next };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('retries', () => {
  it('retries a read after a refused connection, with the budget handed down to each attempt', async () => {
    const { engine, calls } = fakeEngine(async (call) => {
      if (call === 1) throw refused();
      return [{ n: 1 }];
    });
    const { guard, delays } = guardFor();
    const guarded = guardSqlEngine(engine, guard);
    expect(await guarded.query('SELECT 1 AS n')).toEqual([{ n: 1 }]);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.options?.timeoutMs).toBe(1_000);
    expect(calls[1]!.options?.timeoutMs).toBeLessThanOrEqual(1_000);
    expect(delays).toEqual([25]); // random 0.5 × base 50 × 2^0
  });

  it('keeps the caller’s own budget and signal', async () => {
    const { engine, calls } = fakeEngine(async () => [{ n: 1 }]);
    const signal = new AbortController().signal;
    await guardSqlEngine(engine, guardFor().guard).query('SELECT 1', [], { timeoutMs: 300, signal });
    expect(calls[0]!.options).toEqual({ timeoutMs: 300, signal });
  });

  it('gives up after `retries` further attempts and reports the last failure', async () => {
    const { engine, calls } = fakeEngine(async () => {
      throw refused();
    });
    const { guard, delays } = guardFor({ retries: 2, volumeThreshold: 100 });
    const error = await failure(guardSqlEngine(engine, guard).query('SELECT 1'));
    expect(error).toBeInstanceOf(BackendError);
    expect(calls).toHaveLength(3);
    expect(delays).toEqual([25, 50]);
  });

  it('draws each delay uniformly below base·2^(n-1) (full jitter)', async () => {
    for (const random of [() => 0, () => 0.25, () => 0.999999]) {
      const { engine } = fakeEngine(async () => {
        throw refused();
      });
      const { guard, delays } = guardFor({ retries: 3, retryDelayMs: 40, volumeThreshold: 100 }, random);
      await failure(guardSqlEngine(engine, guard).query('SELECT 1'));
      expect(delays).toHaveLength(3);
      delays.forEach((delay, i) => {
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(40 * 2 ** i);
      });
    }
    expect(retryDelay(1, 50, () => 0.999999)).toBe(49);
    expect(retryDelay(3, 50, () => 0.5)).toBe(100);
  });

  it('never retries a statement that writes', async () => {
    const { engine, calls } = fakeEngine(async () => {
      throw refused();
    });
    const guarded = guardSqlEngine(engine, guardFor({ volumeThreshold: 100 }).guard);
    await failure(guarded.query('INSERT INTO analytics.events SELECT * FROM staging'));
    await failure(guarded.query('WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)'));
    expect(calls).toHaveLength(2);
  });

  it('never retries a timeout, an error the backend answered with, or an error of the request', async () => {
    const errors = [backendTimeout('analytics', 'fake', 1_000), syntaxError(), userInputError('bad asOf', { argumentName: 'asOf' })];
    for (const thrown of errors) {
      const { engine, calls } = fakeEngine(async () => {
        throw thrown;
      });
      expect(await failure(guardSqlEngine(engine, guardFor({ volumeThreshold: 100 }).guard).query('SELECT 1'))).toBe(thrown);
      expect(calls).toHaveLength(1);
    }
  });

  it('does not retry a call its caller aborted', async () => {
    const controller = new AbortController();
    const { engine, calls } = fakeEngine(async () => {
      controller.abort();
      throw refused();
    });
    await failure(guardSqlEngine(engine, guardFor().guard).query('SELECT 1', [], { signal: controller.signal }));
    expect(calls).toHaveLength(1);
  });

  it('retries searches and bus replays, never indexing or a publish', async () => {
    let failNext = true;
    const flaky = async <T>(value: T, role: 'search' | 'bus'): Promise<T> => {
      if (failNext) {
        failNext = false;
        throw refused(role);
      }
      return value;
    };
    const counts = { searchTours: 0, indexTours: 0, publish: 0, readAfter: 0 };
    const result: TourSearchResult = { hits: [], total: 0, facets: { regions: [], categories: [], priceRanges: [] }, hasNextPage: false };
    const search = guardSearch(
      {
        adapter: 'fake',
        searchTours: () => (counts.searchTours++, flaky(result, 'search')),
        searchEvents: async () => ({ rows: [], total: 0, hasNextPage: false }),
        indexTours: () => (counts.indexTours++, flaky(undefined, 'search')),
        health: async () => ({ ...healthy, role: 'search' }),
        close: async () => undefined,
      } satisfies SearchPort,
      createBackendGuard({ role: 'search', adapter: 'fake', policy: POLICY, sleep: async () => undefined }),
    );
    expect(await search.searchTours({ query: 'x', first: 1, offset: 0 })).toBe(result);
    expect(counts.searchTours).toBe(2);
    failNext = true;
    await failure(search.indexTours([], new Map()));
    expect(counts.indexTours).toBe(1);

    const bus = guardBus(fakeBus(counts, flaky), createBackendGuard({ role: 'bus', adapter: 'fake', policy: POLICY, sleep: async () => undefined }));
    failNext = true;
    await failure(bus.publish([record()]));
    expect(counts.publish).toBe(1);
    failNext = true;
    expect(await bus.readAfter(bus.startCursor, 10)).toEqual([]);
    expect(counts.readAfter).toBe(2);
  });
});

describe('circuit breaker', () => {
  it('opens after the volume threshold, then fails fast without calling the backend', async () => {
    const { engine, calls } = fakeEngine(async () => {
      throw syntaxError();
    });
    const { guard, next } = guardFor({ volumeThreshold: 4, resetTimeoutMs: 60_000 });
    const guarded = guardSqlEngine(engine, guard);
    const opened = next('open');
    for (let i = 0; i < 4; i += 1) await failure(guarded.query('SELECT broken'));
    await opened;
    expect(guard.state).toBe('open');
    expect(calls).toHaveLength(4);

    const fast = await failure(guarded.query('SELECT 1'));
    expect(fast).toBeInstanceOf(BackendError);
    expect((fast as BackendError).role).toBe('analytics');
    expect((fast as BackendError).timedOut).toBe(false);
    expect((fast as BackendError).message).toMatch(/circuit open/);
    expect(calls).toHaveLength(4); // the backend saw nothing more
    guard.close();
  });

  it('does not open below the volume threshold or the error percentage', async () => {
    let call = 0;
    const { engine } = fakeEngine(async () => {
      call += 1;
      if (call % 2 === 0) throw syntaxError();
      return [];
    });
    const { guard } = guardFor({ volumeThreshold: 4 });
    const guarded = guardSqlEngine(engine, guard);
    for (let i = 0; i < 20; i += 1) await guarded.query('SELECT 1').catch(() => undefined);
    // Exactly half failed: the breaker opens only above 50%.
    expect(guard.state).toBe('closed');
    guard.close();
  });

  it('lets one trial call through when half-open: success closes it, failure opens it again', async () => {
    let broken = true;
    let release: (() => void) | undefined;
    const { engine, calls } = fakeEngine(async () => {
      if (release) await new Promise<void>((resolve) => (release = resolve));
      if (broken) throw syntaxError();
      return [{ ok: 1 }];
    });
    const { guard, next } = guardFor({ volumeThreshold: 2, resetTimeoutMs: 20 });
    const guarded = guardSqlEngine(engine, guard);
    let halfOpen = next('halfOpen');
    for (let i = 0; i < 2; i += 1) await failure(guarded.query('SELECT 1'));
    expect(guard.state).toBe('open');

    // The trial fails: open again, and again half-open after the reset time.
    await halfOpen;
    const reopened = next('open');
    halfOpen = next('halfOpen');
    await failure(guarded.query('SELECT 1'));
    await reopened;
    await halfOpen;

    // The backend is back. While the trial runs, other calls still fail fast.
    broken = false;
    release = () => undefined;
    const closed = next('closed');
    const trial = guarded.query('SELECT 1');
    const before = calls.length;
    expect((await failure(guarded.query('SELECT 1')) as Error).message).toMatch(/circuit open/);
    expect(calls.length).toBe(before);
    release();
    release = undefined;
    expect(await trial).toEqual([{ ok: 1 }]);
    await closed;
    expect(guard.state).toBe('closed');
    expect(await guarded.query('SELECT 1')).toEqual([{ ok: 1 }]);
    guard.close();
  });

  it('does not count errors of the request, nor calls their caller aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    let thrown: () => Error = () => userInputError('"junk" is not a position on this event bus', { argumentName: 'fromOffset' });
    const { engine, calls } = fakeEngine(async () => {
      throw thrown();
    });
    const { guard } = guardFor({ volumeThreshold: 2 });
    const guarded = guardSqlEngine(engine, guard);
    for (let i = 0; i < 10; i += 1) await failure(guarded.query('SELECT 1'));
    thrown = () => new BackendError({ role: 'analytics', adapter: 'fake', message: 'the query was aborted by its caller' });
    for (let i = 0; i < 10; i += 1) await failure(guarded.query('SELECT 1', [], { signal: controller.signal }));
    thrown = () => new TypeError('a bug of ours, caught before anything was sent');
    for (let i = 0; i < 10; i += 1) await failure(guarded.query('SELECT 1'));
    expect(guard.state).toBe('closed');
    expect(calls).toHaveLength(30);
    guard.close();
  });

  it('counts timeouts', async () => {
    const { engine } = fakeEngine(async () => {
      throw backendTimeout('analytics', 'fake', 1_000);
    });
    const { guard, next } = guardFor({ volumeThreshold: 3, resetTimeoutMs: 60_000 });
    const opened = next('open');
    for (let i = 0; i < 3; i += 1) await failure(guardSqlEngine(engine, guard).query('SELECT 1'));
    await opened;
    guard.close();
  });

  it('a bad replay cursor on the bus does not trip its breaker', async () => {
    const counts = { publish: 0, readAfter: 0 };
    const port: BusPort = {
      ...fakeBus(counts, async (value) => value),
      readAfter: async () => {
        counts.readAfter += 1;
        throw userInputError('"junk" is not a position on this event bus', { argumentName: 'fromOffset' });
      },
    };
    const bus = guardBus(
      port,
      createBackendGuard({ role: 'bus', adapter: 'fake', policy: { ...POLICY, volumeThreshold: 2 } }),
    );
    for (let i = 0; i < 10; i += 1) expect((await failure(bus.readAfter('junk', 1)) as { extensions: { code: string } }).extensions.code).toBe('BAD_USER_INPUT');
    expect(counts.readAfter).toBe(10);
    expect(await bus.publish([record()])).toHaveLength(1);
    await bus.close();
  });
});

describe('health', () => {
  it('reports the adapter’s probe while closed, and names the open breaker otherwise', async () => {
    const { engine, setProbe } = fakeEngine(async () => {
      throw syntaxError();
    });
    const { guard, next } = guardFor({ volumeThreshold: 2, resetTimeoutMs: 60_000 });
    const guarded = guardSqlEngine(engine, guard);
    expect(await guarded.health()).toEqual(healthy);

    const opened = next('open');
    for (let i = 0; i < 2; i += 1) await failure(guarded.query('SELECT 1'));
    await opened;
    const degraded = await guarded.health();
    expect(degraded.status).toBe('DEGRADED');
    expect(degraded.error).toMatch(/^circuit open since .*: 2 of 2 calls failed .*Syntax error at position 7/);

    setProbe({ ...healthy, status: 'DOWN', error: 'connect ECONNREFUSED' });
    const down = await guarded.health();
    expect(down.status).toBe('DOWN');
    expect(down.error).toMatch(/^connect ECONNREFUSED; circuit open/);
    guard.close();
  });
});

describe('wrapping', () => {
  it('keeps the abilities of the adapter beyond the port', () => {
    const { engine } = fakeEngine(async () => []);
    const guarded = guardSqlEngine(engine, guardFor().guard);
    expect(guarded.insertRows()).toBe('an ability of this adapter only');
    expect(guarded.adapter).toBe('fake');
  });

  it('refuses a policy it cannot run, naming each bad value', () => {
    expect(() => createBackendGuard({ role: 'analytics', adapter: 'fake', policy: { ...POLICY, retries: -1, errorThresholdPercent: 0 } })).toThrow(
      /retries must be an integer ≥ 0, got -1; errorThresholdPercent must be a percentage in \(0, 100\], got 0/,
    );
  });

  it('fails every call with a clear error once closed', async () => {
    const { engine } = fakeEngine(async () => []);
    const guard: BackendGuard = guardFor().guard;
    const guarded = guardSqlEngine(engine, guard);
    await guarded.close();
    expect((await failure(guarded.query('SELECT 1')) as Error).message).toBe('analytics (fake): closed');
  });
});

describe('classification', () => {
  it('tells reads from writes', () => {
    for (const sql of ['SELECT 1', '  select * from t', '-- note\nSELECT 1', '/* hint */ WITH x AS (SELECT 1) SELECT * FROM x', '(SELECT 1) UNION ALL (SELECT 2)', 'SHOW TABLES', 'DESCRIBE t']) {
      expect(isReadOnlySql(sql), sql).toBe(true);
    }
    for (const sql of ['INSERT INTO t VALUES (1)', 'CREATE TABLE t (a INT)', 'WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', 'DELETE FROM t', 'KILL QUERY WHERE 1', 'SET x = 1']) {
      expect(isReadOnlySql(sql), sql).toBe(false);
    }
  });

  it('retries only refused or dropped connections, never timeouts', () => {
    expect(isTransient(refused())).toBe(true);
    const reset = new BackendError({ role: 'lakehouse', adapter: 'trino', message: 'fetch failed', cause: new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }) });
    expect(isTransient(reset)).toBe(true);
    expect(isTransient(new BackendError({ role: 'search', adapter: 'es', message: 'HTTP 503', cause: Object.assign(new Error('unavailable'), { statusCode: 503 }) }))).toBe(true);
    expect(isTransient(backendTimeout('analytics', 'clickhouse', 10))).toBe(false);
    expect(isTransient(syntaxError())).toBe(false);
    expect(isTransient(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false); // not a BackendError
  });
});

let sequence = 0;
function record(): BusRecord {
  sequence += 1;
  return { topic: 'topic_test', key: 'USER1', eventId: `evt-${sequence}`, value: '{}', idempotencyKey: null };
}

function fakeBus(counts: { publish: number; readAfter: number }, flaky: <T>(value: T, role: 'bus') => Promise<T>): BusPort {
  return {
    adapter: 'fake',
    startCursor: 'start',
    follows: () => undefined,
    publish: (records) => {
      counts.publish += 1;
      return flaky(
        records.map((r, i): PublishAck => ({ eventId: r.eventId, topic: r.topic, partition: 0, offset: String(i), duplicate: false, cursor: String(i) })),
        'bus',
      );
    },
    readAfter: () => {
      counts.readAfter += 1;
      return flaky([], 'bus');
    },
    tail: () => () => undefined,
    health: async () => ({ ...healthy, role: 'bus' }),
    close: async () => undefined,
  };
}

describe('configuration', () => {
  it('defaults every role to BACKEND_TIMEOUT_MS and the documented breaker settings', () => {
    const config = loadConfig({ BACKEND_TIMEOUT_MS: '4000', SEARCH_TIMEOUT_MS: '1500' });
    expect(config.roleTimeoutMs).toEqual({ lakehouse: 4_000, analytics: 4_000, search: 1_500, bus: 4_000 });
    expect(config.resilience).toEqual({ retries: 1, retryDelayMs: 50, errorThresholdPercent: 50, volumeThreshold: 10, resetTimeoutMs: 5_000, windowMs: 10_000 });
  });

  it('names every bad value', () => {
    let error: unknown;
    try {
      loadConfig({ BUS_TIMEOUT_MS: '0', BACKEND_RETRIES: '1.5', BREAKER_ERROR_PERCENT: '150', BREAKER_RESET_MS: '-1' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const name of ['BUS_TIMEOUT_MS', 'BACKEND_RETRIES', 'BREAKER_ERROR_PERCENT', 'BREAKER_RESET_MS']) expect((error as Error).message).toContain(`  ${name}:`);
  });
});
