import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bootstrap } from '../../scripts/bootstrap.ts';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { loadConfig } from '../../src/config.ts';
import type { MedallionCommit } from '../../src/platform/commit.ts';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.ts';
import { startTestGateway, TEST_ANCHOR } from '../helpers/gateway.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startTrinoFixture, type TrinoFixture } from '../helpers/trino-fixture.ts';
import { describeCatalogueUpdatesSuite } from '../suites/catalogue-updates.suite.ts';
import { describeMedallionSuite } from '../suites/medallion.suite.ts';

/**
 * The medallion suite with the lakehouse on Trino over Iceberg (the protocol fixture, its tables
 * created and loaded by `npm run bootstrap`) and analytics on ClickHouse (fed by the medallion's
 * sink), the medallion running in the gateway (`MEDALLION=in-process`): the same assertions as on
 * the embedded lakehouse. The bus stays the embedded log; with Kafka too, see
 * medallion-production-engines.test.ts.
 */
describeWithPeer('medallion on Trino/Iceberg and ClickHouse', 'clickhouse-server', 'clickhouse-server', () => {
  let lakehouse: DuckDbDatabase;
  let fixture: TrinoFixture;
  let clickhouse: ClickHouseServer;
  let bootDir: string;
  let engines: Record<string, string>;

  beforeAll(async () => {
    lakehouse = await DuckDbDatabase.open({ file: ':memory:', readConnections: 2 });
    fixture = await startTrinoFixture({ connect: () => lakehouse.dedicatedConnection(), pageSize: 1_000 });
    clickhouse = await startClickHouse();
    engines = { TRINO_URL: fixture.url, CLICKHOUSE_URL: clickhouse.url, MEDALLION: 'in-process', RESPONSE_CACHE: 'false' };
    bootDir = mkdtempSync(path.join(tmpdir(), 'nexus-medallion-trino-'));
    await bootstrap(loadConfig({ DATA_DIR: bootDir, LOG_LEVEL: 'silent', DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR, ...engines }), () => undefined);
  }, 180_000);
  afterAll(async () => {
    await fixture?.close();
    await clickhouse?.close();
    await lakehouse?.close();
    if (bootDir) rmSync(bootDir, { recursive: true, force: true });
  });

  const commits: MedallionCommit[] = [];
  describeMedallionSuite(
    'Trino/Iceberg lakehouse',
    async (env) => {
      const gw = await startTestGateway({ env: { ...engines, ...env } });
      gw.gateway.services.pipeline?.runs.on('committed', (commit: MedallionCommit) => commits.push(commit));
      return gw;
    },
    { timeoutMs: 60_000 },
  );

  // Catalogue updates through Trino into silver.tours, and on to ClickHouse's analytics.tours.
  describeCatalogueUpdatesSuite('Trino/Iceberg lakehouse, ClickHouse analytics', (env) => startTestGateway({ env: { ...engines, ...env } }), { timeoutMs: 60_000 });

  it('wrote through Trino: MERGE into silver, Iceberg snapshots named in the commit notifications', async () => {
    const sent = [...fixture.queries.values()].map((q) => q.sql ?? '');
    expect(sent.some((sql) => /^\s*MERGE INTO silver\.events\b/.test(sql))).toBe(true);
    expect(sent.some((sql) => /^\s*MERGE INTO silver\.quarantine\b/.test(sql))).toBe(true);
    expect(sent.some((sql) => /^\s*MERGE INTO silver\.tours\b/.test(sql))).toBe(true);
    const commit = commits.find((c) => c.tables.includes('silver.events'));
    expect(commit).toBeDefined();
    expect(commit!.tables).toEqual(expect.arrayContaining(['silver.events', 'gold.user_360']));
    expect(commit!.positionTime).not.toBeNull();
    const snapshot = commit!.snapshots.find((s) => s.table === 'silver.events');
    expect(snapshot?.snapshotId).toMatch(/^\d+$/);
    // The snapshot named is one Iceberg (here the fixture) committed for silver.events.
    const [known] = await lakehouse.query(`SELECT count(*) AS n FROM trino_fixture."silver.events$snapshots" WHERE CAST(snapshot_id AS VARCHAR) = ?`, [snapshot!.snapshotId], {
      timeoutMs: 10_000,
      onTimeout: () => new Error('timed out'),
    });
    expect(Number(known?.['n'])).toBe(1);
    for (let i = 1; i < commits.length; i += 1) expect(commits[i]!.seq).toBeGreaterThan(commits[i - 1]!.seq);
  });
});
