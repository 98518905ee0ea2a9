import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { describeWithPeer } from '../helpers/peers.ts';

const INGEST = 'mutation ($input: EventInput!) { ingestEvent(input: $input) { eventId } }';
const EVENTS = 'query ($user: ID!) { events(filter: { userId: $user }, first: 10) { edges { node { id: eventId } } } }';

describeWithPeer('one DATA_DIR, the embedded bus then Kafka, then embedded again', 'kcat', 'kcat', () => {
  let dataDir: string;
  let kafka: KafkaMock;
  const gateways: TestGateway[] = [];
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-bus-switch-'));
    kafka = await startKafkaMock();
  }, 30_000);
  afterAll(async () => {
    for (const gw of gateways) await gw.close().catch(() => undefined);
    await kafka?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Starts a gateway on the shared DATA_DIR, with its warnings captured. */
  async function start(env: Record<string, string>) {
    const warnings: { msg: string; position?: string; bus?: string }[] = [];
    const logger = createLogger('warn', {
      write: (line: string) => {
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (entry.level === 40) warnings.push(entry);
      },
    });
    const gw = await startTestGateway({ dataDir, env, logger });
    gateways.push(gw);
    return { gw, warnings };
  }

  async function ingestAndPromote(gw: TestGateway, userId: string): Promise<string[]> {
    const { body } = await gw.request<{ ingestEvent: { eventId: string } }>(INGEST, { input: { eventType: 'VIEW', userId, tourId: 'TOUR0001', region: 'VN' } });
    expect(body.errors).toBeUndefined();
    await gw.gateway.services.pipeline!.settle();
    const events = await gw.request<{ events: { edges: { node: { id: string } }[] } }>(EVENTS, { user: userId });
    return events.body.data!.events.edges.map((e) => e.node.id).concat(body.data!.ingestEvent.eventId);
  }

  it('starts with KAFKA_BROKERS on a DATA_DIR the embedded bus used, says what was reset, and serves', async () => {
    const embedded = await start({});
    const [seen, published] = await ingestAndPromote(embedded.gw, 'USER-SWITCH-1');
    expect(seen).toBe(published);
    await embedded.gw.close();

    const onKafka = await start({ KAFKA_BROKERS: kafka.brokers.join(',') });
    const reset = onKafka.warnings.find((w) => w.msg.includes('bronze reset to the start of the bus'));
    expect(reset).toMatchObject({ bus: 'kafka', position: expect.stringMatching(/^\d+$/) });
    expect(reset?.msg).toContain('not a position on this kafka bus');
    const ids = await ingestAndPromote(onKafka.gw, 'USER-SWITCH-2');
    expect(ids[0]).toBe(ids[1]);
    // What the embedded bus landed before is still there.
    const before = await onKafka.gw.request<{ events: { edges: unknown[] } }>(EVENTS, { user: 'USER-SWITCH-1' });
    expect(before.body.data?.events.edges).toHaveLength(1);
    await onKafka.gw.close();
  }, 120_000);

  it('starts embedded again after Kafka on the same DATA_DIR, with the same warning', async () => {
    const again = await start({});
    const reset = again.warnings.find((w) => w.msg.includes('bronze reset to the start of the bus'));
    expect(reset).toMatchObject({ bus: 'embedded', position: expect.stringMatching(/^[A-Za-z0-9_-]{8,}$/) });
    const ids = await ingestAndPromote(again.gw, 'USER-SWITCH-3');
    expect(ids[0]).toBe(ids[1]);
    // Landing the embedded log again keeps one copy of each event in silver.
    const before = await again.gw.request<{ events: { edges: unknown[] } }>(EVENTS, { user: 'USER-SWITCH-1' });
    expect(before.body.data?.events.edges).toHaveLength(1);
  }, 120_000);
});
