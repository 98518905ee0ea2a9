import { startTestGateway } from './helpers/gateway.ts';
import { describeSubscriptionSuite } from './suites/subscriptions.suite.ts';

describeSubscriptionSuite('embedded', () => startTestGateway(), 'embedded');
