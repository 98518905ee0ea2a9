import type { EventEmitter } from 'node:events';
import { GOLD_TABLES } from '../platform/metadata.ts';
import type { PipelineRunRecord } from '../platform/metadata.ts';
import type { MedallionCommit } from '../platform/commit.ts';
import type { TableChange } from './table-versions.ts';

/** Gold tables, each refreshed by a gold run that wrote rows. */
const GOLD = Object.keys(GOLD_TABLES);
/** Platform metadata every pass writes (its runs, executions, quality, lineage, watermarks). */
const PLATFORM = ['platform.data_lineage', 'platform.data_quality', 'platform.pipeline_runs', 'platform.source_executions', 'platform.watermarks'];

/** The change a medallion commit notification describes. */
export function changeOfCommit(commit: Pick<MedallionCommit, 'tables' | 'seq'>): TableChange {
  return { tables: commit.tables, version: commit.seq };
}

/**
 * The tables a medallion pass changed, told from its layer runs (for a runner that reports runs
 * but no commit): silver that promoted rows changed `silver.events`, silver that rejected rows
 * `silver.quarantine`, gold that wrote rows the gold tables; platform metadata changes every pass.
 */
export function changeOfRuns(runs: readonly PipelineRunRecord[]): TableChange {
  const tables = new Set(PLATFORM);
  for (const run of runs) {
    if (run.layer === 'silver' && run.recordsOut > 0) tables.add('silver.events');
    if (run.layer === 'silver' && run.recordsRejected > 0) tables.add('silver.quarantine');
    if (run.layer === 'gold' && run.recordsOut > 0) for (const table of GOLD) tables.add(table);
  }
  return { tables: [...tables].sort() };
}

/** What {@link followMedallionChanges} hands the in-process medallion. */
export interface MedallionChanges {
  /** For the runner's `onPromoted`: the pass's change, told from its runs (until the runner notifies commits). */
  promoted(runs: readonly PipelineRunRecord[]): void;
}

/**
 * Calls `onChange` with what each pass of the in-process medallion changed: from its `'committed'`
 * notifications as soon as it emits one, until then from the runs it reports to `onPromoted`.
 */
export function followMedallionChanges(runs: Pick<EventEmitter, 'on'>, onChange: (change: TableChange) => void): MedallionChanges {
  let notified = false;
  runs.on('committed', (commit: MedallionCommit) => {
    notified = true;
    onChange(changeOfCommit(commit));
  });
  return {
    promoted: (passRuns) => {
      if (!notified) onChange(changeOfRuns(passRuns));
    },
  };
}
