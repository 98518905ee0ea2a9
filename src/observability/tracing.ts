import type { IncomingHttpHeaders } from 'node:http';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type DataLoader from 'dataloader';
import { BackendError } from '../errors.ts';

/** Options of a gateway's tracing. With neither `endpoint` nor `exporter`, tracing is off and costs nothing. */
export interface TracingOptions {
  /** OTLP/HTTP base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`); spans are sent to `<endpoint>/v1/traces` as OTLP/JSON. */
  endpoint?: string | undefined;
  /** An exporter to use instead of OTLP (tests pass `InMemorySpanExporter`). */
  exporter?: SpanExporter | undefined;
  /** `service.name` of the spans. Default `nexus-gateway`. */
  serviceName?: string;
  /** Share of traces started here that are kept (a caller's sampled flag is followed). Default 1. */
  sampleRatio?: number;
}

/** A gateway's tracer and its exporter's lifecycle. */
export interface GatewayTracing {
  /** Absent when tracing is off: instrumented code then skips span work entirely. */
  readonly tracer: Tracer | undefined;
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /** Flushes and stops the exporter (gateway shutdown). */
  shutdown(): Promise<void>;
}

/** Longest statement text put on a span (statements carry `?` placeholders, never bound values). */
const MAX_STATEMENT_LENGTH = 2_000;

/**
 * Sets up tracing when an exporter is configured: a tracer provider with a batching processor,
 * registered as the process's provider so the active span follows async calls (AsyncLocalStorage)
 * and W3C `traceparent` headers are read. Off otherwise.
 */
export function createTracing(options: TracingOptions): GatewayTracing {
  const exporter = options.exporter ?? (options.endpoint ? new OTLPTraceExporter({ url: tracesUrl(options.endpoint) }) : undefined);
  if (!exporter) return { tracer: undefined, flush: async () => undefined, shutdown: async () => undefined };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName ?? 'nexus-gateway' }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio ?? 1) }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // The context manager and propagator are process-wide; a second gateway in the same process
  // (tests) finds them registered already, which is fine: spans come from each one's own tracer.
  provider.register();
  return {
    tracer: provider.getTracer('nexus-gateway'),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** The OTLP/HTTP traces URL for a base endpoint, as the OpenTelemetry exporter specification derives it. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Runs one GraphQL execution inside an operation span, active for everything it calls (resolvers,
 * loader batches, backend calls), continuing the caller's trace when the request carries
 * `traceparent`. Named `graphql.request` until the operation is known (the metrics plugin renames it).
 */
export function withOperationSpan<T>(tracer: Tracer | undefined, headers: IncomingHttpHeaders, run: () => Promise<T>): Promise<T> {
  if (!tracer) return run();
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  return tracer.startActiveSpan('graphql.request', { kind: SpanKind.SERVER }, parent, (span) => endSpanAfter(span, run));
}

/** Names the operation span once the operation is known: `graphql.<type> <name>`. */
export function nameOperationSpan(span: Span, type: string, name: string | null): void {
  const shown = name ? name.slice(0, 64) : 'anonymous';
  span.updateName(`graphql.${type} ${shown}`);
  span.setAttribute('graphql.operation.type', type);
  span.setAttribute('graphql.operation.name', shown);
}

/** Marks the operation span failed with the codes of the errors its response carried. */
export function failOperationSpan(span: Span, codes: readonly string[]): void {
  span.setAttribute('graphql.error.codes', [...codes]);
  span.setAttribute(ATTR_ERROR_TYPE, codes[0] ?? 'INTERNAL');
  span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(', ') });
}

/** Runs one backend call in a client span `<role> <adapter>` (statement text only, never bound values). */
export function traceBackendCall<T>(tracer: Tracer, name: string, attributes: Attributes, run: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, (span) => endSpanAfter(span, run));
}

/** A statement as a span attribute: cut to a bounded length. */
export function statementText(sql: string): string {
  return sql.length > MAX_STATEMENT_LENGTH ? `${sql.slice(0, MAX_STATEMENT_LENGTH)}…` : sql;
}

/**
 * A DataLoader batch function that runs in a span of its own (`loader <name>`, with the number of
 * keys), so a trace shows each batch and the backend calls it made beneath it. Unchanged when
 * tracing is off.
 */
export function tracedBatch<K, V>(tracer: Tracer | undefined, name: string, batch: DataLoader.BatchLoadFn<K, V>): DataLoader.BatchLoadFn<K, V> {
  if (!tracer) return batch;
  const spanName = `loader ${name}`;
  return (keys) =>
    tracer.startActiveSpan(spanName, { attributes: { 'nexus.loader.keys': keys.length } }, (span) => endSpanAfter(span, async () => batch(keys)));
}

/** Runs `run` inside `span`, marking it failed on an error, and ends it either way. */
async function endSpanAfter<T>(span: Span, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

function failSpan(span: Span, error: unknown): void {
  const type = error instanceof BackendError ? (error.timedOut ? 'BACKEND_TIMEOUT' : 'BACKEND_UNAVAILABLE') : error instanceof Error ? error.name : 'Error';
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
