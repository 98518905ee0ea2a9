import { describe, expect, it } from 'vitest';
import { commitOfPass } from '../ingest/medallion/commit-record.ts';
import type { PipelineRunRecord } from '../ingest/medallion/runner.ts';

function run(layer: string, counts: Partial<Pick<PipelineRunRecord, 'recordsOut' | 'recordsRejected' | 'status'>>): PipelineRunRecord {
  return {
    id: layer,
    batchId: 'b',
    layer,
    status: counts.status ?? 'SUCCESS',
    trigger: 'EVENTS',
    startedAt: new Date(0),
    finishedAt: new Date(0),
    recordsIn: 1,
    recordsOut: counts.recordsOut ?? 0,
    recordsRejected: counts.recordsRejected ?? 0,
    error: null,
  };
}

describe('medallion commit record of a pass', () => {
  const now = new Date('2026-11-02T10:00:00.000Z');

  it('names the tables the layers wrote, with the batch position and the newest record time', () => {
    const commit = commitOfPass(
      { trigger: 'EVENTS', runs: [run('bronze', { recordsOut: 2 }), run('silver', { recordsOut: 1, recordsRejected: 1 }), run('gold', { recordsOut: 4 })], position: 'cursor-1', newestRecordAt: new Date('2026-11-02T09:59:59.000Z') },
      { seq: 0, positionTime: null },
      now,
    );
    expect(commit).toEqual({
      seq: now.getTime(),
      committedAt: now.toISOString(),
      tables: ['gold.booking_metrics', 'gold.recommendation_features', 'gold.tourism_analytics', 'gold.user_360', 'silver.events', 'silver.quarantine'],
      position: 'cursor-1',
      positionTime: '2026-11-02T09:59:59.000Z',
      snapshots: [],
    });
  });

  it('is absent for a pass that changed neither silver nor gold, and its sequence always increases', () => {
    expect(commitOfPass({ trigger: 'SCHEDULE', runs: [run('bronze', { recordsOut: 3 })], position: 'c', newestRecordAt: null }, { seq: 0, positionTime: null }, now)).toBeUndefined();
    const later = commitOfPass({ trigger: 'EVENTS', runs: [run('silver', { recordsOut: 1 })], position: 'c2', newestRecordAt: null }, { seq: now.getTime() + 5, positionTime: 'earlier' }, now);
    expect(later).toMatchObject({ seq: now.getTime() + 6, tables: ['silver.events'], positionTime: 'earlier' });
  });
});
