import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMedallionWorker, type MedallionWorker } from '../../ingest/medallion/worker.ts';
import { bootstrap } from '../../scripts/bootstrap.ts';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { loadConfig } from '../../src/config.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from '../helpers/gateway.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { committedPast, groupOffsetsAndEnds, ingestBooking } from '../helpers/medallion-worker.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startTrinoFixture, type TrinoFixture } from '../helpers/trino-fixture.ts';
import { statementsSent } from '../helpers/trino-grammar.ts';

/**
 * The production shape: the lakehouse on Trino over Iceberg (the protocol fixture, bootstrapped),
 * a gateway that leaves the medallion to the worker (MEDALLION=off, the default with TRINO_URL),
 * and the worker with backends of its own (its own data directory), writing through Trino.
 */
describeWithPeer('medallion worker on Trino/Iceberg', 'kcat', 'kcat', () => {
  let lakehouse: DuckDbDatabase;
  let fixture: TrinoFixture;
  let kafka: KafkaMock;
  let admin: Admin;
  let gw: TestGateway;
  let worker: MedallionWorker;
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nexus-medallion-worker-trino-'));
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    lakehouse = await DuckDbDatabase.open({ file: ':memory:', readConnections: 2 });
    fixture = await startTrinoFixture({ connect: () => lakehouse.dedicatedConnection(), pageSize: 1_000 });
    kafka = await startKafkaMock();
    admin = new Kafka({ clientId: 'medallion-worker-trino-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const engines = { TRINO_URL: fixture.url, KAFKA_BROKERS: kafka.brokers.join(',') };
    await bootstrap(loadConfig({ DATA_DIR: tempDir(), LOG_LEVEL: 'silent', DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR, TRINO_URL: fixture.url }), () => undefined);
    gw = await startTestGateway({ env: { ...engines, RESPONSE_CACHE: 'false' } });
    worker = await startMedallionWorker(
      loadConfig({
        ...engines,
        DATA_DIR: tempDir(),
        LOG_LEVEL: 'silent',
        MEDALLION_GROUP_ID: 'medallion-worker-trino',
        MEDALLION_BATCH_INTERVAL_MS: '20',
        MEDALLION_SESSION_TIMEOUT_MS: '4000',
      }),
      { stopTimeoutMs: 5_000 },
    );
  }, 180_000);
  afterAll(async () => {
    await worker?.stop();
    await gw?.close();
    await admin?.disconnect();
    await kafka?.stop();
    await fixture?.close();
    await lakehouse?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('lands a booking through Trino, commits the offsets after it, and names the Iceberg snapshots in its commit', async () => {
    expect(gw.gateway.services.pipeline).toBeUndefined();
    const userId = 'USER-WORKER-TRINO';
    const ack = await ingestBooking(gw, userId, 420, 'TOUR0005');
    const commit = await committedPast(worker, ack, 60_000);
    expect(commit.tables).toEqual(expect.arrayContaining(['silver.events', 'gold.user_360']));
    expect(commit.snapshots.find((s) => s.table === 'silver.events')?.snapshotId).toMatch(/^\d+$/);

    const sent = [...fixture.queries.values()].map((q) => q.sql ?? '');
    expect(sent.some((sql) => /^\s*MERGE INTO silver\.events\b/.test(sql))).toBe(true);
    const { body } = await gw.request<{ events: { edges: { node: { amount: number } }[] }; user: { profile: { totalBookings: number; totalSpend: number } } }>(
      `{ events(filter: { userId: "${userId}" }, first: 5) { edges { node { amount } } } user(id: "${userId}") { profile { totalBookings totalSpend } } }`,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.events.edges.map((edge) => edge.node.amount)).toEqual([420]);
    expect(body.data!.user.profile).toEqual({ totalBookings: 1, totalSpend: 420 });
    const { committed, ends } = await groupOffsetsAndEnds(admin, 'medallion-worker-trino');
    expect(committed).toEqual(ends);
  }, 90_000);

  it('sends Trino only Trino SQL: every statement of its passes and its housekeeping parses with Trino\'s grammar', async () => {
    // Housekeeping runs on the worker's schedule in production; here on demand, between passes.
    expect(await worker.runner.housekeep()).toBeGreaterThan(0);
    const statements = statementsSent(fixture);
    for (const kind of [/^MERGE INTO silver\.events/, /^MERGE INTO platform\.watermarks/, /^INSERT INTO bronze\./, /^DELETE FROM gold\./, /EXECUTE optimize\(/, /EXECUTE expire_snapshots\(/, /EXECUTE remove_orphan_files\(/, /\$snapshots"/]) {
      expect(statements.some((s) => kind.test(s.sql)), String(kind)).toBe(true);
    }
    expect(statements.filter((s) => s.errors.length > 0)).toEqual([]);
  }, 60_000);
});
