import { randomUUID } from 'node:crypto';
import { createLoaders, type Loaders } from '../loaders/index.ts';
import type { SharedRowCache } from '../loaders/shared-cache.ts';
import type { SearchPort } from './backends/search/port.ts';
import type { SqlEngine } from './backends/sql/port.ts';
import { CatalogueReads } from './catalogue/reads.ts';
import type { GatewayContext, GatewayServices } from './context.ts';
import { BackendCallLog, instrumentSearch, instrumentSql } from './observability/backend-calls.ts';
import { anonymousPrincipal, OPEN_PRINCIPAL } from './security/authenticator.ts';
import type { Principal } from './security/principal.ts';
import { newObservation, type OperationObservation } from './observability/request-log.ts';

/**
 * A fresh context for one operation: its own loaders (their memo is per request) and call log.
 * Without a principal, the context gets what a caller without credentials gets: admin in open
 * mode, `public` when authentication is enforced.
 */
export function createRequestContext(services: GatewayServices, requestId: string = newRequestId(), principal?: Principal): GatewayContext {
  return new RequestContext(services, requestId, principal ?? (services.config.auth.mode === 'open' ? OPEN_PRINCIPAL : anonymousPrincipal(undefined)));
}

/**
 * Gives a long-lived context (a subscription's) fresh loaders, so cached rows never go stale
 * between events: the next event that needs them builds them.
 */
export function renewLoaders(context: GatewayContext): void {
  if (context instanceof RequestContext) context.forgetLoaders();
  else context.loaders = loadersFor(context.services, context.lakehouse, context.analytics, context.catalogue);
}

/**
 * The context as an object whose backend views and loaders are built on first use. A subscriber
 * that joins a shared subscription never executes in its own context: ten thousand of them would
 * otherwise each hold three instrumented ports (with their closures) and a dozen idle loaders.
 * Accessors live on the prototype, so a context is one small object with no closures of its own.
 * Apollo runs a shallow copy (`Object.create(prototype)` plus the own fields): the copy shares the
 * call log, observation and cache policy, and builds its own stateless views when it needs them.
 */
class RequestContext implements GatewayContext {
  readonly services: GatewayServices;
  readonly requestId: string;
  readonly principal: Principal;
  readonly calls = new BackendCallLog();
  readonly observed: OperationObservation = newObservation();
  readonly cachePolicy: { maxAge: number; tables?: readonly string[] } = { maxAge: 0 };
  private lakehouseView: SqlEngine | undefined = undefined;
  private analyticsView: SqlEngine | undefined = undefined;
  private searchView: SearchPort | undefined = undefined;
  private loaderSet: Loaders | undefined = undefined;
  private catalogueReads: CatalogueReads | undefined = undefined;

  constructor(services: GatewayServices, requestId: string, principal: Principal) {
    this.services = services;
    this.requestId = requestId;
    this.principal = principal;
  }

  /** This request's view of the lakehouse (its calls are counted into `calls`). */
  get lakehouse(): SqlEngine {
    // The services carry the gateway's metrics and tracer (when it has them): the calls' other observers.
    return (this.lakehouseView ??= instrumentSql(this.services.backends.lakehouse, this.calls, this.services));
  }

  get analytics(): SqlEngine {
    return (this.analyticsView ??= instrumentSql(this.services.backends.analytics, this.calls, this.services));
  }

  get search(): SearchPort {
    return (this.searchView ??= instrumentSearch(this.services.backends.search, this.calls, this.services));
  }

  /** Tours and destinations: from the catalogue replica while it is current, else through this request's lakehouse view. */
  get catalogue(): CatalogueReads {
    return (this.catalogueReads ??= new CatalogueReads(this.services.catalogue, this.lakehouse, this.calls));
  }

  get loaders(): Loaders {
    return (this.loaderSet ??= loadersFor(this.services, this.lakehouse, this.analytics, this.catalogue));
  }

  set loaders(value: Loaders) {
    this.loaderSet = value;
  }

  /** Drops the loaders (and their memo); the next use builds fresh ones. */
  forgetLoaders(): void {
    this.loaderSet = undefined;
  }
}

/**
 * A random UUID held as one flat string. `randomUUID()` joins twenty pieces, which V8 keeps as a
 * tree of a dozen cons strings (~450 bytes instead of 56) until something flattens it, and a
 * subscription's context keeps its id for as long as the subscription lives.
 */
function newRequestId(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
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
