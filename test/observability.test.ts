import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startGateway, type Gateway } from '../src/gateway.ts';
import { createLogger } from '../src/logger.ts';
import { TEST_ANCHOR } from './helpers/gateway.ts';

/** Every line the gateway logged, parsed. */
const logLines: Record<string, unknown>[] = [];
const spans = new InMemorySpanExporter();
const dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-gateway-observability-'));
let gateway: Gateway;
let endpoint: string;

/** The gateway the way the test helper starts one, plus a captured logger and (unless `otlp`) an in-memory span exporter. */
function start(env: Record<string, string> = {}, options: { otlp?: boolean } = {}): Promise<Gateway> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DEMO_SCALE: '0.2',
    DEMO_ANCHOR: TEST_ANCHOR,
    // The medallion runs only when the test settles it, so the bus lag can be seen before and after.
    MEDALLION_DEBOUNCE_MS: '600000',
    MEDALLION_INTERVAL_MS: '0',
    // Catalogue reads as lakehouse statements, so tour pages show statements, loader batches and their spans.
    CATALOGUE_REPLICA: 'false',
    ...env,
  });
  const logger = createLogger('info', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  return startGateway(config, logger, options.otlp ? {} : { spanExporter: spans });
}

beforeAll(async () => {
  gateway = await start();
  endpoint = `${gateway.url}/graphql`;
});
afterAll(async () => {
  await gateway?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function post(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { response, body: (await response.json()) as { data?: Record<string, unknown> | null; errors?: { extensions?: Record<string, unknown> }[] } };
}

function get(query: string) {
  return fetch(`${endpoint}?query=${encodeURIComponent(query)}`, { headers: { accept: 'application/graphql-response+json' } });
}

/** The exposition page, as `name{labels} value` samples. */
async function scrape(): Promise<{ text: string; value(name: string, labels?: Record<string, string>): number | undefined }> {
  const response = await fetch(`${gateway.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const samples = text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not an exposition line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
  return {
    text,
    value(name, labels = {}) {
      const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return found?.value;
    },
  };
}

/** Scrapes until `name{labels}` reads `expected` (the server settles a closed socket after the client moved on). */
async function metricReaches(name: string, labels: Record<string, string>, expected: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    if ((await scrape()).value(name, labels) === expected) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect((await scrape()).value(name, labels)).toBe(expected);
}

const TOUR_PAGE = 'query TourPage { tours(first: 3) { edges { node { id name } } } }';
const INGEST = 'mutation Ingest($input: EventInput!) { ingestEvent(input: $input) { eventId offset } }';
const BOOKING = { eventType: 'BOOKING', userId: 'USER000007', tourId: 'TOUR0004', region: 'VN', amount: 120, currency: 'USD' };

describe('GET /metrics after a short load', () => {
  it('shows requests, latencies, errors, backend calls, the cache, subscriptions, bus lag and pipeline runs', async () => {
    // A cacheable query twice: executed, then replayed.
    expect((await get(TOUR_PAGE)).headers.get('x-cache')).toBe('MISS');
    expect((await get(TOUR_PAGE)).headers.get('x-cache')).toBe('HIT');
    // An operation that fails in a resolver, and a document that fails validation.
    const tooLarge = await post('query HugePage { tours(first: 100000) { totalCount } }');
    expect(tooLarge.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const invalid = await post('query Broken { tours(first: 1) { nope } }');
    expect(invalid.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');

    // A live subscription receives an ingested event.
    const client: Client = createClient({ url: endpoint.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    const received: unknown[] = [];
    let onEvent: () => void = () => undefined;
    const delivered = new Promise<void>((resolve) => (onEvent = resolve));
    const dispose = client.subscribe(
      { query: 'subscription Live { eventIngested { id } }' },
      { next: (result) => (received.push(result), onEvent()), error: () => undefined, complete: () => undefined },
    );
    await metricReaches('nexus_active_subscriptions', {}, 1);
    let page = await scrape();
    expect(page.value('nexus_ws_connections')).toBe(1);
    expect(page.value('nexus_graphql_requests_total', { operation: 'Live', type: 'subscription', status: 'ok' })).toBe(1);

    const ingested = await post(INGEST, { input: BOOKING });
    expect(ingested.body.errors).toBeUndefined();
    await delivered;
    expect(received).toHaveLength(1);
    // Published, not yet landed by the medallion (it runs when settled here).
    expect((await scrape()).value('nexus_bus_lag_records', { consumer: 'medallion' })).toBeGreaterThanOrEqual(1);

    dispose();
    await metricReaches('nexus_active_subscriptions', {}, 0);
    await client.dispose();
    await metricReaches('nexus_ws_connections', {}, 0);

    await gateway.services.pipeline!.settle();
    page = await scrape();
    expect(page.value('nexus_bus_lag_records', { consumer: 'medallion' })).toBe(0);
    expect(page.value('nexus_pipeline_runs_total', { layer: 'silver', status: 'success' })).toBeGreaterThanOrEqual(1);
    expect(page.value('nexus_pipeline_records_total', { layer: 'silver', kind: 'out' })).toBeGreaterThanOrEqual(1);
    expect(page.value('nexus_pipeline_records_total', { layer: 'silver', kind: 'in' })).toBeGreaterThanOrEqual(1);
    expect(page.value('nexus_pipeline_records_total', { layer: 'silver', kind: 'rejected' })).toBeGreaterThanOrEqual(0);

    // Requests by operation, type and status; latency by operation.
    expect(page.value('nexus_graphql_requests_total', { operation: 'TourPage', type: 'query', status: 'ok' })).toBe(1);
    expect(page.value('nexus_graphql_request_duration_seconds_count', { operation: 'TourPage', type: 'query' })).toBe(1);
    expect(page.value('nexus_graphql_request_duration_seconds_bucket', { operation: 'TourPage', type: 'query', le: '+Inf' })).toBe(1);
    expect(page.value('nexus_graphql_requests_total', { operation: 'Ingest', type: 'mutation', status: 'ok' })).toBe(1);
    expect(page.value('nexus_graphql_requests_total', { operation: 'HugePage', type: 'query', status: 'error' })).toBe(1);
    // A document that never validated has no operation yet.
    expect(page.value('nexus_graphql_requests_total', { operation: 'anonymous', type: 'unknown', status: 'error' })).toBe(1);
    expect(page.value('nexus_graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBe(2);

    // Backend calls by role and adapter: the lakehouse answered the tour page.
    expect(page.value('nexus_backend_calls_total', { role: 'lakehouse', adapter: 'duckdb', outcome: 'ok' })).toBeGreaterThan(0);
    expect(page.value('nexus_backend_call_duration_seconds_count', { role: 'lakehouse', adapter: 'duckdb' })).toBeGreaterThan(0);

    // The response cache: one miss stored, one hit replayed, the rest executed without storing.
    expect(page.value('nexus_response_cache_requests_total', { result: 'hit' })).toBe(1);
    expect(page.value('nexus_response_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(page.value('nexus_response_cache_requests_total', { result: 'bypass' })).toBeGreaterThanOrEqual(3);
    expect(page.value('nexus_response_cache_hit_ratio')).toBe(0.5);

    // The process's own figures.
    expect(page.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(page.text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });

  it('counts the errors sent over graphql-ws by code', async () => {
    const before = (await scrape()).value('nexus_graphql_errors_total', { code: 'BAD_USER_INPUT' }) ?? 0;
    const client = createClient({ url: endpoint.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    const refused = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: 'subscription { eventIngested { nope } }' }, { next: () => undefined, error: resolve, complete: () => resolve(undefined) });
    });
    await client.dispose();
    expect(refused).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
    expect((await scrape()).value('nexus_graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBe(before + 1);
  });

  it('counts requests refused before execution (malformed bodies) by code', async () => {
    const page = await scrape();
    const before = page.value('nexus_graphql_errors_total', { code: 'BAD_USER_INPUT' }) ?? 0;
    const unknownBefore = page.value('nexus_graphql_requests_total', { operation: 'anonymous', type: 'unknown', status: 'error' }) ?? 0;
    const response = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    const after = await scrape();
    expect(after.value('nexus_graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBe(before + 1);
    expect(after.value('nexus_graphql_requests_total', { operation: 'anonymous', type: 'unknown', status: 'error' })).toBe(unknownBefore + 1);
  });

  it('caps the distinct operation names a label may take', async () => {
    const long = `Q${'x'.repeat(100)}`;
    await post(`query ${long} { __typename }`);
    const page = await scrape();
    expect(page.value('nexus_graphql_requests_total', { operation: long.slice(0, 64), type: 'query' })).toBe(1);
  });
});

describe('request log', () => {
  it('writes one JSON line per executed request with its id, operation, status, time and error codes', async () => {
    const { response } = await post(TOUR_PAGE.replace('TourPage', 'LoggedPage'), {}, { 'x-request-id': 'req-observability-1' });
    expect(response.headers.get('x-request-id')).toBe('req-observability-1');
    // Repeated: the replay from the cache is not logged at info.
    await post(TOUR_PAGE.replace('TourPage', 'LoggedPage'));
    await post('query FailingPage { tours(first: 100000) { totalCount } }');

    const lines = logLines.filter((l) => l['msg'] === 'graphql request');
    const logged = lines.filter((l) => l['operationName'] === 'LoggedPage');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 30, service: 'nexus-gateway', requestId: 'req-observability-1', operationType: 'query', status: 200, cache: 'MISS' });
    expect(typeof logged[0]!['durationMs']).toBe('number');
    expect(logged[0]).not.toHaveProperty('errorCodes');

    const failing = lines.find((l) => l['operationName'] === 'FailingPage');
    expect(failing).toMatchObject({ operationType: 'query', cache: 'BYPASS', errorCodes: ['BAD_USER_INPUT'] });
    expect(typeof failing!['requestId']).toBe('string');
  });

  it('logs the start and end of a subscription', async () => {
    const client = createClient({ url: endpoint.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    const dispose = client.subscribe({ query: 'subscription LoggedLive { pipelineRunFinished { id } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    await metricReaches('nexus_active_subscriptions', {}, 1);
    dispose();
    await metricReaches('nexus_active_subscriptions', {}, 0);
    await client.dispose();
    const lines = logLines.filter((l) => l['operationName'] === 'LoggedLive');
    expect(lines.map((l) => l['msg'])).toEqual(['graphql subscription started', 'graphql subscription ended']);
    expect(typeof lines[1]!['durationMs']).toBe('number');
  });
});

describe('tracing', () => {
  const NESTED = 'query NestedTours($id: ID!) { tour(id: $id) { id destination { name } } tours(first: 2) { edges { node { id destination { name } } } } }';

  it('records an operation span with its loader batches and backend calls beneath it, continuing the caller’s trace', async () => {
    spans.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { body } = await post(NESTED, { id: 'TOUR0017' }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(body.errors).toBeUndefined();
    await gateway.tracing.flush();
    const finished = spans.getFinishedSpans();

    const operation = finished.find((s) => s.name === 'graphql.query NestedTours');
    expect(operation).toBeDefined();
    expect(operation!.spanContext().traceId).toBe(traceId);
    expect(operation!.attributes).toMatchObject({ 'graphql.operation.name': 'NestedTours', 'graphql.operation.type': 'query' });

    const inTrace = finished.filter((s) => s.spanContext().traceId === traceId);
    const backend = inTrace.filter((s) => s.name === 'lakehouse duckdb');
    expect(backend.length).toBeGreaterThanOrEqual(2);
    const batch = inTrace.find((s) => s.name === 'loader destinationById');
    expect(batch).toBeDefined();
    expect(parentOf(batch!)).toBe(operation!.spanContext().spanId);
    // The destinations' statement ran inside the batch that asked for it.
    expect(backend.some((s) => parentOf(s) === batch!.spanContext().spanId)).toBe(true);
    expect(backend.every((s) => typeof s.attributes['db.query.text'] === 'string')).toBe(true);
    // Statements carry placeholders; bound values never reach a span.
    expect(backend.some((s) => String(s.attributes['db.query.text']).includes('?'))).toBe(true);
    for (const span of backend) expect(JSON.stringify(span.attributes)).not.toContain('TOUR0017');
  });

  it('marks the operation span failed with the error codes', async () => {
    spans.reset();
    await post('query FailingTrace { tours(first: 100000) { totalCount } }');
    await gateway.tracing.flush();
    const operation = spans.getFinishedSpans().find((s) => s.name === 'graphql.query FailingTrace');
    expect(operation?.status.code).toBe(2);
    expect(operation?.attributes['graphql.error.codes']).toEqual(['BAD_USER_INPUT']);
  });
});

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe('configuration', () => {
  it('exports spans to OTEL_EXPORTER_OTLP_ENDPOINT, and serves no metrics page with METRICS=false', async () => {
    // A stand-in OTLP/HTTP collector on loopback, recording what it is sent.
    const received: { url: string | undefined; contentType: string | undefined; body: string }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ url: req.url, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      // Runs last: the same data directory, reopened by a gateway configured otherwise.
      await gateway.stop();
      const { port } = collector.address() as AddressInfo;
      gateway = await start({ METRICS: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, { otlp: true });
      endpoint = `${gateway.url}/graphql`;
      expect((await fetch(`${gateway.url}/metrics`)).status).toBe(404);
      expect(gateway.metrics).toBeUndefined();

      expect((await post(TOUR_PAGE)).body.errors).toBeUndefined();
      await gateway.tracing.flush();
      expect(received.length).toBeGreaterThanOrEqual(1);
      expect(received[0]).toMatchObject({ url: '/v1/traces', contentType: 'application/json' });
      // OTLP/JSON: the service's name on the resource, the operation's span inside.
      const exported = received.map((r) => r.body).join('\n');
      expect(exported).toContain('"stringValue":"nexus-gateway"');
      expect(exported).toContain('"name":"graphql.query TourPage"');
    } finally {
      await gateway.stop();
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});
