import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled, ApolloServerPluginSchemaReportingDisabled, ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import { createPublisher } from '../ingest/publisher.ts';
import { gatewayBusTopics, loadSourceRegistry } from '../ingest/registry.ts';
import { ensureDemoData } from '../ingest/demo/generate.ts';
import { MedallionRunner, type PipelineRunRecord } from '../ingest/medallion/runner.ts';
import { medallionSinks } from '../ingest/medallion/sinks.ts';
import { EventFanout } from '../subscriptions/event-fanout.ts';
import { EventIndexer } from '../ingest/search-indexer.ts';
import type { SearchPort } from './backends/search/port.ts';
import { createBackends } from './backends/index.ts';
import { followCatalogueChanges, indexCatalogue, searchIndexIsLocal } from './backends/search/catalogue-index.ts';
import { CatalogueReplica } from './catalogue/replica.ts';
import { jitExecution } from './http/jit-execution.ts';
import type { Config } from './config.ts';
import type { GatewayContext, GatewayServices } from './context.ts';
import { overallHealth } from './health-report.ts';
import { backendExtensionsPlugin } from './http/backend-extensions-plugin.ts';
import { cachePolicyPlugin } from './http/cache-policy-plugin.ts';
import { createCorsPolicy } from './http/cors.ts';
import { createGraphiQLHandler } from './http/graphiql.ts';
import { formatErrorFor } from './http/format-error.ts';
import { createGraphQLHttpHandler, errorBody } from './http/graphql-http.ts';
import { createGraphQLSseHandler } from './http/graphql-sse.ts';
import { legacyJsonStatusPlugin } from './http/legacy-json-status.ts';
import { serveGraphQLWs } from './http/graphql-ws-server.ts';
import { GRAPHQL_PATH } from './http/paths.ts';
import { ResponseCache } from './http/response-cache.ts';
import { applyServerTimeouts, serverTimeoutOptions } from './http/server-timeouts.ts';
import { createRedisTableVersions } from './backends/cache/redis-table-versions.ts';
import { changeOfCommit } from './cache-tags/commit-tables.ts';
import type { SharedTableVersions } from './cache-tags/table-versions.ts';
import { createSubscriptionPipeline } from './http/subscription-pipeline.ts';
import { subscriptionTransportsPlugin } from './http/subscription-transports-plugin.ts';
import { createRestHandler } from './http/rest/handler.ts';
import { loadRestRoutes } from './http/rest/routes.ts';
import { createLogger, type Logger } from './logger.ts';
import { describeMemoryBudget } from './memory-budget.ts';
import { startMemoryReclaim } from './memory-reclaim.ts';
import { freshnessPlugin } from './freshness/freshness-plugin.ts';
import { startFreshness, type GatewayFreshness } from './freshness/gateway-freshness.ts';
import { medallionBusLag } from './observability/metrics-bus-lag.ts';
import { operationPlugin } from './observability/metrics-plugin.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { createTracing, type GatewayTracing } from './observability/tracing.ts';
import { queryLimitRules, queryLimitsOf } from './security/limits.ts';
import { queryCostPlugin } from './security/limits-plugin.ts';
import { QueryCostMeter } from './security/query-cost.ts';
import { createAuthenticator } from './security/authenticator.ts';
import { introspectionPlugin } from './security/introspection.ts';
import { AllowList, persistedQueryStore } from './security/persisted-queries.ts';
import { PrincipalRateLimiter } from './security/rate-limit.ts';
import { buildSchema, rootCachePolicies } from './schema.ts';

export { GRAPHQL_PATH };

/** A running gateway instance. */
export interface Gateway {
  readonly services: GatewayServices;
  readonly server: Server;
  readonly logger: Logger;
  /** `http://host:port` it listens on. */
  readonly url: string;
  /** Its Prometheus metrics (`GET /metrics`); absent when `METRICS=false`. */
  readonly metrics: GatewayMetrics | undefined;
  /** Its tracer provider's lifecycle (a no-op without an exporter). */
  readonly tracing: GatewayTracing;
  /** Drains requests and subscriptions, closes adapters and flushes the event log. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a gateway: opens the backends (building the demo data on first start), indexes search,
 * starts the embedded medallion step and the subscription fan-out, then listens for HTTP and
 * graphql-ws on one port.
 */
export async function startGateway(config: Config, logger: Logger = createLogger(config.logLevel), options: StartOptions = {}): Promise<Gateway> {
  const started = performance.now();
  const authenticator = createAuthenticator(config.auth);
  const metrics = config.metrics ? new GatewayMetrics() : undefined;
  const tracing = createTracing({
    endpoint: config.otelEndpoint,
    exporter: options.spanExporter,
    serviceName: config.otelServiceName,
    sampleRatio: config.otelSampleRatio,
  });
  const registry = await loadSourceRegistry(config.sourcesFile);
  // The bus carries every source's topic; subscriptions and the event index follow the event topics.
  const eventTopics = registry.eventTopics;
  // Besides the sources' topics the bus reads the dead letters and the medallion's commit
  // notifications (a medallion in another process publishes them); the fan-out and the event
  // index follow the event topics only, bronze skips the dead letters.
  const backends = await createBackends(config, { eventTopics: gatewayBusTopics(registry), logger });
  logger.info(describeMemoryBudget(config.memory), 'memory budget');
  let pipeline: MedallionRunner | undefined;
  let fanout: EventFanout | undefined;
  let rateLimiter: PrincipalRateLimiter | undefined;
  let freshness: GatewayFreshness | undefined;
  let sharedVersions: SharedTableVersions | undefined;
  try {
    if (backends.embedded && config.demoData && backends.lakehouseWrites.embedded) {
      const demo = await ensureDemoData(backends.embedded, {
        seed: config.demoSeed,
        scale: config.demoScale,
        ...(config.demoAnchor ? { anchor: config.demoAnchor } : {}),
      });
      logger.info({ ...demo }, demo.reused ? 'demo data reused' : 'demo data built');
    }
    // Catalogue reads from memory, kept as fresh as the pipeline (its commits reach it first, below).
    const catalogue = config.catalogueReplica.enabled ? new CatalogueReplica({ lakehouse: backends.lakehouse, maxRows: config.catalogueReplica.maxRows, logger }) : undefined;
    // Bounded: an unreachable lakehouse must not hold the start (reads go to it until the copy loads).
    if (catalogue) await Promise.race([catalogue.start(), sleep(Math.min(config.backendTimeoutMs, 5_000), undefined, { ref: false })]);
    // The tour index is built from the copy when it holds the catalogue (the same tables, not read twice).
    const heldCatalogue = catalogue && (() => catalogue.current?.rows());
    try {
      await indexCatalogue(backends.lakehouse, backends.search, heldCatalogue);
    } catch (error) {
      // Search is not essential: the gateway starts, search fields fail, health says why.
      logger.warn({ err: error }, 'search index not built at start');
    }

    // With Redis the cache is shared, and so are the versions of the tables cached answers read.
    sharedVersions = config.redisUrl ? createRedisTableVersions({ url: config.redisUrl, logger }) : undefined;
    const responseCache = new ResponseCache({ cache: backends.cache, sharedVersions });
    // Bounded: an unreachable Redis must not hold the start (the versions are read once it connects).
    if (sharedVersions && !(await responseCache.sharing(Math.min(config.backendTimeoutMs, 2_000)))) logger.warn('shared table versions not read yet (Redis unreachable?); read once it answers');
    fanout = new EventFanout({ bus: backends.bus, eventTopics, subscriberCapacity: config.memory.subscriberBufferEvents });
    fanout.start();
    // The medallion runs in the gateway by default when the lakehouse is embedded; with Trino a
    // worker runs it (MEDALLION=in-process runs it here anyway: tests, single-node setups).
    if ((config.medallion ?? (backends.lakehouseWrites.embedded ? 'in-process' : 'off')) === 'in-process') {
      pipeline = new MedallionRunner({
        writer: backends.lakehouseWrites.writer,
        bus: backends.bus,
        registry,
        debounceMs: config.medallionDebounceMs,
        intervalMs: config.medallionIntervalMs,
        housekeeping: config.housekeeping,
        logger,
        // With ClickHouse as the analytics role, promoted events are appended there too; catalogue changes reach the search index.
        sinks: medallionSinks({ backends, localSearch: true }),
      });
      if (metrics) {
        pipeline.runs.on('finished', (run: PipelineRunRecord) => metrics.pipelineRun(run));
        // Lag is measured on the embedded log; with Kafka the consumer group's lag is Kafka's figure.
        // (It reads the bronze cursor from the embedded lakehouse.)
        if (backends.bus.adapter === 'embedded' && backends.embedded && backends.lakehouseWrites.embedded) metrics.busLag('medallion', medallionBusLag(backends.embedded, logger));
      }
    }
    // With the medallion in another process, an in-process tour index follows the catalogue's commits
    // (then drops the search answers cached while the old index answered).
    const catalogueIndex = !pipeline && searchIndexIsLocal(backends.search)
      ? followCatalogueChanges({ lakehouse: backends.lakehouse, search: backends.search, held: heldCatalogue, onIndexed: () => responseCache.invalidate({ tables: ['silver.tours'] }), onError: (err) => logger.warn({ err }, 'search index not rebuilt after a catalogue change') })
      : undefined;
    // Before the medallion's first pass, so the watermark tracker hears it.
    // One feed of medallion commits (in-process runner or the bus): the watermark tracker, and the
    // response cache dropping exactly the answers that read a table a commit changed.
    freshness = startFreshness({
      config,
      backends,
      registry,
      pipeline,
      logger,
      // The catalogue replica catches up before anyone counts the commit as seen.
      beforeCommit: catalogue ? (commit) => catalogue.apply(commit) : undefined,
      onCommit: (commit) => (responseCache.invalidate(changeOfCommit(commit)), catalogueIndex?.onCommit(commit)),
    });
    await pipeline?.start();
    // A search engine with an event index of its own is kept current from the bus, once: by
    // whoever runs the medallion (this gateway, or the `npm run medallion` worker).
    const searchWithEvents = backends.search.indexEvents && pipeline ? (backends.search as SearchPort & Required<Pick<SearchPort, 'indexEvents'>>) : undefined;
    const indexer = searchWithEvents ? new EventIndexer({ bus: backends.bus, search: searchWithEvents, eventTopics, logger }) : undefined;
    indexer?.start();
    const services: GatewayServices = {
      config,
      backends,
      registry,
      publisher: createPublisher({ bus: backends.bus, registry }),
      fanout,
      pipeline,
      responseCache,
      freshness,
      catalogue,
      metrics,
      tracer: tracing.tracer,
    };

    // The federation subgraph is loaded only when enabled: its libraries cost ~0.1 s of start-up.
    const schemaOptions = { maxJsonDepth: config.maxJsonDepth };
    const schema = config.federation ? (await import('./federation/subgraph.ts')).buildSubgraph(schemaOptions).schema : buildSchema(schemaOptions);
    const restRoutes = config.restApi ? await loadRestRoutes(schema, config.restRoutesFile) : undefined;
    const limits = queryLimitsOf(config);
    const costMeter = new QueryCostMeter(schema, limits);
    // Per principal, shared through Redis when configured (a Redis outage falls back to per-instance counts).
    rateLimiter = config.rateLimits ? new PrincipalRateLimiter({ budgets: config.rateLimits, redisUrl: config.redisUrl, logger }) : undefined;
    await rateLimiter?.start();
    const persisted = config.persistedQueries;
    // The manifest's operations run by hash without registering; only allow-list mode refuses the rest.
    const manifest = persisted.manifest ? new AllowList(persisted.manifest, { bypassRole: persisted.bypassRole }) : undefined;
    const allowList = persisted.mode === 'allow-list' ? manifest : undefined;
    const apollo = new ApolloServer<GatewayContext>({
      // Queries compiled by graphql-jit (GRAPHQL_JIT; not with the federation subgraph, see jit-execution.ts).
      ...(config.graphqlJit && !config.federation ? { gateway: jitExecution(schema) } : { schema }),
      // Bearer credentials (not cookies) authenticate clients, so there is no ambient credential
      // for a cross-site request to abuse; the preflight requirement would only break plain GETs.
      csrfPrevention: false,
      // We drain on signals ourselves (stop()); Apollo's handler would re-raise SIGTERM mid-drain.
      stopOnTerminationSignals: false,
      introspection: true,
      includeStacktraceInErrorResponses: false,
      plugins: [
        ApolloServerPluginLandingPageDisabled(),
        ApolloServerPluginCacheControlDisabled(),
        ApolloServerPluginUsageReportingDisabled(),
        ApolloServerPluginSchemaReportingDisabled(),
        ApolloServerPluginInlineTraceDisabled(),
        introspectionPlugin({ challenge: authenticator.challenge }),
        cachePolicyPlugin(rootCachePolicies(schema)),
        operationPlugin({ metrics, tracing: tracing.tracer !== undefined }),
        queryCostPlugin(costMeter),
        subscriptionTransportsPlugin(),
        legacyJsonStatusPlugin(),
        ...(config.backendExtensions ? [backendExtensionsPlugin()] : []),
        // After the cache-policy plugin (it reads the policy) and last (its member ends `extensions`).
        freshnessPlugin(freshness),
      ],
      formatError: (formatted, error) => formatErrorFor(logger, formatted, error),
      // Query limits, all before execution: tokens while parsing, depth and aliases as validation
      // rules (cached with the document), cost per request (it depends on the variables).
      parseOptions: { maxTokens: limits.maxTokens },
      validationRules: queryLimitRules(limits),
      allowBatchedHttpRequests: config.maxBatchOperations > 1,
      // APQ registrations live in the cache role (shared with Redis); the manifest's hashes resolve
      // from it, even with APQ off.
      persistedQueries:
        persisted.apq || manifest
          ? { cache: persistedQueryStore({ cache: backends.cache, ttlMs: persisted.apqTtlMs, allowList: manifest, register: persisted.apq }), ttl: persisted.apqTtlMs / 1000 }
          : false,
    });
    await apollo.start();

    const graphql = createGraphQLHttpHandler({ apollo, services, responseCache: config.responseCache ? responseCache : undefined,
      authenticator,
      logger,
      maxBodyBytes: config.maxBodyBytes,
      maxBatchOperations: config.maxBatchOperations,
      rateLimiter,
      allowList,
    });
    const graphiql = config.graphiql ? createGraphiQLHandler({ endpoint: GRAPHQL_PATH }) : undefined;
    const cors = createCorsPolicy(config.cors);
    // Subscriptions over graphql-ws and SSE: one admission, limits and shared execution.
    const subscriptions = createSubscriptionPipeline({ schema, services, limits, costMeter, rateLimiter, allowList, logger });
    const sse = createGraphQLSseHandler({ services, authenticator, pipeline: subscriptions, cors, logger, maxBodyBytes: config.maxBodyBytes });
    const rest = restRoutes && createRestHandler({ routes: restRoutes, graphql, logger, maxBodyBytes: config.maxBodyBytes, challenge: authenticator.challenge });
    let draining = false;

    let inFlight = 0;
    let drained: (() => void) | undefined;
    const server = createServer(serverTimeoutOptions(config.httpTimeouts), cors.wrap((req, res) => {
      inFlight += 1;
      res.once('close', () => {
        inFlight -= 1;
        if (inFlight === 0) drained?.();
      });
      // While draining, answer what arrives but tell keep-alive clients to reconnect elsewhere.
      if (draining) res.setHeader('connection', 'close');
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q < 0 ? url : url.slice(0, q);
      const search = q < 0 ? '' : url.slice(q);
      if (pathname === GRAPHQL_PATH) {
        if (sse.wants(req)) return sse.handle(req, res, search);
        // Only a browser's page load can want GraphiQL; GraphQL requests skip its checks.
        if (graphiql && search === '' && req.headers.accept?.includes('text/html') && graphiql(req, res)) return;
        graphql(req, res, search);
        return;
      }
      if (graphiql && pathname.startsWith('/graphiql/') && graphiql(req, res)) return;
      if (rest?.(req, res, pathname, search)) return;
      // Liveness: the process serves. No backend is asked, so a down engine never restarts the pod.
      if (pathname === '/live') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        res.end('{"live":true}');
        return;
      }
      if (pathname === '/health' || pathname === '/ready') {
        void (async () => {
          const report = overallHealth(await backends.health());
          // Readiness is this instance's own state (it drains), not its backends': every instance
          // shares them, so failing readiness on an engine outage would take every gateway out of
          // the Service at once, where partial and stale answers would still serve.
          const ok = pathname === '/ready' ? !draining : report.status !== 'DOWN';
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
          res.end(JSON.stringify(pathname === '/ready' ? { ready: ok, status: report.status } : report));
        })();
        return;
      }
      // Unauthenticated by design: scrape it from the internal network (see README).
      if (pathname === '/metrics' && metrics) {
        if (req.method === 'GET' || req.method === 'HEAD') metrics.serve(res);
        else {
          res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json; charset=utf-8' });
          res.end(errorBody('Metrics are read with GET.', 'BAD_USER_INPUT'));
        }
        return;
      }
      if (pathname === '/') {
        res.writeHead(302, { location: GRAPHQL_PATH });
        res.end();
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(errorBody(`No route ${pathname}; GraphQL is at ${GRAPHQL_PATH}.`, 'BAD_USER_INPUT'));
    }));
    applyServerTimeouts(server, config.httpTimeouts);

    const wsCleanup = serveGraphQLWs({ server, schema, services, authenticator, pipeline: subscriptions, cors, metrics, logger });

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `http://${host}:${address.port}`;
    // What each role runs on, as the backends say (not which URLs are set).
    const adapters = { lakehouse: backends.lakehouse.adapter, analytics: backends.analytics.adapter, search: backends.search.adapter, cache: backends.cache.adapter, bus: backends.bus.adapter };
    const engines = Object.values(adapters).every((adapter) => EMBEDDED_ADAPTERS.has(adapter)) ? 'embedded mode' : 'production engines';
    const demo = backends.embedded && config.demoData && backends.lakehouseWrites.embedded ? ', demo data' : '';
    if (authenticator.mode === 'open') {
      logger.warn(
        { authMode: 'open' },
        'Access is OPEN: no authentication, every caller has the admin role. Set API_KEYS, API_KEYS_FILE, JWT_SECRET or JWT_JWKS_URL (or AUTH_MODE=enforce) before exposing this gateway.',
      );
    }
    logger.info(
      { url: `${url}${GRAPHQL_PATH}`, startMs: Math.round(performance.now() - started), authMode: authenticator.mode, adapters, medallion: pipeline ? 'in-process' : 'off' },
      `Nexus Gateway ready (${engines}: ${authenticator.description}${demo})`,
    );

    const stopReclaim = config.memoryReclaim
      ? startMemoryReclaim({ onReclaim: (f) => logger.debug({ heapBeforeMiB: Math.round(f.heapBeforeBytes / 1_048_576), heapAfterMiB: Math.round(f.heapAfterBytes / 1_048_576), pauseMs: Math.round(f.pauseMs) }, 'heap given back after load') })
      : () => undefined;
    let stopping: Promise<void> | undefined;
    const finalFanout = fanout;
    const finalPipeline = pipeline;
    return {
      services,
      server,
      logger,
      url,
      metrics,
      tracing,
      stop() {
        stopping ??= (async () => {
          draining = true;
          stopReclaim();
          logger.info('draining');
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          finalFanout.stop();
          await wsCleanup.dispose();
          sse.dispose();
          // Requests already running finish (bounded by the backend timeout), then sockets close.
          if (inFlight > 0) {
            await new Promise<void>((resolve) => {
              drained = resolve;
              setTimeout(resolve, Math.min(config.backendTimeoutMs, 10_000)).unref();
            });
          }
          await apollo.stop();
          server.closeAllConnections();
          await closed;
          await finalPipeline?.stop();
          freshness?.close();
          services.catalogue?.close();
          await indexer?.stop();
          await responseCache.close();
          await rateLimiter?.close();
          await backends.close();
          // Exports the spans still buffered.
          await tracing.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'spans not exported at shutdown'));
          logger.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    fanout?.stop();
    freshness?.close();
    await pipeline?.stop().catch(() => undefined);
    await rateLimiter?.close().catch(() => undefined);
    await sharedVersions?.close().catch(() => undefined);
    await backends.close().catch(() => undefined);
    await tracing.shutdown().catch(() => undefined);
    throw error;
  }
}

/** The in-process adapters of the five roles. */
const EMBEDDED_ADAPTERS = new Set(['duckdb', 'minisearch', 'lru', 'embedded']);

/** Options of `startGateway` that configuration does not carry. */
export interface StartOptions {
  /** Exports spans here instead of OTLP (tests pass an in-memory exporter). Default: OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else no tracing. */
  spanExporter?: SpanExporter;
}
