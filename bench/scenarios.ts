import {
  HELLO,
  INGEST_MANY,
  NESTED_TOURS_50,
  PING,
  SINGLE_TOUR,
  TOUR_LIST_50,
  getRequest,
  ingestBatch,
  postRequest,
} from './documents.ts';
import { startGateway, startPlainApollo, startRawHttp, startWsBroadcast } from './launch.ts';
import { CATALOGUE_ROUNDS, measureCatalogue } from './catalogue.ts';
import { delayedRun } from './landing-report.ts';
import { eventsPerSec, landingLimits, measureLanding } from './landing.ts';
import { graphqlData, idleKiBPerSubscriber, measureFanout, measureHttp } from './measure.ts';
import { openFileLimit } from './processes.ts';
import { REGIONAL_ROUNDS, cpuPerRequest, measureRegionalStats } from './regional-stats.ts';
import { measureSoak } from './soak.ts';
import type { BenchOptions, ScenarioId } from './options.ts';
import { compare, perRoundRatios, throughputRatio, type Comparison, type HttpRun, type ScenarioResult } from './results.ts';

/** What every scenario shares: the demo data built once, and the gateway's single-tour answer. */
export interface BenchContext {
  options: BenchOptions;
  /** Directory holding the gateway-built demo database (each gateway gets a copy). */
  baseDir: string;
  /** That database file (plain Apollo opens it read-only). */
  databaseFile: string;
  /** The gateway's answer to the single-tour GET, byte for byte (raw node:http serves it). */
  singleTourBody: string;
}

export const SINGLE_TOUR_VARIABLES = { id: 'TOUR0001' };

const gatewayEnv = (cache: boolean) => ({ RESPONSE_CACHE: String(cache) });

/** Runs one scenario: each server started fresh in its own process, one at a time. */
export async function runScenario(id: ScenarioId, ctx: BenchContext): Promise<ScenarioResult> {
  const result = await measureScenario(id, ctx);
  return { ...result, notes: [...result.notes, ...fewSamples(result.http, ctx.options)] };
}

/** Runs too short for the server's latency leave few completed requests; say so. */
function fewSamples(runs: readonly HttpRun[], options: BenchOptions): string[] {
  return runs
    .filter((run) => run.load !== undefined && run.load.requests < 50)
    .map(
      (run) =>
        `${run.server}: only ${run.load?.requests} requests completed in ${options.durationSec} s, so its figures are rough; raise BENCH_DURATION.`,
    );
}

async function measureScenario(id: ScenarioId, ctx: BenchContext): Promise<ScenarioResult> {
  const { options } = ctx;
  const apollo = () => startPlainApollo(ctx.databaseFile);
  const gateway = (cache: boolean) => () => startGateway(ctx.baseDir, gatewayEnv(cache));
  switch (id) {
    case 'hello': {
      const plain = await measureHttp(options, { server: 'plain Apollo', operation: `POST ${HELLO}`, start: apollo, request: postRequest(HELLO) });
      const ours = await measureHttp(options, { server: 'gateway', operation: `POST ${PING}`, start: gateway(false), request: postRequest(PING) });
      const ratio = throughputRatio(ours, plain);
      return {
        id,
        title: 'hello',
        description: 'Smallest query: gateway `{ ping }` vs plain Apollo `{ hello }` (POST; gateway response cache off).',
        http: [plain, ours],
        comparisons: ratio === undefined ? [] : [compare('gateway / plain Apollo', ratio, 'x')],
        notes: [],
      };
    }
    case 'single-tour': {
      const request = getRequest(SINGLE_TOUR, SINGLE_TOUR_VARIABLES);
      const raw = await measureHttp(options, { server: 'raw node:http', operation: 'GET, fixed body', start: () => startRawHttp(ctx.singleTourBody), request });
      const ours = await measureHttp(options, { server: 'gateway (cache on)', operation: `GET ${SINGLE_TOUR}`, start: gateway(true), request });
      const ratio = throughputRatio(ours, raw);
      const notes: string[] = [];
      if (ours.cache !== undefined && ours.cache !== 'HIT') {
        notes.push(`The repeated GET was not served from the response cache (x-cache: ${ours.cache}); this measured the uncached path.`);
      }
      return {
        id,
        title: 'single-tour (cached)',
        description: 'The same GET /graphql?query=…&variables=… repeated; gateway response cache ON vs raw node:http answering the same bytes.',
        http: [raw, ours],
        comparisons: ratio === undefined ? [] : [compare('gateway / raw node:http', ratio, 'x', { op: '>=', value: 0.6 })],
        notes,
      };
    }
    case 'tour-list-50': {
      const request = postRequest(TOUR_LIST_50);
      const plain = await measureHttp(options, { server: 'plain Apollo', operation: `POST ${TOUR_LIST_50}`, start: apollo, request });
      // Its answers carry timings in `extensions`: each one's `data` is compared instead.
      const ours = await measureHttp(options, { server: 'gateway (cache off)', operation: `POST ${TOUR_LIST_50}`, start: gateway(false), request, expectBodyContains: graphqlData });
      const ratio = throughputRatio(ours, plain);
      return {
        id,
        title: 'tour-list-50 (uncached)',
        description: 'Flat list of 50 tours (POST); gateway response cache OFF vs plain Apollo.',
        http: [plain, ours],
        comparisons: ratio === undefined ? [] : [compare('gateway / plain Apollo', ratio, 'x', { op: '>=', value: 2 })],
        notes: [],
      };
    }
    case 'nested-tours-50': {
      const request = postRequest(NESTED_TOURS_50);
      const plain = await measureHttp(options, { server: 'plain Apollo (naive)', operation: `POST ${NESTED_TOURS_50}`, start: apollo, request });
      const ours = await measureHttp(options, { server: 'gateway (loaders)', operation: `POST ${NESTED_TOURS_50}`, start: gateway(false), request, expectBodyContains: graphqlData });
      const ratio = throughputRatio(ours, plain);
      return {
        id,
        title: 'nested-tours-50 (uncached)',
        description: '50 tours with destination { name } and stats { bookings revenue }: gateway (3 batched statements) vs plain Apollo (1 + 50 + 50 statements).',
        http: [plain, ours],
        comparisons: ratio === undefined ? [] : [compare('gateway / plain Apollo (what loaders buy)', ratio, 'x')],
        notes: [],
      };
    }
    case 'catalogue-lists': {
      const catalogue = await measureCatalogue(options, ctx);
      return {
        id,
        title: 'catalogue lists (uncached, varied filters)',
        description:
          'Tour pages with 200 different filters (regions, categories, destination, price, rating, tags; 10–50 tours with destination, cursor and count), each connection cycling through them, response cache off: ' +
          `the gateway on the embedded lakehouse vs mercurius + graphql-jit answering the same pages from memory (answers compared first), in ${CATALOGUE_ROUNDS} interleaved rounds each; then the gateway with its lakehouse on Trino (the protocol fixture, ${options.statementLatencyMs} ms a statement), with and without the catalogue replica.`,
        ...catalogue,
      };
    }
    case 'regional-stats': {
      const measured = await measureRegionalStats(options, ctx.baseDir);
      const figures = (runs: readonly HttpRun[], where: string, target: boolean): Comparison[] => {
        const [raw, ours] = runs;
        const ratio = throughputRatio(ours, raw);
        const rawP50 = raw?.load?.latencyMs.p50;
        const oursP50 = ours?.load?.latencyMs.p50;
        const engineCpu = cpuPerRequest(raw, 'ClickHouse');
        const engineCpuBehind = cpuPerRequest(ours, 'ClickHouse');
        const gatewayCpu = cpuPerRequest(ours, 'gateway');
        return [
          ...(ratio === undefined ? [] : [compare(`gateway / raw ClickHouse (throughput), ${where}`, ratio, 'x', target ? { op: '>=', value: 1 / 1.2 } : undefined)]),
          ...perRoundRatios(ours, raw),
          ...(rawP50 && oursP50 !== undefined ? [compare(`p50 latency, gateway / raw ClickHouse, ${where}`, oursP50 / rawP50, 'x')] : []),
          ...(engineCpu === undefined ? [] : [compare(`CPU per request, ClickHouse (raw run), ${where}`, engineCpu, 'ms')]),
          ...(engineCpuBehind === undefined ? [] : [compare(`CPU per request, ClickHouse (gateway run), ${where}`, engineCpuBehind, 'ms')]),
          ...(gatewayCpu === undefined ? [] : [compare(`CPU per request, gateway, ${where}`, gatewayCpu, 'ms')]),
        ];
      };
      const notes = [measured.skipped, measured.error && `The scenario stopped before measuring: ${measured.error}`].filter((note): note is string => Boolean(note));
      if (measured.statement) notes.push(`Statement the gateway sent (and the baseline replays): ${measured.statement.replace(/\s+/g, ' ')}`);
      return {
        id,
        title: 'regional-stats (ClickHouse)',
        description:
          'regionalStats over the last 90 days, all regions: the exact request the gateway sends to ClickHouse (captured), POSTed straight to its HTTP interface, ' +
          `vs the GraphQL query through the gateway (response cache off), on one ClickHouse server, in ${REGIONAL_ROUNDS} interleaved rounds each. ` +
          "First with the engine on a core of its own (the load generator's, away from the gateway's), as engine and gateway are separate servers in a deployment; " +
          "then with the engine moved onto the gateway's core (informational: what the gateway's CPU costs an engine sharing its core).",
        http: [...measured.runs, ...measured.sharedCore],
        comparisons: [...figures(measured.runs, 'engine apart', true), ...figures(measured.sharedCore, 'engine on the gateway\'s core', false)],
        notes,
      };
    }
    case 'subscription-fanout': {
      const fanout = await measureFanout(options, { server: 'gateway', start: gateway(true) });
      const comparisons = fanout.result
        ? [
            compare(`delivery p99 at ${fanout.result.live} subscribers`, fanout.result.delivery.p99, 'ms', { op: '<', value: 25 }),
            compare('p99 to the last subscriber of an event', fanout.result.toLastSubscriber.p99, 'ms', { op: '<', value: 25 }),
          ]
        : [];
      const notes: string[] = [];
      if (fanout.result && fanout.result.live < fanout.result.subscribers) {
        notes.push(`Only ${fanout.result.live} of ${fanout.result.subscribers} subscribers were live; see the errors above.`);
      }
      return {
        id,
        title: 'subscription fan-out',
        description: `${options.subscribers} graphql-ws subscribers to eventIngested(BOOKING); ${options.fanoutEvents} ingestEvent bookings sent one at a time, each stamped with its send time.`,
        http: [],
        fanout: [fanout],
        comparisons,
        notes,
      };
    }
    case 'subscription-fanout-10k': {
      const subscribers = options.manySubscribers;
      const notes: string[] = [];
      // Each side holds one descriptor per subscriber; children inherit this process's limit.
      const limit = openFileLimit();
      if (limit !== undefined && limit < subscribers + 1_000) {
        notes.push(`The open-file limit is ${limit}, below ${subscribers} sockets plus the server's own files: raise it (ulimit -n) before running.`);
      }
      const floor = await measureFanout(options, { server: 'bare ws broadcast', start: startWsBroadcast, subscribers, idleMemory: true });
      const ours = await measureFanout(options, {
        server: 'gateway',
        // The subscription cap (SUBSCRIPTIONS_MAX) defaults to 10,000: leave room for the probe.
        start: () => startGateway(ctx.baseDir, { ...gatewayEnv(true), SUBSCRIPTIONS_MAX: String(subscribers + 100) }),
        subscribers,
        idleMemory: true,
      });
      const floorP99 = floor.result?.toLastSubscriber.p99;
      const oursP99 = ours.result?.toLastSubscriber.p99;
      const perSubscriber = idleKiBPerSubscriber(ours);
      const floorPerSubscriber = idleKiBPerSubscriber(floor);
      const comparisons = [
        ...(floorP99 && oursP99 !== undefined ? [compare('p99 to the last subscriber, gateway / bare ws broadcast', oursP99 / floorP99, 'x', { op: '<', value: 1.2 })] : []),
        ...(perSubscriber === undefined ? [] : [compare('gateway RSS per idle subscriber', perSubscriber, 'KiB', { op: '<', value: 20 })]),
        ...(floorPerSubscriber === undefined ? [] : [compare('bare ws broadcast RSS per idle subscriber', floorPerSubscriber, 'KiB')]),
      ];
      for (const run of [floor, ours]) {
        if (run.result && run.result.live < run.result.subscribers) notes.push(`${run.server}: only ${run.result.live} of ${run.result.subscribers} subscribers were live; see the errors above.`);
      }
      return {
        id,
        title: `subscription fan-out, ${subscribers.toLocaleString('en-US')} subscribers`,
        description:
          `${subscribers.toLocaleString('en-US')} graphql-ws subscribers on one instance, ${options.fanoutEvents} bookings sent one at a time; ` +
          'the floor is a bare `ws` server broadcasting each event (serialised once) to the same client in the same run. ' +
          'RSS per idle subscriber = (RSS with every subscription live and idle − RSS before connecting) ÷ subscribers.',
        http: [],
        fanout: [floor, ours],
        comparisons,
        notes,
      };
    }
    case 'ingest-batch': {
      const batch = options.ingestBatch;
      const ours = await measureHttp(options, {
        server: 'gateway',
        operation: `POST ingestEvents × ${batch}`,
        start: gateway(true),
        request: postRequest(INGEST_MANY, { inputs: ingestBatch(batch) }),
        connections: options.ingestConnections,
        expectBodyContains: `"accepted":${batch},"rejected":0`,
      });
      const load = ours.load;
      // Only answers that accepted the whole batch count.
      const goodBatches = load ? (load.statusCodes['200'] ?? 0) - load.mismatches : 0;
      const eventsPerSec = load ? (goodBatches * batch) / load.durationSec : undefined;
      return {
        id,
        title: 'ingest batch',
        description: `ingestEvents with ${batch} events per call (1 booking : 3 views), ${options.ingestConnections} connections; events/s = accepted batches/s × ${batch}.`,
        http: [ours],
        comparisons: eventsPerSec === undefined ? [] : [compare('accepted events/s', eventsPerSec, 'events/s', { op: '>=', value: 20_000 })],
        notes: [],
      };
    }
    case 'medallion-landing': {
      const landing = await measureLanding(options, ctx.baseDir);
      const [embedded, trino] = landing.runs;
      const delayed = delayedRun(landing);
      const embeddedRate = eventsPerSec(embedded);
      const trinoRate = eventsPerSec(trino);
      const delayedRate = eventsPerSec(delayed);
      const limits = trino && landing.commitLatencyMs > 0 ? landingLimits(trino, landing.commitLatencyMs) : undefined;
      const comparisons = [
        ...(embeddedRate === undefined ? [] : [compare('embedded DuckDB, events/s to silver', embeddedRate, 'events/s')]),
        ...(trinoRate === undefined ? [] : [compare('Trino fixture at 0 ms commits, events/s to silver', trinoRate, 'events/s')]),
        ...(embeddedRate && trinoRate ? [compare('Trino fixture (0 ms) / embedded DuckDB', trinoRate / embeddedRate, 'x')] : []),
        ...(delayedRate === undefined ? [] : [compare(`Trino fixture at ${landing.commitLatencyMs} ms commits, events/s to silver`, delayedRate, 'events/s')]),
        ...(limits && delayedRate ? [compare(`measured / projected at ${landing.commitLatencyMs} ms commits`, delayedRate / limits.projected, 'x')] : []),
      ];
      const notes = landing.runs
        .filter((run) => run.figures && run.figures.promoted !== run.figures.events)
        .map((run) => `${run.label}: ${run.figures?.promoted} of ${run.figures?.events} events reached silver (${run.figures?.quarantined} quarantined).`);
      return {
        id,
        title: 'medallion landing',
        description:
          `${landing.events.toLocaleString('en-US')} booking and view events (1 : 3) published to an embedded log, then one medallion worker's passes ` +
          `(bronze landing, silver promotion, gold refresh) until all are in silver: on embedded DuckDB, and through Trino (the protocol fixture, answering from DuckDB, in its own process) ` +
          `with the Trino writer${landing.commitLatencyMs > 0 ? `, once with ${landing.commitLatencyMs} ms added to each write statement (an Iceberg commit)` : ''}.`,
        http: [],
        landing,
        comparisons,
        notes,
      };
    }
    case 'soak': {
      const soak = await measureSoak(options, gateway(true));
      const comparisons =
        soak.baselineMiB === undefined
          ? []
          : soak.phases.flatMap((phase) =>
              phase.afterMiB === undefined || soak.baselineMiB === undefined
                ? []
                : [compare(`RSS ${soak.settleSec} s after ${phase.label} / baseline`, phase.afterMiB / soak.baselineMiB, 'x', { op: '<=', value: 1.5 })],
            );
      return {
        id,
        title: 'soak (memory)',
        description:
          `One gateway (response cache on): RSS after a warm-up, then at the peak of and ${options.soakSettleSec} s after each load, every client gone: ` +
          `${options.soakQueries.toLocaleString('en-US')} events(filter: { userId }) queries for different users (50 at a time), then ${options.soakSockets.toLocaleString('en-US')} graphql-ws sockets each subscribed, the same number of queries over them, and every socket closed.`,
        http: [],
        soak,
        comparisons,
        notes: [],
      };
    }
    default: {
      const unknown: never = id;
      throw new Error(`unknown scenario ${String(unknown)}`);
    }
  }
}
