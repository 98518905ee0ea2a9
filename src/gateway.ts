import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled, ApolloServerPluginSchemaReportingDisabled, ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createPublisher } from '../ingest/publisher.ts';
import { loadSourceRegistry } from '../ingest/registry.ts';
import { ensureDemoData } from '../ingest/demo/generate.ts';
import { MedallionRunner } from '../ingest/medallion/runner.ts';
import { EventFanout } from '../subscriptions/event-fanout.ts';
import { createSharedSubscribe } from '../subscriptions/shared-subscribe.ts';
import { EventIndexer } from '../ingest/search-indexer.ts';
import type { SearchPort } from './backends/search/port.ts';
import { createBackends } from './backends/index.ts';
import { toursPage, destinationsPage } from './backends/lakehouse/queries.ts';
import type { Config } from './config.ts';
import type { GatewayContext, GatewayServices } from './context.ts';
import { BackendError, normaliseError } from './errors.ts';
import { overallHealth } from './health-report.ts';
import { backendExtensionsPlugin } from './http/backend-extensions-plugin.ts';
import { cachePolicyPlugin } from './http/cache-policy-plugin.ts';
import { createGraphiQLHandler } from './http/graphiql.ts';
import { createGraphQLHttpHandler, errorBody } from './http/graphql-http.ts';
import { ResponseCache } from './http/response-cache.ts';
import { createLogger, type Logger } from './logger.ts';
import { createRequestContext, renewLoaders } from './request-context.ts';
import { buildSchema, rootCachePolicies } from './schema.ts';

/** The GraphQL path for HTTP and WebSocket alike. */
export const GRAPHQL_PATH = '/graphql';

/** A running gateway instance. */
export interface Gateway {
  readonly services: GatewayServices;
  readonly server: Server;
  readonly logger: Logger;
  /** `http://host:port` it listens on. */
  readonly url: string;
  /** Drains requests and subscriptions, closes adapters and flushes the event log. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a gateway: opens the backends (building the demo data on first start), indexes search,
 * starts the embedded medallion step and the subscription fan-out, then listens for HTTP and
 * graphql-ws on one port.
 */
export async function startGateway(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<Gateway> {
  const started = performance.now();
  const registry = await loadSourceRegistry(config.sourcesFile);
  // The bus carries every source's topic; subscriptions and the event index follow the event topics.
  const eventTopics = registry.eventTopics;
  const backends = await createBackends(config, { eventTopics: registry.topics, logger });
  let pipeline: MedallionRunner | undefined;
  let fanout: EventFanout | undefined;
  try {
    if (backends.embedded && config.demoData && !config.trinoUrl) {
      const demo = await ensureDemoData(backends.embedded, {
        seed: config.demoSeed,
        scale: config.demoScale,
        ...(config.demoAnchor ? { anchor: config.demoAnchor } : {}),
      });
      logger.info({ ...demo }, demo.reused ? 'demo data reused' : 'demo data built');
    }
    try {
      await indexSearch(backends);
    } catch (error) {
      // Search is not essential: the gateway starts, search fields fail, health says why.
      logger.warn({ err: error }, 'search index not built at start');
    }

    const responseCache = new ResponseCache({ cache: backends.cache });
    fanout = new EventFanout({ bus: backends.bus, eventTopics });
    fanout.start();
    // The embedded medallion runs wherever the lakehouse is embedded, reading the bus (the
    // embedded log or Kafka); with Trino, the platform's Spark jobs fill Iceberg instead.
    if (backends.embedded && !config.trinoUrl) {
      pipeline = new MedallionRunner({
        database: backends.embedded,
        bus: backends.bus,
        registry,
        debounceMs: config.medallionDebounceMs,
        intervalMs: config.medallionIntervalMs,
        logger,
        onPromoted: (runs) => {
          responseCache.invalidate();
          logger.debug({ runs }, 'medallion promoted new records');
        },
      });
      await pipeline.start();
    }
    // A search engine with an event index of its own is kept current from the bus.
    const searchWithEvents = backends.search.indexEvents ? (backends.search as SearchPort & Required<Pick<SearchPort, 'indexEvents'>>) : undefined;
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
    };

    const schema = buildSchema();
    const apollo = new ApolloServer<GatewayContext>({
      schema,
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
        cachePolicyPlugin(rootCachePolicies(schema)),
        ...(config.backendExtensions ? [backendExtensionsPlugin()] : []),
      ],
      formatError: (formatted, error) => formatErrorFor(logger, formatted, error),
    });
    await apollo.start();

    const graphql = createGraphQLHttpHandler({ apollo, services, responseCache: config.responseCache ? responseCache : undefined, logger });
    const graphiql = config.graphiql ? createGraphiQLHandler({ endpoint: GRAPHQL_PATH }) : undefined;
    let draining = false;

    let inFlight = 0;
    let drained: (() => void) | undefined;
    const server = createServer((req, res) => {
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
        // Only a browser's page load can want GraphiQL; GraphQL requests skip its checks.
        if (graphiql && search === '' && req.headers.accept?.includes('text/html') && graphiql(req, res)) return;
        graphql(req, res, search);
        return;
      }
      if (graphiql && pathname.startsWith('/graphiql/') && graphiql(req, res)) return;
      if (pathname === '/health' || pathname === '/ready') {
        void (async () => {
          const report = overallHealth(await backends.health());
          const ok = pathname === '/ready' ? !draining && report.status !== 'DOWN' : report.status !== 'DOWN';
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
          res.end(JSON.stringify(pathname === '/ready' ? { ready: ok, status: report.status } : report));
        })();
        return;
      }
      if (pathname === '/') {
        res.writeHead(302, { location: GRAPHQL_PATH });
        res.end();
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(errorBody(`No route ${pathname}; GraphQL is at ${GRAPHQL_PATH}.`, 'BAD_USER_INPUT'));
    });
    server.keepAliveTimeout = 65_000;

    const wsServer = new WebSocketServer({ server, path: GRAPHQL_PATH });
    const shared = createSharedSubscribe({
      personalArguments: ['fromOffset'],
      // A subscription lives long: give its loaders a fresh (empty) cache for every event.
      afterResult: (contextValue) => renewLoaders(contextValue as GatewayContext),
    });
    const wsCleanup = useServer<Record<string, unknown>, Record<string, unknown>>(
      {
        schema,
        context: () => createRequestContext(services),
        subscribe: (args) => shared.subscribe(args),
        onNext: (_ctx, _id, _payload, args, result) => {
          // Personal (replaying) subscriptions execute per subscriber; renew their loaders too.
          if (!shared.isShared(args.contextValue)) renewLoaders(args.contextValue as GatewayContext);
          return result.errors ? { ...result, errors: result.errors.map((e) => formatErrorFor(logger, e.toJSON(), e)) } : result;
        },
        onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatErrorFor(logger, e.toJSON(), e)),
      },
      wsServer,
    );

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
    logger.info({ url: `${url}${GRAPHQL_PATH}`, startMs: Math.round(performance.now() - started) }, 'Nexus Gateway ready (embedded mode: open access, demo data)');

    let stopping: Promise<void> | undefined;
    const finalFanout = fanout;
    const finalPipeline = pipeline;
    return {
      services,
      server,
      logger,
      url,
      stop() {
        stopping ??= (async () => {
          draining = true;
          logger.info('draining');
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          finalFanout.stop();
          await wsCleanup.dispose();
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
          await indexer?.stop();
          responseCache.close();
          await backends.close();
          logger.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    fanout?.stop();
    await pipeline?.stop().catch(() => undefined);
    await backends.close().catch(() => undefined);
    throw error;
  }
}

/** Builds the search index from the lakehouse (all tours, destination names). */
async function indexSearch(backends: Awaited<ReturnType<typeof createBackends>>): Promise<void> {
  const destinations = await destinationsPage(backends.lakehouse, { first: 100_000 });
  const tours = await toursPage(backends.lakehouse, { first: 1_000_000 });
  await backends.search.indexTours(tours.rows, new Map(destinations.rows.map((d) => [d.id, d.name])));
}

/** Client-facing form of an error (through the one normalisation point); unexpected ones are logged whole. */
function formatErrorFor(logger: Logger, formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const graphQLError = error instanceof GraphQLError ? error : new GraphQLError(formatted.message, { originalError: error as Error });
  const { error: normalised, unexpected } = normaliseError(graphQLError);
  if (unexpected instanceof BackendError) logger.warn({ err: unexpected, path: normalised.path }, normalised.message);
  else if (unexpected !== undefined) logger.error({ err: unexpected, path: normalised.path }, normalised.message);
  const json = normalised.toJSON();
  const code = json.extensions?.['code'] ?? formatted.extensions?.['code'];
  if (typeof code === 'string' && APOLLO_REQUEST_ERRORS.has(code)) {
    // Requests that are wrong before execution: one client-facing code, Apollo's kept as the reason.
    return { ...json, extensions: { ...json.extensions, code: 'BAD_USER_INPUT', reason: code } };
  }
  return { ...json, extensions: { ...formatted.extensions, ...json.extensions } };
}

/** Apollo's codes for requests rejected before execution (parse, validation, malformed HTTP). */
const APOLLO_REQUEST_ERRORS = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE']);
