import type { Tracer } from '@opentelemetry/api';
import type { Loaders } from '../loaders/index.ts';
import type { Publisher } from '../ingest/publisher.ts';
import type { SourceRegistry } from '../ingest/registry.ts';
import type { MedallionRunner } from '../ingest/medallion/runner.ts';
import type { EventFanout } from '../subscriptions/event-fanout.ts';
import type { Backends } from './backends/index.ts';
import type { CatalogueReads } from './catalogue/reads.ts';
import type { CatalogueReplica } from './catalogue/replica.ts';
import type { SearchPort } from './backends/search/port.ts';
import type { SqlEngine } from './backends/sql/port.ts';
import type { Config } from './config.ts';
import type { ResponseCache } from './http/response-cache.ts';
import type { GatewayFreshness } from './freshness/gateway-freshness.ts';
import type { BackendCallLog } from './observability/backend-calls.ts';
import type { Principal } from './security/principal.ts';
import type { GatewayMetrics } from './observability/metrics.ts';
import type { OperationObservation } from './observability/request-log.ts';

/** Long-lived services shared by every request of a gateway instance. */
export interface GatewayServices {
  config: Config;
  backends: Backends;
  registry: SourceRegistry;
  publisher: Publisher;
  fanout: EventFanout;
  /** The gateway's Prometheus metrics (`GET /metrics`); absent when `METRICS=false`. */
  metrics?: GatewayMetrics | undefined;
  /** Makes spans when an OTLP endpoint is configured; absent otherwise (no span work at all). */
  tracer?: Tracer | undefined;
  /** Whole-response cache; `invalidate()` is the hook for anything that changes data. */
  responseCache: ResponseCache;
  /** Medallion watermarks (`extensions.freshness`, `@readAfter`) and answers kept for stale-while-error. */
  freshness: GatewayFreshness;
  /** The embedded medallion step; absent when the platform's own jobs run it. */
  pipeline: MedallionRunner | undefined;
  /** The in-process copy of the catalogue tables; absent when `CATALOGUE_REPLICA=false`. */
  catalogue?: CatalogueReplica | undefined;
}

/** What every resolver receives: the services plus this request's loaders and instrumented ports. */
export interface GatewayContext {
  services: GatewayServices;
  requestId: string;
  /** Who is calling (authenticated before execution); `@auth` rules are checked against it. */
  principal: Principal;
  /** This request's views of the SQL and search roles (they count calls into `calls`). */
  lakehouse: SqlEngine;
  analytics: SqlEngine;
  search: SearchPort;
  /** Tours and destinations: from the catalogue replica while it is current, else the lakehouse. */
  catalogue: CatalogueReads;
  loaders: Loaders;
  calls: BackendCallLog;
  /** The operation's name, type and error codes, as the operation plugin saw them (for the request's log line). */
  observed: OperationObservation;
  /**
   * Seconds this request's answer may be served from the response cache (0: never), set by the
   * cache-policy plugin, with the tables the answer reads (its cache tags; absent: unknown, any
   * table). A holder object because Apollo hands plugins a shallow copy of the context.
   */
  cachePolicy: { maxAge: number; tables?: readonly string[] };
}
