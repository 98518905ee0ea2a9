import { expect, it } from 'vitest';
import type { MedallionCommit } from '../src/platform/commit.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { describeMedallionSuite } from './suites/medallion.suite.ts';

const commits: MedallionCommit[] = [];
describeMedallionSuite('embedded', async (env) => {
  const gw = await startTestGateway({ env });
  gw.gateway.services.pipeline?.runs.on('committed', (commit: MedallionCommit) => commits.push(commit));
  return gw;
});

it('announces each pass that changed silver or gold as a commit, with the bus position it includes', () => {
  const commit = commits.find((c) => c.tables.includes('silver.events'));
  expect(commit).toMatchObject({ snapshots: [] });
  expect(commit!.tables).toEqual(expect.arrayContaining(['silver.events', 'silver.quarantine', 'gold.user_360']));
  expect(commit!.position).toMatch(/^\d+$/);
  expect(Date.parse(commit!.positionTime!)).toBeGreaterThan(0);
  for (let i = 1; i < commits.length; i += 1) expect(commits[i]!.seq).toBeGreaterThan(commits[i - 1]!.seq);
});
