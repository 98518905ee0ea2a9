import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../src/errors.ts';
import type { SqlEngine } from '../../src/backends/sql/port.ts';

/** What a contract run needs from an adapter; the SQL it supplies is in the adapter's dialect. */
export interface SqlEngineFixture {
  engine: SqlEngine;
  /** A statement that runs far longer than 100 ms unless cancelled (and holds little memory). */
  slowQuery: string;
  /**
   * One row `{ big: 7, dbl: 2.5, ts: 2026-03-01 10:15:00 UTC, list: ['a', 'b'], missing: null }`
   * from a 64-bit integer, a double, a timestamp, an array and a NULL. Default: the standard SQL
   * spelling DuckDB and Trino share.
   */
  typeProbe?: string;
  /** How a bound `true` reads back: `true` (default) where the engine has a boolean type, 1 where booleans are integers (ClickHouse before 21.12). */
  boundTrue?: true | 1;
  close(): Promise<void>;
}

const STANDARD_TYPE_PROBE =
  "SELECT CAST(7 AS BIGINT) AS big, CAST(2.5 AS DOUBLE) AS dbl, TIMESTAMP '2026-03-01 10:15:00' AS ts, ARRAY['a', 'b'] AS list, CAST(NULL AS VARCHAR) AS missing";

/**
 * The SQL roles' behaviour (lakehouse and analytics), written once and run against every adapter:
 * parameter binding, the port's row shape, error wrapping and timeouts.
 */
export function describeSqlEngineContract(name: string, make: () => Promise<SqlEngineFixture>): void {
  describe(`sql engine contract: ${name}`, () => {
    let fixture: SqlEngineFixture;
    beforeAll(async () => {
      fixture = await make();
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('binds positional parameters as values, never as SQL', async () => {
      const rows = await fixture.engine.query('SELECT ? AS text, ? AS n, ? AS flag', ["x' OR '1'='1", 42, true]);
      expect(rows).toEqual([{ text: "x' OR '1'='1", n: 42, flag: fixture.boundTrue ?? true }]);
    });

    it('maps engine types into the port row shape', async () => {
      const [row] = await fixture.engine.query(fixture.typeProbe ?? STANDARD_TYPE_PROBE);
      expect(row).toEqual({ big: 7, dbl: 2.5, ts: new Date('2026-03-01T10:15:00Z'), list: ['a', 'b'], missing: null });
    });

    it('wraps engine errors as BackendError naming role and adapter', async () => {
      const failure = await fixture.engine.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BackendError);
      expect(failure).toMatchObject({ role: fixture.engine.role, adapter: fixture.engine.adapter, timedOut: false });
    });

    it('cancels a query over its time budget with a timeout error', async () => {
      const started = performance.now();
      const failure = await fixture.engine.query(fixture.slowQuery, [], { timeoutMs: 100 }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ timedOut: true });
      expect(performance.now() - started).toBeLessThan(5_000);
      // The engine still answers afterwards.
      expect(await fixture.engine.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });

    it('reports its health', async () => {
      expect(await fixture.engine.health()).toMatchObject({ role: fixture.engine.role, adapter: fixture.engine.adapter, status: 'OK' });
    });
  });
}
