import { startTestGateway } from './helpers/gateway.ts';
import { describeCatalogueUpdatesSuite } from './suites/catalogue-updates.suite.ts';

// The embedded gateway, its response cache on: answers cached before a change are dropped by the pass's commit.
describeCatalogueUpdatesSuite('embedded', (env) => startTestGateway({ env }));
