import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PipelineRunRecord } from '../platform/metadata.ts';
import type { BackendRole } from '../errors.ts';
import type { BackendCallMetrics, BackendCallOutcome } from './backend-calls.ts';

/** Operation types as labelled; `unknown` for requests refused before an operation was found. */
export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

/** Options of a gateway's metrics. */
export interface GatewayMetricsOptions {
  /** Distinct operation names kept as label values; later ones are counted as `other`. Default 200. */
  maxOperationNames?: number;
  /** Include the process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
}

/** Operation names longer than this are cut (a label value is stored with every series). */
const MAX_NAME_LENGTH = 64;
/** Distinct error codes kept as label values (the closed set is 8; room for Apollo's and future ones). */
const MAX_ERROR_CODES = 32;
/** Seconds: from a response-cache-speed execution to a backend timeout. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Counts of the response cache, by result. Plain numbers rather than metric children: the hit
 * path is the gateway's fastest (a benchmarked target), and a field increment is all it can
 * afford; the counter family reads them when scraped.
 */
export interface ResponseCacheCounts {
  /** Served from the cache. */
  hit: number;
  /** Served from an identical request's execution that was in flight (stampede protection). */
  coalesced: number;
  /** Executed and stored: a cacheable request the cache did not have. */
  miss: number;
  /** Executed and not stored: mutations, errors, fields with no cache policy. */
  bypass: number;
}

/** Pre-bound children of one operation (name and type): what one request records. */
export interface OperationMetrics {
  ok: Counter.Internal;
  error: Counter.Internal;
  duration: Histogram.Internal<'operation' | 'type'>;
}

/** Source of the bus-lag gauge: records behind the bus head, or undefined when unknown right now. */
export type BusLagSource = () => Promise<number | undefined>;

/**
 * The metrics of one gateway instance, in a registry of its own (tests run many gateways in one
 * process; prom-client's global registry would mix them). Scraped at `GET /metrics`.
 */
export class GatewayMetrics implements BackendCallMetrics {
  readonly registry = new Registry();
  readonly cacheCounts: ResponseCacheCounts = { hit: 0, coalesced: 0, miss: 0, bypass: 0 };
  private readonly requests: Counter<'operation' | 'type' | 'status'>;
  private readonly requestDuration: Histogram<'operation' | 'type'>;
  private readonly errors: Counter<'code'>;
  private readonly backendCallCount: Counter<'role' | 'adapter' | 'outcome'>;
  private readonly backendDuration: Histogram<'role' | 'adapter'>;
  private readonly subscriptions: Gauge;
  private readonly connections: Gauge;
  private readonly pipelineRuns: Counter<'layer' | 'status'>;
  private readonly pipelineRecords: Counter<'layer' | 'kind'>;
  private readonly operationNames: LabelCap;
  private readonly errorCodes = new LabelCap(MAX_ERROR_CODES, 'OTHER');
  private readonly operations = new Map<string, OperationMetrics>();
  private readonly backends = new Map<string, BoundBackendCall>();
  private readonly busLagSources = new Map<string, BusLagSource>();
  private readonly processMetrics: boolean;

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    this.operationNames = new LabelCap(options.maxOperationNames ?? 200, 'other');
    this.processMetrics = options.processMetrics ?? true;
    if (this.processMetrics) processRegistry();
    this.requests = new Counter({
      name: 'nexus_graphql_requests_total',
      help: 'GraphQL operations executed, by operation name, type and status (error: the response carried errors). Cache hits are counted in nexus_response_cache_requests_total.',
      labelNames: ['operation', 'type', 'status'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'nexus_graphql_request_duration_seconds',
      help: 'Time to execute a GraphQL operation (parse to response), by operation name and type.',
      labelNames: ['operation', 'type'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.errors = new Counter({ name: 'nexus_graphql_errors_total', help: 'GraphQL errors sent, by extensions.code.', labelNames: ['code'], registers });
    this.backendCallCount = new Counter({
      name: 'nexus_backend_calls_total',
      help: 'Calls to backends made by resolvers and loaders, by role, adapter and outcome (ok, error, timeout).',
      labelNames: ['role', 'adapter', 'outcome'],
      registers,
    });
    this.backendDuration = new Histogram({
      name: 'nexus_backend_call_duration_seconds',
      help: 'Time of one backend call, by role and adapter.',
      labelNames: ['role', 'adapter'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const counts = this.cacheCounts;
    new Counter({
      name: 'nexus_response_cache_requests_total',
      help: 'GraphQL HTTP requests by response-cache result: hit, coalesced (shared an identical in-flight execution), miss (executed and stored), bypass (executed, not cacheable).',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        for (const result of ['hit', 'coalesced', 'miss', 'bypass'] as const) this.inc({ result }, counts[result]);
      },
    });
    new Gauge({
      name: 'nexus_response_cache_hit_ratio',
      help: 'Share of cacheable requests answered without their own execution, (hit + coalesced) / (hit + coalesced + miss), since start. For a window, use rates of nexus_response_cache_requests_total.',
      registers,
      collect() {
        const served = counts.hit + counts.coalesced;
        const total = served + counts.miss;
        this.set(total === 0 ? 0 : served / total);
      },
    });
    this.subscriptions = new Gauge({ name: 'nexus_active_subscriptions', help: 'GraphQL operations running over graphql-ws (live subscriptions).', registers });
    this.connections = new Gauge({ name: 'nexus_ws_connections', help: 'Open graphql-ws connections.', registers });
    const lagSources = this.busLagSources;
    new Gauge({
      name: 'nexus_bus_lag_records',
      help: 'Records on the bus not yet processed by a consumer in this gateway, by consumer (medallion: newest event-log offset minus the offset its bronze layer has landed up to). Absent while unknown.',
      labelNames: ['consumer'],
      registers,
      async collect() {
        this.reset();
        for (const [consumer, source] of lagSources) {
          const lag = await source();
          if (lag !== undefined) this.set({ consumer }, lag);
        }
      },
    });
    this.pipelineRuns = new Counter({
      name: 'nexus_pipeline_runs_total',
      help: 'Medallion runs finished in this gateway, by layer and status.',
      labelNames: ['layer', 'status'],
      registers,
    });
    this.pipelineRecords = new Counter({
      name: 'nexus_pipeline_records_total',
      help: 'Records handled by medallion runs, by layer and kind (in: read, out: written, rejected).',
      labelNames: ['layer', 'kind'],
      registers,
    });
  }

  /** Label value of an operation name: `anonymous` when absent, cut to 64 characters, `other` past the cap. */
  operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    return this.operationNames.label(name.length > MAX_NAME_LENGTH ? name.slice(0, MAX_NAME_LENGTH) : name);
  }

  /** The children one request of this operation records into (made once per operation and type). */
  operation(name: string | null | undefined, type: OperationType): OperationMetrics {
    const operation = this.operationLabel(name);
    const key = `${type}\u0000${operation}`;
    let bound = this.operations.get(key);
    if (!bound) {
      bound = {
        ok: this.requests.labels(operation, type, 'ok'),
        error: this.requests.labels(operation, type, 'error'),
        duration: this.requestDuration.labels(operation, type),
      };
      this.operations.set(key, bound);
    }
    return bound;
  }

  /** Counts a request refused before any operation ran: an error request of no known operation, and its code. */
  refused(code: string): void {
    this.operation(null, 'unknown').error.inc();
    this.error(code);
  }

  /** Counts one error sent to a client. */
  error(code: unknown): void {
    const valid = typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code);
    this.errors.inc({ code: valid ? this.errorCodes.label(code) : 'OTHER' });
  }

  /** Pre-bound recorder of one role's calls (made once per role and adapter). */
  backendCalls(role: BackendRole, adapter: string): BoundBackendCall {
    const key = `${role}\u0000${adapter}`;
    let bound = this.backends.get(key);
    if (!bound) {
      bound = new BoundBackendCall(
        this.backendCallCount.labels(role, adapter, 'ok'),
        this.backendCallCount.labels(role, adapter, 'error'),
        this.backendCallCount.labels(role, adapter, 'timeout'),
        this.backendDuration.labels(role, adapter),
      );
      this.backends.set(key, bound);
    }
    return bound;
  }

  subscriptionStarted(): void {
    this.subscriptions.inc();
  }

  subscriptionEnded(): void {
    this.subscriptions.dec();
  }

  connectionOpened(): void {
    this.connections.inc();
  }

  connectionClosed(): void {
    this.connections.dec();
  }

  /** Counts a finished medallion run and its records. */
  pipelineRun(run: PipelineRunRecord): void {
    this.pipelineRuns.inc({ layer: run.layer, status: run.status.toLowerCase() });
    this.pipelineRecords.inc({ layer: run.layer, kind: 'in' }, run.recordsIn);
    this.pipelineRecords.inc({ layer: run.layer, kind: 'out' }, run.recordsOut);
    this.pipelineRecords.inc({ layer: run.layer, kind: 'rejected' }, run.recordsRejected);
  }

  /** Reports `consumer`'s lag behind the bus head at every scrape. */
  busLag(consumer: string, source: BusLagSource): void {
    this.busLagSources.set(consumer, source);
  }

  /** The exposition text: this gateway's families, then the process's. */
  async render(): Promise<string> {
    const own = await this.registry.metrics();
    return this.processMetrics ? own + (await processRegistry().metrics()) : own;
  }

  /** Answers a scrape (`GET /metrics`). */
  serve(res: ServerResponse): void {
    this.render().then(
      (body) => {
        res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  }
}

/** One role and adapter's children; `record` is called once per backend call. */
class BoundBackendCall {
  private readonly ok: Counter.Internal;
  private readonly failed: Counter.Internal;
  private readonly timedOut: Counter.Internal;
  private readonly duration: Histogram.Internal<'role' | 'adapter'>;

  constructor(ok: Counter.Internal, failed: Counter.Internal, timedOut: Counter.Internal, duration: Histogram.Internal<'role' | 'adapter'>) {
    this.ok = ok;
    this.failed = failed;
    this.timedOut = timedOut;
    this.duration = duration;
  }

  record(durationMs: number, outcome: BackendCallOutcome): void {
    (outcome === 'ok' ? this.ok : outcome === 'timeout' ? this.timedOut : this.failed).inc();
    this.duration.observe(durationMs / 1000);
  }
}

/** Keeps a label's distinct values bounded: the first `max` are kept, later ones become `overflow`. */
class LabelCap {
  private readonly seen = new Set<string>();
  private readonly max: number;
  private readonly overflow: string;

  constructor(max: number, overflow: string) {
    this.max = max;
    this.overflow = overflow;
  }

  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return this.overflow;
    this.seen.add(value);
    return value;
  }
}

let processWide: Registry | undefined;

/**
 * Process metrics (CPU, memory, event-loop delay, GC) belong to the process, not to a gateway:
 * collected once per process into a registry of their own, whichever gateway starts first, and
 * appended to every gateway's page. (Collecting them per gateway would attach one GC observer and
 * one event-loop monitor per gateway, never detached.)
 */
function processRegistry(): Registry {
  if (!processWide) {
    processWide = new Registry();
    collectDefaultMetrics({ register: processWide });
  }
  return processWide;
}
