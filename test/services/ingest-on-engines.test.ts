import { startEngineGateway, missingEnginePeer } from '../helpers/engines.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { describeIngestSuite } from '../suites/ingest.suite.ts';
import { describeSubscriptionSuite } from '../suites/subscriptions.suite.ts';

// The write and live suites again, with ClickHouse, Redis and Kafka configured at once: ingest
// publishes to Kafka, subscribers follow its tail, and the medallion lands from it and appends
// promoted events to ClickHouse.
const missing = missingEnginePeer();
describeWithPeer('production engines', missing ?? 'clickhouse-server', missing ?? 'clickhouse-server', () => {
  describeIngestSuite('ClickHouse + Redis + Kafka', () => startEngineGateway(), 'kafka');
  describeSubscriptionSuite('ClickHouse + Redis + Kafka', () => startEngineGateway(), 'kafka');
});
