import { randomUUID } from 'node:crypto';
import { createLoaders } from '../loaders/index.ts';
import type { GatewayContext, GatewayServices } from './context.ts';
import { BackendCallLog, instrumentSearch, instrumentSql } from './observability/backend-calls.ts';

/** A fresh context for one operation: its own loaders (no cross-request cache) and call log. */
export function createRequestContext(services: GatewayServices, requestId: string = randomUUID()): GatewayContext {
  const calls = new BackendCallLog();
  const lakehouse = instrumentSql(services.backends.lakehouse, calls);
  const analytics = instrumentSql(services.backends.analytics, calls);
  return {
    services,
    requestId,
    lakehouse,
    analytics,
    search: instrumentSearch(services.backends.search, calls),
    loaders: createLoaders({ lakehouse, analytics }),
    calls,
    cachePolicy: { maxAge: 0 },
  };
}

/** Gives a long-lived context (a subscription's) fresh loaders, so cached rows never go stale between events. */
export function renewLoaders(context: GatewayContext): void {
  context.loaders = createLoaders({ lakehouse: context.lakehouse, analytics: context.analytics });
}
