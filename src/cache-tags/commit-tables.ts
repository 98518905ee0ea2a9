import type { PipelineRunRecord } from '../../ingest/medallion/runs.ts';
import type { MedallionCommit } from '../platform/commit.ts';
import type { TableChange } from './table-versions.ts';

/** Gold tables, each refreshed by a gold run that wrote rows. */
const GOLD = ['gold.booking_metrics', 'gold.recommendation_features', 'gold.tourism_analytics', 'gold.user_360'];
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
