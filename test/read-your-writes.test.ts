import { startTestGateway } from './helpers/gateway.ts';
import { describeReadYourWrites } from './suites/read-your-writes.suite.ts';

describeReadYourWrites('embedded log', (env) => startTestGateway({ env }));
