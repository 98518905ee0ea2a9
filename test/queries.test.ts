import { startTestGateway } from './helpers/gateway.ts';
import { describeQuerySuite } from './suites/queries.suite.ts';

describeQuerySuite('embedded', () => startTestGateway(), { lakehouse: 'duckdb', analytics: 'duckdb', search: 'minisearch', cache: 'lru', bus: 'embedded' });
