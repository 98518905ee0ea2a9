import type { MedallionCommit } from '../platform/commit.ts';
import type { TableChange } from './table-versions.ts';

/** The change a medallion commit notification describes. */
export function changeOfCommit(commit: Pick<MedallionCommit, 'tables' | 'seq'>): TableChange {
  return { tables: commit.tables, version: commit.seq };
}
