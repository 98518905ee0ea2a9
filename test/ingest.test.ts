import { startTestGateway } from './helpers/gateway.ts';
import { describeIngestSuite } from './suites/ingest.suite.ts';

describeIngestSuite('embedded', () => startTestGateway(), 'embedded');
