import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMedallionWorker, type MedallionWorker } from '../../ingest/medallion/worker.ts';
import { decodeCursor } from '../../src/backends/bus/kafka-cursor.ts';
import { loadConfig } from '../../src/config.ts';
import type { MedallionCommit } from '../../src/platform/commit.ts';
import { missingEnginePeer, startEngineGateway, type EngineGateway } from '../helpers/engines.ts';
import { TEST_ANCHOR } from '../helpers/gateway.ts';

const missing = missingEnginePeer();
const suite = missing && process.env['CI'] !== 'true' ? describe.skip : describe;

/** The worker feeds ClickHouse's events from silver, once per event, also across a failure between an insert and its mark. */
suite(`medallion worker feeding ClickHouse${missing ? ` (skipped: ${missing} not found)` : ''}`, () => {
  let gw: EngineGateway;
  let worker: MedallionWorker;
  let failNextMark = false;

  beforeAll(async () => {
    gw = await startEngineGateway({ MEDALLION: 'off' });
    const config = loadConfig({
      DATA_DIR: gw.gateway.services.config.dataDir,
      LOG_LEVEL: 'silent',
      DEMO_ANCHOR: TEST_ANCHOR,
      KAFKA_BROKERS: gw.gateway.services.config.kafkaBrokers!.join(','),
      CLICKHOUSE_URL: gw.clickhouse.url,
      MEDALLION_GROUP_ID: 'medallion-worker-clickhouse',
      MEDALLION_BATCH_INTERVAL_MS: '20',
      MEDALLION_SESSION_TIMEOUT_MS: '4000',
    });
    worker = await startMedallionWorker(config, {
      backends: gw.gateway.services.backends,
      stopTimeoutMs: 5_000,
      afterSinkInsert: async () => {
        if (!failNextMark) return;
        failNextMark = false;
        throw new Error('killed between the insert and its mark');
      },
    });
  }, 90_000);
  afterAll(async () => {
    await worker?.stop();
    await gw?.close();
  });

  async function ingestAndCommit(userId: string, amount: number): Promise<string> {
    const { body } = await gw.request<{ ingestEvent: { eventId: string; topic: string; partition: number; offset: string } }>(
      `mutation { ingestEvent(input: { eventType: BOOKING, userId: "${userId}", tourId: "TOUR0004", region: "VN", amount: ${amount}, currency: "USD" }) { eventId topic partition offset } }`,
    );
    const ack = body.data!.ingestEvent;
    const covers = (commit: MedallionCommit) => (decodeCursor(commit.position)?.positions.get(ack.topic)?.get(ack.partition) ?? -1n) >= BigInt(ack.offset);
    if (!worker.lastCommit || !covers(worker.lastCommit)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no medallion commit within 20 s')), 20_000);
        const listener = (commit: MedallionCommit) => {
          if (!covers(commit)) return;
          clearTimeout(timer);
          worker.commits.off('commit', listener);
          resolve();
        };
        worker.commits.on('commit', listener);
      });
    }
    return ack.eventId;
  }

  const copies = async (eventId: string) =>
    Number((await gw.gateway.services.backends.analytics.query('SELECT count() AS n FROM events WHERE event_id = ?', [eventId]))[0]?.['n']);

  it('appends each promoted event once', async () => {
    const eventId = await ingestAndCommit('USER-WORKER-CH-1', 140);
    expect(await copies(eventId)).toBe(1);
  }, 60_000);

  it('does not append a batch twice when the sink failed after its insert and before its mark', async () => {
    failNextMark = true;
    const first = await ingestAndCommit('USER-WORKER-CH-2', 75);
    expect(failNextMark).toBe(false);
    const second = await ingestAndCommit('USER-WORKER-CH-2', 85);
    expect(await copies(first)).toBe(1);
    expect(await copies(second)).toBe(1);
  }, 60_000);
});
