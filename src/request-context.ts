import { randomUUID } from 'node:crypto';
import { createLoaders } from '../loaders/index.ts';
import type { SharedRowCache } from '../loaders/shared-cache.ts';
import type { GatewayContext, GatewayServices } from './context.ts';
import { BackendCallLog, instrumentSearch, instrumentSql } from './observability/backend-calls.ts';

/** A fresh context for one operation: its own loaders (their memo is per request) and call log. */
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
    loaders: createLoaders({ lakehouse, analytics, shared: sharedRows(services) }),
    calls,
    cachePolicy: { maxAge: 0 },
  };
}

/** Gives a long-lived context (a subscription's) fresh loaders, so cached rows never go stale between events. */
export function renewLoaders(context: GatewayContext): void {
  context.loaders = createLoaders({ lakehouse: context.lakehouse, analytics: context.analytics, shared: sharedRows(context.services) });
}

function sharedRows(services: GatewayServices): SharedRowCache | undefined {
  const ttlMs = services.config.loaderCacheTtlMs;
  if (ttlMs <= 0) return undefined;
  return { cache: services.backends.cache, ttlMs, generation: () => services.responseCache.currentGeneration };
}
