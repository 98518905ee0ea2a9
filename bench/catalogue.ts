import { CATALOGUE_PAGE, catalogueVariants, postRequest } from './documents.ts';
import { startGateway, startMercuriusJit, startTrinoCoordinator, type RunningServer } from './launch.ts';
import { measureHttp, measureInterleaved } from './measure.ts';
import type { BenchOptions } from './options.ts';
import { compare, perRoundRatios, throughputRatio, type Comparison, type HttpRun } from './results.ts';

/** Rounds of each side of the throughput comparison, interleaved (mercurius, gateway, mercurius, …). */
export const CATALOGUE_ROUNDS = 3;
/** Distinct catalogue pages each connection cycles through. */
const VARIANTS = 200;
/**
 * Clients of the latency runs on Trino: each sends its next page when the last one is answered, so
 * what is measured is the wait for an answer rather than a queue of fifty (autocannon's rate limits
 * send each second's requests in one burst, which measures the burst instead).
 */
const LATENCY_CONNECTIONS = 4;

/** The catalogue scenario's runs, figures against targets, and notes. */
export interface CatalogueResult {
  http: HttpRun[];
  comparisons: Comparison[];
  notes: string[];
}

/**
 * Catalogue pages with varied filters, which the response cache cannot absorb (it is off):
 * (1) the gateway on the embedded lakehouse against mercurius + graphql-jit answering the same
 * pages from memory — every answer of both compared first, they must be the same; (2) the gateway
 * with its lakehouse on Trino (the protocol fixture, in its own process, each statement held
 * `statementLatencyMs`) with a few clients (latency, not queueing), with the catalogue replica, and
 * without it for reference.
 */
export async function measureCatalogue(options: BenchOptions, ctx: { baseDir: string; databaseFile: string }): Promise<CatalogueResult> {
  const requests = catalogueVariants(VARIANTS).map((variables) => postRequest(CATALOGUE_PAGE, variables));
  const operation = `POST CataloguePage × ${VARIANTS} filters, cycled`;
  const notes: string[] = [];
  const dataOf = (body: string) => JSON.stringify((JSON.parse(body) as { data: unknown }).data);
  let expected: string[] = [];
  const sameAs = (server: string) => (bodies: string[]) => {
    const differing = bodies.filter((body, i) => dataOf(body) !== expected[i]).length;
    if (differing > 0) notes.push(`${server}: ${differing} of ${bodies.length} pages differ from mercurius's answer; its figures do not compare.`);
  };
  // Both servers warm up until steady: the gateway's larger code base takes V8 longer to optimise than
  // mercurius's, and a fixed short warm-up measured it part-way (its req/s keeps climbing for ~15 s).
  const varied = { request: requests[0]!, requests, operation, steadyWarmup: true };

  // Interleaved rounds: the machine's speed drifts over a run (mercurius's own figure moved by a
  // third between runs), and each side then gets its share of the slow and the fast moments.
  const [mercurius, embedded] = await measureInterleaved(
    options,
    [
      { ...varied, server: 'mercurius + graphql-jit (memory)', start: () => startMercuriusJit(ctx.databaseFile), answers: (bodies) => (expected = bodies.map(dataOf)) },
      { ...varied, server: 'gateway (cache off)', start: () => startGateway(ctx.baseDir, { RESPONSE_CACHE: 'false' }), answers: sameAs('gateway (cache off)') },
    ],
    CATALOGUE_ROUNDS,
  );

  const latency = options.statementLatencyMs;
  const onTrino = (replica: boolean) => async (): Promise<RunningServer> => {
    const trino = await startTrinoCoordinator(ctx.baseDir, latency);
    try {
      const gateway = await startGateway(ctx.baseDir, { RESPONSE_CACHE: 'false', TRINO_URL: trino.url, MEDALLION: 'off', CATALOGUE_REPLICA: String(replica) });
      return { ...gateway, output: gateway.output, stop: async () => (await gateway.stop(), await trino.stop()) };
    } catch (error) {
      await trino.stop();
      throw error;
    }
  };
  const trinoLabel = `lakehouse on Trino at ${latency} ms a statement, ${LATENCY_CONNECTIONS} connections`;
  const steady = { connections: LATENCY_CONNECTIONS };
  const replicated = await measureHttp(options, { ...varied, ...steady, server: `gateway, ${trinoLabel}`, start: onTrino(true), answers: sameAs(`gateway on Trino`) });
  // Without the replica every page waits on Trino; checking each page first would take minutes.
  const direct = await measureHttp(options, { ...varied, ...steady, requests: requests.slice(0, 1), server: `gateway, ${trinoLabel}, replica off (reference; one page)`, start: onTrino(false) });

  const ratio = throughputRatio(embedded, mercurius);
  const p99 = replicated.load?.latencyMs.p99;
  const comparisons = [
    ...(ratio === undefined ? [] : [compare('gateway / mercurius + graphql-jit from memory', ratio, 'x', { op: '>=', value: 0.5 })]),
    ...perRoundRatios(embedded, mercurius),
    ...(p99 === undefined ? [] : [compare(`p99, ${trinoLabel}, warm`, p99, 'ms', { op: '<', value: 20 })]),
    ...(direct.load ? [compare(`p99 with the replica off (every page waits on Trino)`, direct.load.latencyMs.p99, 'ms')] : []),
  ];
  return { http: [mercurius, embedded, replicated, direct], comparisons, notes };
}
