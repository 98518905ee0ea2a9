import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbDatabase } from '../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../src/backends/duckdb/ddl.ts';
import { createDuckDbEngine } from '../src/backends/duckdb/engine.ts';
import { followCatalogueChanges } from '../src/backends/search/catalogue-index.ts';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import type { TourRow } from '../src/domain.ts';
import { CatalogueReplica } from '../src/catalogue/replica.ts';

/**
 * A gateway whose medallion runs elsewhere keeps its in-process tour index current from the
 * commits it hears: only catalogue commits rebuild it, one rebuild at a time, and commits heard
 * during a rebuild make exactly one more.
 */
describe('the tour index follows catalogue commits', () => {
  let database: DuckDbDatabase;
  let lakehouse: SqlEngine;

  beforeAll(async () => {
    database = await DuckDbDatabase.open({ file: ':memory:', readConnections: 1 });
    await database.exec(LAKEHOUSE_DDL);
    await database.exec(`INSERT INTO silver.destinations VALUES ('D-1', 'Lagoon Bay', 'VN', 'Vietnam', 'Hoi An', 15.9, 108.3, 4.5);
      INSERT INTO silver.tours VALUES ('T-1', 'Lagoon kayak', 'D-1', 'VN', 120, 'USD', 4.6, 1, 'water', ['kayak'], NULL, TIMESTAMP '2026-01-01 00:00:00')`);
    lakehouse = createDuckDbEngine({ database, role: 'lakehouse', timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await database?.close();
  });

  /** A search port whose `indexTours` calls are recorded and held until released. */
  function heldSearch() {
    const calls: { tours: string[]; names: string[] }[] = [];
    const releases: (() => void)[] = [];
    let called!: () => void;
    let next = new Promise<void>((resolve) => (called = resolve));
    return {
      calls,
      /** Resolves at the next `indexTours` call. */
      nextCall: () => next,
      release: () => releases.shift()?.(),
      search: {
        indexTours: (tours: readonly TourRow[], names: ReadonlyMap<string, string>) => {
          calls.push({ tours: tours.map((t) => t.id), names: [...names.values()] });
          const done = new Promise<void>((resolve) => releases.push(resolve));
          called();
          next = new Promise<void>((resolve) => (called = resolve));
          return done;
        },
      },
    };
  }

  it('rebuilds on commits that changed silver.tours or silver.destinations, after which it reports', async () => {
    const held = heldSearch();
    const indexed: number[] = [];
    const follower = followCatalogueChanges({ lakehouse, search: held.search, onIndexed: (n) => indexed.push(n) });
    follower.onCommit({ tables: ['silver.events', 'gold.user_360'] });
    await follower.idle();
    expect(held.calls).toEqual([]);

    const first = held.nextCall();
    follower.onCommit({ tables: ['silver.tours', 'gold.tourism_analytics'] });
    await first;
    expect(indexed).toEqual([]);
    held.release();
    await follower.idle();
    expect(held.calls).toEqual([{ tours: ['T-1'], names: ['Lagoon Bay'] }]);
    expect(indexed).toEqual([1]);
  });

  it('coalesces commits heard during a rebuild into one more rebuild, which reads the newer catalogue', async () => {
    const held = heldSearch();
    const follower = followCatalogueChanges({ lakehouse, search: held.search });
    const first = held.nextCall();
    follower.onCommit({ tables: ['silver.tours'] });
    await first;
    await database.exec("INSERT INTO silver.tours VALUES ('T-2', 'Night walk', 'D-1', 'VN', 40, 'USD', NULL, 1, 'culture', [], NULL, TIMESTAMP '2026-01-02 00:00:00')");
    follower.onCommit({ tables: ['silver.tours'] });
    follower.onCommit({ tables: ['silver.destinations'] });
    const second = held.nextCall();
    held.release();
    await second;
    held.release();
    await follower.idle();
    expect(held.calls.map((c) => c.tours)).toEqual([['T-1'], ['T-1', 'T-2']]);
  });

  it('reports a failed rebuild and rebuilds on the next catalogue commit', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const indexed: number[] = [];
    const follower = followCatalogueChanges({
      lakehouse,
      search: { indexTours: async () => (fail ? Promise.reject(new Error('search is down')) : undefined) },
      onIndexed: (n) => indexed.push(n),
      onError: (error) => errors.push(error),
    });
    follower.onCommit({ tables: ['silver.tours'] });
    await follower.idle();
    expect(errors.map((e) => (e as Error).message)).toEqual(['search is down']);
    fail = false;
    follower.onCommit({ tables: ['silver.tours'] });
    await follower.idle();
    expect(indexed).toEqual([2]);
  });

  it('builds from the catalogue the process already holds, reading the lakehouse only when it holds none', async () => {
    const replica = new CatalogueReplica({ lakehouse, maxRows: 1_000 });
    await replica.start();
    const statements: string[] = [];
    const counted: SqlEngine = { ...lakehouse, query: (sql, params, options) => (statements.push(sql), lakehouse.query(sql, params, options)) };
    const names: string[][] = [];
    const search = { indexTours: async (tours: readonly TourRow[]) => void names.push(tours.map((t) => t.id)) };
    const follower = followCatalogueChanges({ lakehouse: counted, search, held: () => replica.current?.rows() });
    follower.onCommit({ tables: ['silver.tours'] });
    await follower.idle();
    expect(statements).toEqual([]);
    expect(names).toEqual([replica.current!.rows().tours.map((t) => t.id)]);
    replica.close();
    follower.onCommit({ tables: ['silver.tours'] });
    await follower.idle();
    expect(statements.length).toBeGreaterThan(0);
    expect(names[1]).toEqual(names[0]);
  });
});
