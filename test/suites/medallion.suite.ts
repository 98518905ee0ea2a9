import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../helpers/gateway.ts';

/**
 * The medallion from GraphQL alone: a batch with good and bad records goes in; the good ones
 * reach silver and gold, the bad ones are quarantined (and dead-lettered) with the rule they
 * failed; runs, per-source executions, quality and lineage are readable under `platform`.
 * Written once and run on every lakehouse engine the medallion writes (embedded DuckDB, Trino
 * over Iceberg): `start` starts a gateway with demo data, running the medallion, with `env` added
 * to its configuration; gateways it starts share their lakehouse and bus.
 */
export function describeMedallionSuite(label: string, start: (env: Record<string, string>) => Promise<TestGateway>, options: { timeoutMs?: number } = {}): void {
  describe(`medallion: ${label}`, { timeout: options.timeoutMs ?? 30_000 }, () => {
  let gw: TestGateway;
  let ws: Client;
  beforeAll(async () => {
    // A long debounce: passes here run when the test asks (runPipeline), so counts are exact.
    gw = await start({ MEDALLION_DEBOUNCE_MS: '60000', MEDALLION_INTERVAL_MS: '0' });
    ws = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
  }, 180_000);
  afterAll(async () => {
    await ws?.dispose();
    await gw?.close();
  });

  interface Run {
    id: string;
    batchId: string;
    layer: string;
    status: string;
    trigger: string;
    recordsIn: number;
    recordsOut: number;
    recordsRejected: number;
    sources: { sourceId: string; recordsIn: number; recordsOut: number; recordsRejected: number }[];
  }

  const RUN_FIELDS = 'id batchId layer status trigger recordsIn recordsOut recordsRejected sources { sourceId recordsIn recordsOut recordsRejected }';

  async function runPipeline(): Promise<Run[]> {
    const { body } = await gw.request<{ runPipeline: Run[] }>(`mutation { runPipeline { ${RUN_FIELDS} } }`);
    expect(body.errors).toBeUndefined();
    return body.data!.runPipeline;
  }

  async function pickUser(): Promise<{ id: string; homeRegion: string }> {
    // A demo user with no activity yet gets a profile only through what this test ingests.
    const { body } = await gw.request<{ tours: { edges: { node: { id: string; region: string } }[] } }>('{ tours(first: 3) { edges { node { id region } } } }');
    const tour = body.data!.tours.edges[0]!.node;
    return { id: 'U-MEDALLION-1', homeRegion: tour.region };
  }

  describe('a batch with good and bad records, through the medallion', () => {
    let tours: { id: string; region: string; category: string }[];
    let result: { accepted: number; rejected: number; results: { index: number; receipt: { eventId: string } | null; rejection: { path: string[] } | null }[] };
    let runs: Run[];
    const finished: Run[] = [];

    beforeAll(async () => {
      const { body } = await gw.request<{ tours: { edges: { node: { id: string; region: string; category: string } }[] } }>(
        '{ tours(first: 5) { edges { node { id region category } } } }',
      );
      tours = body.data!.tours.edges.map((e) => e.node);
      // Watch the runs finish over graphql-ws while the batch goes through.
      const seen = new Promise<void>((resolve, reject) => {
        ws.subscribe<{ pipelineRunFinished: Run }>(
          { query: `subscription { pipelineRunFinished { ${RUN_FIELDS} } }` },
          {
            next: (value) => {
              if (value.data) finished.push(value.data.pipelineRunFinished);
              if (finished.some((r) => r.layer === 'gold' && r.trigger === 'MANUAL')) resolve();
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const user = await pickUser();
      const [a, b] = tours as [(typeof tours)[0], (typeof tours)[0]];
      const ingested = await gw.request<{ ingestEvents: typeof result }>(
        `mutation ($inputs: [EventInput!]!) { ingestEvents(inputs: $inputs) {
           accepted rejected results { index receipt { eventId } rejection { path } } } }`,
        {
          inputs: [
            { eventType: 'BOOKING', userId: user.id, tourId: a.id, amount: 420.5, currency: 'USD', region: a.region },
            { eventType: 'VIEW', userId: user.id, tourId: b.id },
            // Passes the contract, fails silver's rules: a tour the catalogue does not have…
            { eventType: 'BOOKING', userId: user.id, tourId: 'T-NOT-IN-CATALOGUE', amount: 99, currency: 'USD' },
            // …and a region no destination has.
            { eventType: 'VIEW', userId: user.id, tourId: b.id, region: 'ZZ' },
            // Refused at the door by the booking contract (a booking needs an amount over 0).
            { eventType: 'BOOKING', userId: user.id, tourId: a.id, amount: -5, currency: 'USD' },
          ],
        },
      );
      expect(ingested.body.errors).toBeUndefined();
      result = ingested.body.data!.ingestEvents;
      runs = await runPipeline();
      await seen;
    });

    it('answers per item: contract violations rejected with their path, the rest accepted', () => {
      expect(result.accepted).toBe(4);
      expect(result.rejected).toBe(1);
      expect(result.results[4]!.rejection!.path).toEqual(['inputs', '4', 'amount']);
    });

    it('runs bronze, silver and gold in one pass, with per-source figures', () => {
      expect(runs.map((r) => r.layer)).toEqual(['bronze', 'silver', 'gold']);
      expect(new Set(runs.map((r) => r.batchId)).size).toBe(1);
      expect(runs.every((r) => r.status === 'SUCCESS' && r.trigger === 'MANUAL')).toBe(true);
      const [bronze, silver, gold] = runs as [Run, Run, Run];
      expect(bronze.recordsOut).toBe(4);
      expect(silver).toMatchObject({ recordsIn: 4, recordsOut: 2, recordsRejected: 2 });
      expect(silver.sources.sort((x, y) => x.sourceId.localeCompare(y.sourceId))).toEqual([
        { sourceId: 'gateway_bookings', recordsIn: 2, recordsOut: 1, recordsRejected: 1 },
        { sourceId: 'gateway_user_events', recordsIn: 2, recordsOut: 1, recordsRejected: 1 },
      ]);
      expect(gold.recordsOut).toBeGreaterThan(0);
    });

    it('streams the runs as they finish', () => {
      const ids = new Set(finished.map((r) => r.id));
      for (const run of runs) expect(ids.has(run.id)).toBe(true);
    });

    it('quarantines the bad records with the rule they failed, and dead-letters them', async () => {
      const { body } = await gw.request<{ platform: { quarantine: { rule: string; reason: string; sourceId: string; record: { tourId?: string; region?: string }; deadLettered: boolean }[] } }>(
        '{ platform { quarantine(first: 10) { rule reason sourceId record deadLettered } } }',
      );
      const quarantine = body.data!.platform.quarantine;
      expect(quarantine.map((q) => q.rule).sort()).toEqual(['known_region', 'known_tour']);
      const unknownTour = quarantine.find((q) => q.rule === 'known_tour')!;
      expect(unknownTour).toMatchObject({ sourceId: 'gateway_bookings', record: { tourId: 'T-NOT-IN-CATALOGUE' }, deadLettered: true });
      expect(unknownTour.reason).toMatch(/catalogue/);
      // On the dead-letter topic, with the rule.
      const bus = gw.gateway.services.backends.bus;
      const log = await bus.readAfter(bus.startCursor, 1_000_000);
      const letters = log.filter((e) => e.topic === 'topic_dead_letter').map((e) => JSON.parse(e.value) as { rule: string });
      expect(letters.map((l) => l.rule).sort()).toEqual(['known_region', 'known_tour']);
    });

    it('promotes the good records to silver and gold: events, profile and regional stats see them', async () => {
      const user = await pickUser();
      const [a] = tours as [(typeof tours)[0]];
      const { body } = await gw.request<{
        events: { edges: { node: { tourId: string; eventType: string } }[] };
        user: { profile: { totalBookings: number; totalSpend: number; favouriteRegion: string } };
        regionalStats: { region: string; bookings: number; revenue: number }[];
      }>(
        `query ($user: ID!, $region: String!) {
           events(filter: { userId: $user }, first: 10) { edges { node { tourId eventType } } }
           user(id: $user) { profile { totalBookings totalSpend favouriteRegion } }
           regionalStats(from: "2026-11-15T00:00:00Z", regions: [$region]) { region bookings revenue }
         }`,
        { user: user.id, region: a.region },
      );
      expect(body.errors).toBeUndefined();
      expect(body.data!.events.edges.map((e) => e.node.eventType).sort()).toEqual(['BOOKING', 'VIEW']);
      expect(body.data!.user.profile).toMatchObject({ totalBookings: 1, totalSpend: 420.5, favouriteRegion: a.region });
      // The demo year ends before the 15th: the region's bookings since then are this test's.
      expect(body.data!.regionalStats).toEqual([{ region: a.region, bookings: 1, revenue: 420.5 }]);
    });

    it('records quality for every medallion table, and per source', async () => {
      const { body } = await gw.request<{ platform: { dataQuality: { table: string; sourceId: string | null; overallScore: number; validity: number; rowCount: number }[] } }>(
        '{ platform { dataQuality { table sourceId rowCount validity overallScore } } }',
      );
      const quality = body.data!.platform.dataQuality;
      const tables = new Set(quality.map((q) => q.table));
      for (const table of ['bronze.booking_events', 'bronze.user_events', 'silver.events', 'silver.tours', 'silver.destinations', 'silver.users', 'gold.user_360', 'gold.booking_metrics', 'gold.recommendation_features', 'gold.tourism_analytics']) {
        expect(tables, table).toContain(table);
      }
      for (const q of quality) expect(q.overallScore).toBeGreaterThanOrEqual(0), expect(q.overallScore).toBeLessThanOrEqual(1);
      // The bookings batch: one of its two records broke a rule.
      const bookings = quality.find((q) => q.table === 'silver.events' && q.sourceId === 'gateway_bookings')!;
      expect(bookings).toMatchObject({ rowCount: 2, validity: 0.5 });
    });

    it('traces lineage from the source to gold, with the records moved', async () => {
      const { body } = await gw.request<{ platform: { lineage: { from: string; to: string; kind: string; records: number }[] } }>(
        '{ platform { lineage { from to kind records } } }',
      );
      const edges = body.data!.platform.lineage;
      const edge = (from: string, to: string) => edges.find((e) => e.from === from && e.to === to);
      expect(edge('source:gateway_bookings', 'topic:topic_booking_events')?.records).toBeGreaterThanOrEqual(2);
      expect(edge('topic:topic_booking_events', 'table:bronze.booking_events')?.kind).toBe('land');
      expect(edge('table:bronze.booking_events', 'table:silver.events')?.records).toBeGreaterThanOrEqual(1);
      expect(edge('table:bronze.booking_events', 'table:silver.quarantine')?.records).toBeGreaterThanOrEqual(1);
      expect(edge('table:silver.events', 'table:gold.user_360')?.records).toBeGreaterThan(0);
      // Declared sources that never ran are still in the graph.
      expect(edge('source:oltp_cdc', 'topic:topic_cdc_changes')).toMatchObject({ kind: 'publish', records: 0 });
    });

    it("shows every source's latest executions, read in one statement for all sources", async () => {
      const { body } = await gw.request<{ platform: { dataSources: { sourceId: string; executions: { layer: string; recordsOut: number }[] }[] } }>(
        '{ platform { dataSources { sourceId executions(first: 2) { layer recordsOut } } } }',
      );
      const sources = body.data!.platform.dataSources;
      expect(sources.length).toBeGreaterThan(2);
      const bookings = sources.find((s) => s.sourceId === 'gateway_bookings')!;
      expect(bookings.executions.map((e) => e.layer).sort()).toEqual(['bronze', 'silver']);
      expect(sources.find((s) => s.sourceId === 'oltp_cdc')!.executions).toEqual([]);
      expect((body as { extensions?: { backends?: { lakehouse?: { calls: number } } } }).extensions?.backends?.lakehouse?.calls).toBe(1);
    });

    it('lands a re-delivered record once in silver', async () => {
      // Replaying the same bus records into bronze (an at-least-once redelivery) promotes nothing twice.
      const before = await runPipeline();
      expect(before.find((r) => r.layer === 'silver')).toMatchObject({ recordsIn: 0, recordsOut: 0 });
    });
  });

  describe('recommendations read gold', () => {
    it("changes a user's recommendations after their new bookings reach gold", async () => {
      const userId = 'U-MEDALLION-2';
      const query = `query ($id: ID!) { user(id: $id) { recommendations(first: 5) { tour { id region category } score reason } } }`;
      // Unknown user: no profile, no recommendations yet (the user does not exist before events).
      const { body: tours } = await gw.request<{ tours: { edges: { node: { id: string; region: string; category: string } }[] } }>(
        '{ tours(first: 100, filter: { regions: ["JP"] }) { edges { node { id region category } } } }',
      );
      const japan = tours.data!.tours.edges.map((e) => e.node);
      expect(japan.length).toBeGreaterThan(2);
      await gw.request(`mutation ($inputs: [EventInput!]!) { ingestEvents(inputs: $inputs) { accepted } }`, {
        inputs: [{ eventType: 'VIEW', userId, tourId: japan[0]!.id }],
      });
      await runPipeline();
      const first = await gw.request<{ user: { recommendations: { tour: { id: string; region: string } }[] } }>(query, { id: userId });
      expect(first.body.errors).toBeUndefined();
      const before = first.body.data!.user.recommendations;
      const booked = before[0]!.tour.id;

      await gw.request(`mutation ($inputs: [EventInput!]!) { ingestEvents(inputs: $inputs) { accepted } }`, {
        inputs: [{ eventType: 'BOOKING', userId, tourId: booked, amount: 300, currency: 'USD' }],
      });
      // Not before the run: recommendations come from gold.
      const stale = await gw.request<{ user: { recommendations: { tour: { id: string } }[] } }>(query, { id: userId });
      expect(stale.body.data!.user.recommendations.map((r) => r.tour.id)).toContain(booked);
      await runPipeline();
      const after = await gw.request<{ user: { recommendations: { tour: { id: string; region: string }; reason: string }[] } }>(query, { id: userId });
      const ids = after.body.data!.user.recommendations.map((r) => r.tour.id);
      expect(ids).not.toContain(booked);
      expect(after.body.data!.user.recommendations[0]!.tour.region).toBe('JP');
      expect(after.body.data!.user.recommendations[0]!.reason).toMatch(/JP|Japan/);
    });
  });

  describe('runs are triggered', () => {
    it('by new events (debounced) and on a schedule', async () => {
      const scheduled = await start({ MEDALLION_DEBOUNCE_MS: '600000', MEDALLION_INTERVAL_MS: '100' });
      try {
        const c = createClient({ url: scheduled.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
        const run = new Promise<Run>((resolve, reject) => {
          c.subscribe<{ pipelineRunFinished: Run }>(
            { query: `subscription { pipelineRunFinished { ${RUN_FIELDS} } }` },
            { next: (v) => v.data?.pipelineRunFinished.layer === 'silver' && resolve(v.data.pipelineRunFinished), error: reject, complete: () => undefined },
          );
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { body } = await scheduled.request<{ tours: { edges: { node: { id: string } }[] } }>('{ tours(first: 1) { edges { node { id } } } }');
        const tourId = body.data!.tours.edges[0]!.node.id;
        await scheduled.request(`mutation ($tourId: ID!) { ingestEvent(input: { eventType: VIEW, userId: "U000001", tourId: $tourId }) { eventId } }`, { tourId });
        const silver = await run;
        expect({ trigger: silver.trigger, recordsOut: silver.recordsOut }).toEqual({ trigger: 'SCHEDULE', recordsOut: 1 });
        await c.dispose();
      } finally {
        await scheduled.close();
      }
    });
  });
  });
}
