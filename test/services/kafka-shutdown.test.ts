/**
 * A gateway on Kafka whose cluster goes away: it starts without a runtime warning, and once the
 * brokers are gone its stop() ends within the drain budget and its log stays short (the first
 * failures, not one line per retry of every client).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { describeWithPeer } from '../helpers/peers.ts';

/**
 * Before the forced exit (src/main.ts exits 15 s after SIGTERM), with room for a loaded test
 * machine: what is checked is that stop() ends by itself with the brokers gone, the clients'
 * reconnect loops included (about 3 s on a quiet machine; it took 8 s and more before the closes
 * were bounded). The figure itself belongs to the notes, not to a timed assertion.
 */
const STOP_BUDGET_MS = 12_000;
/** Log lines from the brokers' going to the end of stop() (every client logged every retry: 50 and more here). */
const MAX_LINES = 20;

describeWithPeer('gateway on Kafka when the brokers go away', 'kcat', 'kcat', () => {
  let kafka: KafkaMock;
  let gw: TestGateway;
  const lines: string[] = [];
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeAll(async () => {
    process.on('warning', onWarning);
    kafka = await startKafkaMock();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    gw = await startTestGateway({ env: { KAFKA_BROKERS: kafka.brokers.join(','), BUS_TIMEOUT_MS: '2000' }, logger: createLogger('info', sink) });
  }, 60_000);
  afterAll(async () => {
    process.off('warning', onWarning);
    await gw?.close();
    await kafka?.stop();
  });

  it('starts without a runtime warning', async () => {
    // A round trip through the brokers first: the warning came after each client's first response.
    const { body } = await gw.request<{ ingestEvent: { offset: string } }>(
      'mutation { ingestEvent(input: { eventType: VIEW, userId: "USER000001", tourId: "TOUR0001" }) { offset } }',
    );
    expect(body.errors).toBeUndefined();
    // Warnings are emitted on the next tick of the process.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((warning) => `${warning.name}: ${warning.message}`)).toEqual([]);
  }, 30_000);

  it('stops within the drain budget and logs a bounded number of lines once the brokers are gone', async () => {
    await kafka.stop();
    const before = lines.length;
    // A mutation while the brokers are gone fails within the bus budget; the clients keep retrying meanwhile.
    const refused = await gw.request('mutation { ingestEvent(input: { eventType: VIEW, userId: "USER000001", tourId: "TOUR0001" }) { offset } }');
    expect(refused.body.errors?.[0]?.extensions?.['code']).toBe('BACKEND_UNAVAILABLE');
    const started = performance.now();
    await gw.gateway.stop();
    const tookMs = performance.now() - started;
    const written = lines.slice(before);
    expect(tookMs).toBeLessThan(STOP_BUDGET_MS);
    expect(written.length, written.join('\n')).toBeLessThanOrEqual(MAX_LINES);
    expect(written.at(-1)).toContain('"msg":"stopped"');
  }, 30_000);
});
