import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackends } from '../src/backends/index.ts';
import { DuckDbDatabase } from '../src/backends/duckdb/database.ts';
import { createLruCache, entryBytes } from '../src/backends/cache/lru.ts';
import { loadConfig } from '../src/config.ts';
import { containerMemoryLimit, deriveMemoryBudget, duckDbSize } from '../src/memory-budget.ts';
import { startMemoryReclaim } from '../src/memory-reclaim.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/cgroup/${name}`, import.meta.url));
const missing = fixture('absent');
const machine = 16 * GiB;

describe('the container memory limit', () => {
  it('reads cgroup v2 memory.max first', () => {
    expect(containerMemoryLimit({ cgroupV2: fixture('v2-1g.max'), cgroupV1: fixture('v1-512m.limit_in_bytes') }, machine)).toEqual({ bytes: GiB, source: 'cgroup v2' });
  });

  it('falls back to cgroup v1 memory.limit_in_bytes when v2 has no limit or no file', () => {
    expect(containerMemoryLimit({ cgroupV2: fixture('v2-unlimited.max'), cgroupV1: fixture('v1-512m.limit_in_bytes') }, machine)).toEqual({ bytes: 512 * MiB, source: 'cgroup v1' });
    expect(containerMemoryLimit({ cgroupV2: missing, cgroupV1: fixture('v1-512m.limit_in_bytes') }, machine)).toEqual({ bytes: 512 * MiB, source: 'cgroup v1' });
  });

  it('takes the machine when neither cgroup limits memory (v1 writes "unlimited" as a huge number)', () => {
    expect(containerMemoryLimit({ cgroupV2: fixture('v2-unlimited.max'), cgroupV1: fixture('v1-unlimited.limit_in_bytes') }, machine)).toEqual({ bytes: machine, source: 'machine' });
    expect(containerMemoryLimit({ cgroupV2: missing, cgroupV1: missing }, machine)).toEqual({ bytes: machine, source: 'machine' });
  });

  it('never counts more than the machine has', () => {
    expect(containerMemoryLimit({ cgroupV2: fixture('v2-1g.max'), cgroupV1: missing }, 512 * MiB)).toEqual({ bytes: 512 * MiB, source: 'cgroup v2' });
  });
});

describe('the memory budget', () => {
  const limit = () => ({ bytes: 4 * GiB, source: 'cgroup v2' as const });

  it('is three quarters of the limit, with DuckDB and the cache sized from it', () => {
    const budget = deriveMemoryBudget({}, limit);
    expect(budget).toEqual({ totalBytes: 3 * GiB, source: 'cgroup v2', duckdbBytes: 1.5 * GiB, duckdbAllocatorFlushBytes: 24 * MiB, cacheBytes: Math.floor(0.3 * GiB), subscriberBufferEvents: 31 });
  });

  it('MEMORY_BUDGET_MB replaces the derived budget; DUCKDB_MEMORY_LIMIT_MB and CACHE_MAX_MB win over their shares', () => {
    expect(deriveMemoryBudget({ budgetMb: 1000 }, limit)).toMatchObject({ totalBytes: 1000 * MiB, source: 'MEMORY_BUDGET_MB', duckdbBytes: 500 * MiB, cacheBytes: 100 * MiB });
    expect(deriveMemoryBudget({ budgetMb: 1000, duckdbMb: 300, cacheMb: 20 }, limit)).toMatchObject({ duckdbBytes: 300 * MiB, cacheBytes: 20 * MiB });
  });

  it('sizes subscriber buffers from what the budget leaves, between 16 and 1,000 events', () => {
    expect(deriveMemoryBudget({ budgetMb: 1024, subscriptionsMax: 10_000 }, limit).subscriberBufferEvents).toBe(16);
    expect(deriveMemoryBudget({ budgetMb: 4096, subscriptionsMax: 1_000 }, limit).subscriberBufferEvents).toBe(419);
    expect(deriveMemoryBudget({ budgetMb: 65_536, subscriptionsMax: 1_000 }, limit).subscriberBufferEvents).toBe(1_000);
  });

  it('keeps the allocator flush threshold between 4 and 32 MiB', () => {
    expect(deriveMemoryBudget({ duckdbMb: 64 }, limit).duckdbAllocatorFlushBytes).toBe(4 * MiB);
    expect(deriveMemoryBudget({ duckdbMb: 64 * 1024 }, limit).duckdbAllocatorFlushBytes).toBe(32 * MiB);
  });

  it('is read from the environment by loadConfig, and bad values name their variable', () => {
    expect(loadConfig({ MEMORY_BUDGET_MB: '2048', CACHE_MAX_MB: '64' }).memory).toMatchObject({ totalBytes: 2 * GiB, duckdbBytes: GiB, cacheBytes: 64 * MiB });
    expect(() => loadConfig({ MEMORY_BUDGET_MB: '0', DUCKDB_MEMORY_LIMIT_MB: '-1' })).toThrow(/MEMORY_BUDGET_MB[\s\S]*DUCKDB_MEMORY_LIMIT_MB/);
  });

  it('writes sizes the way DuckDB reads them', () => {
    expect(duckDbSize(512 * MiB)).toBe('512MiB');
    expect(duckDbSize(10)).toBe('1MiB');
  });
});

describe('the in-process cache by bytes', () => {
  it('evicts the least recently used entries once their bytes pass the budget, whatever their count', async () => {
    const value = 'x'.repeat(1_000);
    const cache = createLruCache({ maxEntries: 10_000, maxBytes: entryBytes('k0', value) * 3 });
    for (const key of ['k0', 'k1', 'k2', 'k3']) await cache.set(key, value, 60_000);
    expect(await cache.get('k0')).toBeUndefined();
    expect(await cache.get('k3')).toBe(value);
    // One entry larger than the whole budget is not kept (and does not evict the rest).
    await cache.set('huge', 'y'.repeat(10_000), 60_000);
    expect(await cache.get('huge')).toBeUndefined();
    expect(await cache.get('k3')).toBe(value);
  });
});

describe('the embedded DuckDB', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nexus-memory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const setting = async (database: DuckDbDatabase, name: string) => {
    const [row] = await database.query<{ value: string }>(`SELECT current_setting('${name}') AS value`, [], { timeoutMs: 5_000, onTimeout: () => new Error('timeout') });
    return row?.value;
  };

  it('runs with the memory limit, allocator flush threshold and spill directory it is given', async () => {
    const database = await DuckDbDatabase.open({ file: ':memory:', readConnections: 1, memoryLimitBytes: 256 * MiB, allocatorFlushBytes: 8 * MiB, tempDirectory: path.join(dir, 'spill') });
    try {
      expect(await setting(database, 'memory_limit')).toBe('256.0 MiB');
      expect(await setting(database, 'allocator_flush_threshold')).toBe('8.0 MiB');
      expect(await setting(database, 'temp_directory')).toBe(path.join(dir, 'spill'));
    } finally {
      await database.close();
    }
  });

  it('gets its share of the configured budget from the gateway backends', async () => {
    const backends = await createBackends(loadConfig({ DATA_DIR: dir, MEMORY_BUDGET_MB: '1024' }));
    try {
      expect(await setting(backends.embedded!, 'memory_limit')).toBe('512.0 MiB');
      expect(await setting(backends.embedded!, 'temp_directory')).toBe(path.join(dir, 'duckdb-spill'));
    } finally {
      await backends.close();
    }
  });
});

describe('giving the heap back after load', () => {
  it('collects once a busy spell is followed by an idle one, then waits for the next busy spell', async () => {
    const reclaims: number[] = [];
    let reclaimed!: () => void;
    const first = new Promise<void>((resolve) => (reclaimed = resolve));
    const stop = startMemoryReclaim({
      intervalMs: 50,
      minSlackBytes: 0,
      onReclaim: ({ pauseMs }) => {
        reclaims.push(pauseMs);
        reclaimed();
      },
    });
    try {
      // Idle samples alone never collect.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(reclaims).toEqual([]);
      const until = performance.now() + 150;
      while (performance.now() < until) Math.sqrt(Math.random());
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([first, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no collection within 5 s')), 5_000)))]);
      clearTimeout(timer);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(reclaims).toHaveLength(1);
    } finally {
      stop();
    }
  });
});
