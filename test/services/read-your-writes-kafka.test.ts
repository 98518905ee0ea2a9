import { afterAll, beforeAll } from 'vitest';
import { startTestGateway } from '../helpers/gateway.ts';
import { startKafkaMock } from '../helpers/kafka-mock.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { describeReadYourWrites } from '../suites/read-your-writes.suite.ts';

describeWithPeer('read-your-writes on Kafka', 'kcat', 'kcat', () => {
  let kafka: Awaited<ReturnType<typeof startKafkaMock>>;
  beforeAll(async () => {
    kafka = await startKafkaMock();
  }, 60_000);
  afterAll(async () => {
    await kafka?.stop();
  });
  describeReadYourWrites('Kafka', (env) => startTestGateway({ env: { ...env, KAFKA_BROKERS: kafka.brokers.join(',') } }));
});
