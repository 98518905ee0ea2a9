import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/**
 * One memory budget for the process, and every engine and cache sized from it here, in one place.
 * The budget defaults to a share of the container's memory limit, so a gateway given 1 GiB by its
 * orchestrator sizes DuckDB and its caches for 1 GiB instead of for the node it landed on.
 */

/** Where the memory the budget is a share of was read. */
export type MemorySource = 'MEMORY_BUDGET_MB' | 'cgroup v2' | 'cgroup v1' | 'machine';

/** The process's memory budget and the share of it each engine and cache gets, in bytes. */
export interface MemoryBudget {
  /** The whole budget. */
  readonly totalBytes: number;
  /** Where it came from: set explicitly, the container's limit, or the machine's memory. */
  readonly source: MemorySource;
  /** The embedded DuckDB's `memory_limit` (its buffer pool; larger operators spill to its temp directory). */
  readonly duckdbBytes: number;
  /**
   * DuckDB's `allocator_flush_threshold`: memory its allocator may keep cached after a task before
   * returning it to the system. DuckDB's default (128 MiB per flush) is why memory stays high
   * after a burst of queries; a fraction of DuckDB's share gives it back.
   */
  readonly duckdbAllocatorFlushBytes: number;
  /** The in-process cache role (responses, reference rows, answers kept for stale-while-error, APQ), by bytes of its entries. */
  readonly cacheBytes: number;
  /**
   * Events buffered per live subscriber before a slow one is dropped: half of the budget's
   * remainder spread over SUBSCRIPTIONS_MAX subscribers of about 2 KiB an event, from 16 to 1,000.
   */
  readonly subscriberBufferEvents: number;
}

/** Share of the container's (or machine's) memory the budget takes by default: the rest is for the runtime itself, allocator slack and the kernel's page cache. */
export const BUDGET_OF_LIMIT = 0.75;
/** Shares of the budget. What is left (about 40%) is Node's heap, sockets, subscriptions and in-flight requests. */
export const SHARES = Object.freeze({ duckdb: 0.5, cache: 0.1 });

const MiB = 1024 * 1024;
/** cgroup v1 writes "no limit" as a page-aligned near-2^63 number. */
const UNLIMITED_V1 = 2 ** 60;

/** Files the container's limit is read from (tests point them at fixtures). */
export interface MemoryLimitFiles {
  readonly cgroupV2: string;
  readonly cgroupV1: string;
}

export const CGROUP_FILES: MemoryLimitFiles = Object.freeze({
  cgroupV2: '/sys/fs/cgroup/memory.max',
  cgroupV1: '/sys/fs/cgroup/memory/memory.limit_in_bytes',
});

/**
 * The memory this process may use: the cgroup v2 limit, else the cgroup v1 limit, else the
 * machine's memory (no container, or a container without a limit: `max`). A limit larger than the
 * machine counts as the machine.
 */
export function containerMemoryLimit(
  files: MemoryLimitFiles = CGROUP_FILES,
  machineBytes: number = totalmem(),
): { bytes: number; source: Exclude<MemorySource, 'MEMORY_BUDGET_MB'> } {
  const v2 = readLimit(files.cgroupV2);
  if (v2 !== undefined) return { bytes: Math.min(v2, machineBytes), source: 'cgroup v2' };
  const v1 = readLimit(files.cgroupV1);
  if (v1 !== undefined && v1 < UNLIMITED_V1) return { bytes: Math.min(v1, machineBytes), source: 'cgroup v1' };
  return { bytes: machineBytes, source: 'machine' };
}

/** A limit file's bytes; undefined when absent, unreadable or `max`. */
function readLimit(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!/^\d+$/.test(text)) return undefined;
  const bytes = Number(text);
  return bytes > 0 ? bytes : undefined;
}

/** Explicit sizes, in MiB, that win over the derived ones. */
export interface MemoryOverrides {
  /** MEMORY_BUDGET_MB */
  readonly budgetMb?: number | undefined;
  /** DUCKDB_MEMORY_LIMIT_MB */
  readonly duckdbMb?: number | undefined;
  /** CACHE_MAX_MB */
  readonly cacheMb?: number | undefined;
  /** SUBSCRIPTIONS_MAX, the subscribers the buffers are shared by. Default 10,000. */
  readonly subscriptionsMax?: number | undefined;
}

/** What one buffered event is reckoned to take (its object, payload and the serialised message). */
const EVENT_BYTES = 2048;

/** The budget from explicit overrides, else from `limit` (the container's, by default). */
export function deriveMemoryBudget(overrides: MemoryOverrides, limit: () => { bytes: number; source: MemorySource } = containerMemoryLimit): MemoryBudget {
  const { totalBytes, source } =
    overrides.budgetMb !== undefined
      ? { totalBytes: overrides.budgetMb * MiB, source: 'MEMORY_BUDGET_MB' as const }
      : (({ bytes, source: from }) => ({ totalBytes: bytes * BUDGET_OF_LIMIT, source: from }))(limit());
  const duckdbBytes = overrides.duckdbMb !== undefined ? overrides.duckdbMb * MiB : totalBytes * SHARES.duckdb;
  return Object.freeze({
    totalBytes: Math.floor(totalBytes),
    source,
    duckdbBytes: Math.floor(duckdbBytes),
    // A 64th of DuckDB's share, at least 4 MiB (less would flush after every small query) and at
    // most 32 MiB (a quarter of DuckDB's default, which kept a burst's peak).
    duckdbAllocatorFlushBytes: Math.floor(Math.min(32 * MiB, Math.max(4 * MiB, duckdbBytes / 64))),
    cacheBytes: Math.floor(overrides.cacheMb !== undefined ? overrides.cacheMb * MiB : totalBytes * SHARES.cache),
    subscriberBufferEvents: Math.round(
      Math.min(1_000, Math.max(16, (totalBytes * (1 - SHARES.duckdb - SHARES.cache) * 0.5) / ((overrides.subscriptionsMax ?? 10_000) * EVENT_BYTES))),
    ),
  });
}

/** Bytes as a DuckDB size setting (`512MiB`): whole MiB, at least 1. */
export function duckDbSize(bytes: number): string {
  return `${Math.max(1, Math.floor(bytes / MiB))}MiB`;
}

/** One line for the start-up log. */
export function describeMemoryBudget(budget: MemoryBudget): Record<string, unknown> {
  const mib = (bytes: number) => Math.round(bytes / MiB);
  return { budgetMiB: mib(budget.totalBytes), from: budget.source, duckdbMiB: mib(budget.duckdbBytes), cacheMiB: mib(budget.cacheBytes), subscriberBufferEvents: budget.subscriberBufferEvents };
}
