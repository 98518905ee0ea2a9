import { startTestGateway } from './helpers/gateway.ts';
import { describeQuerySuite } from './suites/queries.suite.ts';

const EMBEDDED = { lakehouse: 'duckdb', analytics: 'duckdb', search: 'minisearch', cache: 'lru', bus: 'embedded' };

describeQuerySuite('embedded', () => startTestGateway(), EMBEDDED);
// The same answers with the catalogue read from the lakehouse's SQL instead of the in-process replica.
describeQuerySuite('embedded, catalogue on the lakehouse', () => startTestGateway({ env: { CATALOGUE_REPLICA: 'false' } }), { ...EMBEDDED, catalogue: 'duckdb' });
