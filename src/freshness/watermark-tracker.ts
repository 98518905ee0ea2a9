import type { BusPort } from '../backends/bus/port.ts';
import type { MedallionCommit } from '../platform/commit.ts';
import { entryAt, type ReceiptPosition } from './receipt-position.ts';

/** The roles whose data the medallion materialises: silver/gold of the lakehouse, and the analytics copy it feeds. */
export type WatermarkedRole = 'lakehouse' | 'analytics';
export const WATERMARKED_ROLES: readonly WatermarkedRole[] = ['lakehouse', 'analytics'];

/** Iceberg snapshot of one table, the newest a commit reported. */
export interface TableSnapshot {
  snapshotId: string;
  committedAt: string;
}

/** How a bounded wait for a write ended. */
export interface WaitOutcome {
  /** Whether every watermarked layer now includes the write. */
  included: boolean;
  waitedMs: number;
}

/** Options of a {@link WatermarkTracker}. */
export interface WatermarkTrackerOptions {
  /** The bus the medallion reads: its `follows` decides whether a write lies within a watermark. */
  bus: Pick<BusPort, 'follows'>;
  /** Asked for a pass when a reader starts waiting (the in-process medallion's `runNow`); absent: commits come on their own. */
  nudge?: (() => void) | undefined;
}

/**
 * What the gateway knows of the medallion's progress: per watermarked role, the newest commit
 * (bus position and time up to which its data is materialised) and, per table, the newest
 * Iceberg snapshot. Fed by commit notifications (in-process runner, bus topic, stored state at
 * start), whichever comes first; older notifications than the one held are ignored.
 */
export class WatermarkTracker {
  private readonly bus: WatermarkTrackerOptions['bus'];
  private readonly nudge: (() => void) | undefined;
  private readonly layers = new Map<WatermarkedRole, MedallionCommit>();
  private readonly tables = new Map<string, TableSnapshot>();
  private readonly waiters = new Set<() => void>();

  constructor(options: WatermarkTrackerOptions) {
    this.bus = options.bus;
    this.nudge = options.nudge;
  }

  /** Takes a commit for `roles` (default: every watermarked role) when it is newer than the one held. */
  observe(commit: MedallionCommit, roles: readonly WatermarkedRole[] = WATERMARKED_ROLES): void {
    let advanced = false;
    for (const role of roles) {
      const held = this.layers.get(role);
      if (held && held.seq >= commit.seq) continue;
      this.layers.set(role, commit);
      advanced = true;
    }
    for (const { table, snapshotId, committedAt } of commit.snapshots) {
      const held = this.tables.get(table);
      if (!held || held.committedAt <= committedAt) this.tables.set(table, { snapshotId, committedAt });
    }
    if (advanced) for (const wake of [...this.waiters]) wake();
  }

  /** The newest commit of a role's layer, or undefined before any is known. */
  of(role: WatermarkedRole): MedallionCommit | undefined {
    return this.layers.get(role);
  }

  /** Newest Iceberg snapshot per table (empty unless the lakehouse is Iceberg). */
  get snapshots(): ReadonlyMap<string, TableSnapshot> {
    return this.tables;
  }

  /** Whether every watermarked layer has materialised the write at `position`. */
  includes(position: ReceiptPosition): boolean {
    const entry = entryAt(position);
    for (const role of WATERMARKED_ROLES) {
      const commit = this.layers.get(role);
      if (!commit) return false;
      // A position of another bus (stored before a switch) includes nothing this bus wrote.
      const follows = this.bus.follows(commit.position);
      if (!follows || follows(entry)) return false;
    }
    return true;
  }

  /**
   * Resolves once the write at `position` is materialised in every watermarked layer, or when
   * `timeoutMs` passed or `signal` aborted first (`included: false`). Never rejects.
   */
  waitFor(position: ReceiptPosition, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    const started = performance.now();
    const outcome = (included: boolean): WaitOutcome => ({ included, waitedMs: Math.round(performance.now() - started) });
    if (this.includes(position)) return Promise.resolve(outcome(true));
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(outcome(false));
    return new Promise((resolve) => {
      const finish = (included: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener('abort', abort);
        resolve(outcome(included));
      };
      const check = () => {
        if (this.includes(position)) finish(true);
      };
      const abort = () => finish(false);
      const timer = setTimeout(() => finish(this.includes(position)), timeoutMs);
      this.waiters.add(check);
      signal?.addEventListener('abort', abort, { once: true });
      this.nudge?.();
    });
  }
}
