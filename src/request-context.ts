import { randomUUID } from 'node:crypto';
import { createLoaders, type Loaders } from '../loaders/index.ts';
import type { SharedRowCache } from '../loaders/shared-cache.ts';
import type { SqlEngine } from './backends/sql/port.ts';
import { CatalogueReads } from './catalogue/reads.ts';
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
  // Built on first use: a subscriber that joins a shared subscription never executes in its own
  // context, and ten thousand of them would each hold a dozen idle loaders.
  let loaders: Loaders | undefined;
  let catalogue: CatalogueReads | undefined;
  const catalogueOf = () => (catalogue ??= new CatalogueReads(services.catalogue, lakehouse, calls));
  return {
    services,
    requestId,
    principal: principal ?? (services.config.auth.mode === 'open' ? OPEN_PRINCIPAL : anonymousPrincipal(undefined)),
    lakehouse,
    analytics,
    search: instrumentSearch(services.backends.search, calls, services),
    get catalogue(): CatalogueReads {
      return catalogueOf();
    },
    get loaders(): Loaders {
      return (loaders ??= loadersFor(services, lakehouse, analytics, catalogueOf()));
    },
    set loaders(value: Loaders) {
      loaders = value;
    },
    calls,
    observed: newObservation(),
    cachePolicy: { maxAge: 0 },
  };
}

/** Gives a long-lived context (a subscription's) fresh loaders, so cached rows never go stale between events. */
export function renewLoaders(context: GatewayContext): void {
  context.loaders = loadersFor(context.services, context.lakehouse, context.analytics, context.catalogue);
}

function loadersFor(services: GatewayServices, lakehouse: SqlEngine, analytics: SqlEngine, catalogue: CatalogueReads) {
  return createLoaders({ lakehouse, analytics, catalogue, shared: sharedRows(services), tracer: services.tracer });
}

/** The cross-request row cache of a gateway: built once per services, not per request. */
const sharedRowCaches = new WeakMap<GatewayServices, SharedRowCache | undefined>();

function sharedRows(services: GatewayServices): SharedRowCache | undefined {
  if (sharedRowCaches.has(services)) return sharedRowCaches.get(services);
  const ttlMs = services.config.loaderCacheTtlMs;
  const shared = ttlMs <= 0 ? undefined : { cache: services.backends.cache, ttlMs, versionOf: (tables: readonly string[]) => services.responseCache.versionOf(tables) };
  sharedRowCaches.set(services, shared);
  return shared;
}
