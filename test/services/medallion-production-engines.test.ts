import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bootstrap } from '../../scripts/bootstrap.ts';
import { decodeCursor } from '../../src/backends/bus/kafka-cursor.ts';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { loadConfig } from '../../src/config.ts';
import type { MedallionCommit } from '../../src/platform/commit.ts';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.ts';
import { startTestGateway, TEST_ANCHOR } from '../helpers/gateway.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startTrinoFixture, type TrinoFixture } from '../helpers/trino-fixture.ts';
import { describeMedallionSuite } from '../suites/medallion.suite.ts';

/**
 * The medallion suite on the production combination: the lakehouse on Trino over Iceberg (the
 * protocol fixture, prepared by `npm run bootstrap`), the bus on Kafka (librdkafka's mock
 * cluster), analytics on ClickHouse, the medallion running in the gateway (`MEDALLION=in-process`):
 * the same assertions as on the embedded engines, dead letters read back through the bus.
 */
const execFileAsync = promisify(execFile);

describeWithPeer('medallion on Trino/Iceberg, Kafka and ClickHouse', 'kcat', 'kcat', (kcat) => {
  describeWithPeer('with ClickHouse', 'clickhouse-server', 'clickhouse-server', () => {
    let lakehouse: DuckDbDatabase;
    let fixture: TrinoFixture;
    let clickhouse: ClickHouseServer;
    let kafka: KafkaMock;
    let bootDir: string;
    let engines: Record<string, string>;

    beforeAll(async () => {
      lakehouse = await DuckDbDatabase.open({ file: ':memory:', readConnections: 2 });
      fixture = await startTrinoFixture({ connect: () => lakehouse.dedicatedConnection(), pageSize: 1_000 });
      [clickhouse, kafka] = await Promise.all([startClickHouse(), startKafkaMock()]);
      engines = {
        TRINO_URL: fixture.url,
        CLICKHOUSE_URL: clickhouse.url,
        KAFKA_BROKERS: kafka.brokers.join(','),
        MEDALLION: 'in-process',
        RESPONSE_CACHE: 'false',
      };
      bootDir = mkdtempSync(path.join(tmpdir(), 'nexus-medallion-production-'));
      await bootstrap(loadConfig({ DATA_DIR: bootDir, LOG_LEVEL: 'silent', DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR, ...engines }), () => undefined);
    }, 180_000);
    afterAll(async () => {
      await live?.dispose();
      await fixture?.close();
      await Promise.allSettled([clickhouse?.close(), kafka?.stop()]);
      await lakehouse?.close();
      if (bootDir) rmSync(bootDir, { recursive: true, force: true });
    });

    const commits: MedallionCommit[] = [];
    const adapters: Record<string, string>[] = [];
    // Every event the first gateway streams while the suite runs (its bus tail now reads the dead letters too).
    const streamed: { eventId: string; eventType: string }[] = [];
    let live: Client | undefined;
    describeMedallionSuite(
      'Trino/Iceberg lakehouse, Kafka bus, ClickHouse analytics',
      async (env) => {
        const gw = await startTestGateway({ env: { ...engines, ...env } });
        const { backends, fanout } = gw.gateway.services;
        adapters.push({ lakehouse: backends.lakehouse.adapter, analytics: backends.analytics.adapter, bus: backends.bus.adapter });
        gw.gateway.services.pipeline?.runs.on('committed', (commit: MedallionCommit) => commits.push(commit));
        if (!live) {
          live = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0 });
          live.subscribe<{ eventIngested: { eventId: string; eventType: string } }>(
            { query: 'subscription { eventIngested { eventId eventType } }' },
            { next: (result) => result.data && streamed.push(result.data.eventIngested), error: () => undefined, complete: () => undefined },
          );
          const deadline = Date.now() + 10_000;
          while (fanout.size < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
          expect(fanout.size).toBe(1);
        }
        return gw;
      },
      { timeoutMs: 60_000 },
    );

    it('ran every gateway on Trino, Kafka and ClickHouse; the commits name Kafka positions and Iceberg snapshots', () => {
      expect(adapters.length).toBeGreaterThan(0);
      for (const used of adapters) expect(used).toEqual({ lakehouse: 'trino', analytics: 'clickhouse', bus: 'kafka' });
      const commit = commits.find((c) => c.tables.includes('silver.events'));
      expect(commit).toBeDefined();
      expect(decodeCursor(commit!.position)?.positions.get('topic_booking_events')).toBeDefined();
      expect(commit!.snapshots.find((s) => s.table === 'silver.events')?.snapshotId).toMatch(/^\d+$/);
    });

    it('streams each dead-lettered event once, as the event it is: subscribers never see the dead letters', async () => {
      // Read the dead-letter topic from its start with a client of its own.
      const { stdout } = await execFileAsync(kcat, ['-b', kafka.brokers.join(','), '-C', '-t', 'topic_dead_letter', '-o', 'beginning', '-e', '-J', '-q'], {
        timeout: 10_000,
      });
      const letters = stdout.trim().split('\n').map((line) => JSON.parse((JSON.parse(line) as { payload: string }).payload) as { eventId: string; rule: string });
      expect(letters.map((l) => l.rule).sort()).toEqual(['known_region', 'known_tour']);
      for (const letter of letters) expect(streamed.filter((e) => e.eventId === letter.eventId)).toHaveLength(1);
      expect(new Set(streamed.map((e) => e.eventId)).size).toBe(streamed.length);
    });
  });
});
