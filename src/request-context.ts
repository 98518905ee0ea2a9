import { randomUUID } from 'node:crypto';
import { createLoaders } from '../loaders/index.ts';
import type { SharedRowCache } from '../loaders/shared-cache.ts';
import type { GatewayContext, GatewayServices } from './context.ts';
import { BackendCallLog, instrumentSearch, instrumentSql } from './observability/backend-calls.ts';
import { anonymousPrincipal, OPEN_PRINCIPAL } from './security/authenticator.ts';
import type { Principal } from './security/principal.ts';
import { newObservation } from './observability/request-log.ts';

/**
 * A fresh context for one operation: its own loaders (their memo is per request) and call log.
 * Without a principal, the context gets what a caller without credentials gets: admin in open
 * mode, `public` when authentication is enforced.
 */
export function createRequestContext(services: GatewayServices, requestId: string = randomUUID(), principal?: Principal): GatewayContext {
  const calls = new BackendCallLog();
  // The services carry the gateway's metrics and tracer (when it has them): the calls' other observers.
  const lakehouse = instrumentSql(services.backends.lakehouse, calls, services);
  const analytics = instrumentSql(services.backends.analytics, calls, services);
  return {
    services,
    requestId,
    principal: principal ?? (services.config.auth.mode === 'open' ? OPEN_PRINCIPAL : anonymousPrincipal(undefined)),
    lakehouse,
    analytics,
    search: instrumentSearch(services.backends.search, calls, services),
    loaders: createLoaders({ lakehouse, analytics, shared: sharedRows(services), tracer: services.tracer }),
    calls,
    observed: newObservation(),
    cachePolicy: { maxAge: 0 },
  };
}

/** Gives a long-lived context (a subscription's) fresh loaders, so cached rows never go stale between events. */
export function renewLoaders(context: GatewayContext): void {
  context.loaders = createLoaders({
    lakehouse: context.lakehouse,
    analytics: context.analytics,
    shared: sharedRows(context.services),
    tracer: context.services.tracer,
  });
}

function sharedRows(services: GatewayServices): SharedRowCache | undefined {
  const ttlMs = services.config.loaderCacheTtlMs;
  if (ttlMs <= 0) return undefined;
  return { cache: services.backends.cache, ttlMs, generation: () => services.responseCache.currentGeneration };
}
