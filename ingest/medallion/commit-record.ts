import type { MedallionCommit } from '../../src/platform/commit.ts';
import { GOLD_TABLES } from './gold.ts';
import type { MedallionPass } from './runner.ts';

/** What the next commit record continues from: the last one's sequence and position time. */
export interface CommitLine {
  seq: number;
  positionTime: string | null;
}

/**
 * The commit notification of a pass, or undefined when the pass changed neither silver nor gold.
 * Tables are the target tables of the layers that wrote rows (silver's events, its quarantine
 * when it rejected some, every gold table when gold wrote); the position is the landed batch's
 * cursor. One function, so the worker can switch to the runner's own commit event unchanged.
 */
export function commitOfPass(pass: MedallionPass, previous: CommitLine, now: Date = new Date()): MedallionCommit | undefined {
  const tables = new Set<string>();
  for (const run of pass.runs) {
    if (run.status !== 'SUCCESS') continue;
    if (run.layer === 'silver') {
      if (run.recordsOut > 0) tables.add('silver.events');
      if (run.recordsRejected > 0) tables.add('silver.quarantine');
    }
    if (run.layer === 'gold' && run.recordsOut > 0) for (const table of Object.keys(GOLD_TABLES)) tables.add(table);
  }
  if (tables.size === 0) return undefined;
  return {
    // Strictly increasing even when two passes commit within one millisecond (or the clock steps back).
    seq: Math.max(now.getTime(), previous.seq + 1),
    committedAt: now.toISOString(),
    tables: [...tables].sort(),
    position: pass.position,
    positionTime: pass.newestRecordAt?.toISOString() ?? previous.positionTime,
    snapshots: [],
  };
}
