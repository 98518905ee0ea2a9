import { startEngineGateway, missingEnginePeer } from '../helpers/engines.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { describeQuerySuite } from '../suites/queries.suite.ts';

// The whole read suite again, with ClickHouse, Redis and Kafka configured at once.
const missing = missingEnginePeer();
describeWithPeer('production engines', missing ?? 'clickhouse-server', missing ?? 'clickhouse-server', () => {
  describeQuerySuite('ClickHouse + Redis + Kafka', () => startEngineGateway(), {
    lakehouse: 'duckdb',
    analytics: 'clickhouse',
    search: 'minisearch',
    cache: 'redis',
    bus: 'kafka',
  });
});
