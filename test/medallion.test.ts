import { startTestGateway } from './helpers/gateway.ts';
import { describeMedallionSuite } from './suites/medallion.suite.ts';

describeMedallionSuite('embedded', (env) => startTestGateway({ env }));
