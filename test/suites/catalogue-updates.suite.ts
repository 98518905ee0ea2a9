import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseEngine } from '../../src/backends/clickhouse/engine.ts';
import type { MedallionCommit } from '../../src/platform/commit.ts';
import type { TestGateway } from '../helpers/gateway.ts';

/**
 * Catalogue updates from GraphQL alone: full-state tour records go in through `ingestRecords`
 * (source `tour_catalogue`), a medallion pass runs, and the catalogue the gateway serves follows:
 * `tour(id:)`, `tours(filter:)`, search, gold and the analytics role's tours; a deleted tour
 * disappears, an older state arriving late changes nothing, a tie on `updatedAt` goes to the
 * later record, a record naming an unknown destination is quarantined. Written once and run on
 * every lakehouse engine the medallion writes: `start` starts a gateway with demo data, running
 * the medallion, with `env` added to its configuration.
 */
export function describeCatalogueUpdatesSuite(label: string, start: (env: Record<string, string>) => Promise<TestGateway>, options: { timeoutMs?: number } = {}): void {
  describe(`catalogue updates: ${label}`, { timeout: options.timeoutMs ?? 30_000 }, () => {
    interface TourNode {
      tourId: string;
      name: string;
      price: number;
      region: string;
      category: string;
      tags: string[];
      updatedAt: string;
      destination: { id: string; destinationId: string } | null;
    }
    interface Run {
      layer: string;
      recordsIn: number;
      recordsOut: number;
      recordsRejected: number;
      sources: { sourceId: string; recordsIn: number; recordsOut: number; recordsRejected: number }[];
    }
    const TOUR_FIELDS = 'tourId name price region category tags updatedAt destination { id destinationId }';

    let gw: TestGateway;
    const commits: MedallionCommit[] = [];
    let changed: TourNode;
    let removed: TourNode;
    const created = 'T-CATALOGUE-NEW';
    /** Stamps of the records: the first update and the later, older ones. */
    const stamp = new Date(Date.now() - 60_000).toISOString();
    const older = new Date(Date.now() - 30 * 60_000).toISOString();

    beforeAll(async () => {
      // Passes run when the test asks (runPipeline), so each pass holds exactly what it published.
      gw = await start({ MEDALLION_DEBOUNCE_MS: '60000', MEDALLION_INTERVAL_MS: '0' });
      gw.gateway.services.pipeline!.runs.on('committed', (commit: MedallionCommit) => commits.push(commit));
      const { body } = await gw.request<{ tours: { edges: { node: TourNode }[] } }>(`{ tours(first: 2) { edges { node { ${TOUR_FIELDS} } } } }`);
      [changed, removed] = body.data!.tours.edges.map((e) => e.node) as [TourNode, TourNode];
    }, 180_000);
    afterAll(async () => {
      await gw?.close();
    });

    /** A full-state record of `tour` with `changes`, as a catalogue publishes it (without the fields the gateway sets). */
    function record(tour: TourNode, changes: Partial<Record<string, unknown>>): Record<string, unknown> {
      return {
        eventType: 'tour_update',
        tourId: tour.tourId,
        name: tour.name,
        destinationId: tour.destination!.destinationId,
        region: tour.region,
        price: tour.price,
        currency: 'USD',
        rating: 4.5,
        durationDays: 2,
        category: tour.category,
        tags: tour.tags,
        description: null,
        updatedAt: stamp,
        deleted: false,
        ...changes,
      };
    }

    async function publish(records: Record<string, unknown>[]): Promise<string[]> {
      const { body } = await gw.request<{ ingestRecords: { accepted: number; results: { receipt: { eventId: string } | null }[] } }>(
        'mutation ($records: [JSON!]!) { ingestRecords(source: "tour_catalogue", records: $records) { accepted results { receipt { eventId } } } }',
        { records },
      );
      expect(body.errors).toBeUndefined();
      expect(body.data!.ingestRecords.accepted).toBe(records.length);
      return body.data!.ingestRecords.results.map((r) => r.receipt!.eventId);
    }

    async function runPipeline(): Promise<Run[]> {
      const { body } = await gw.request<{ runPipeline: Run[] }>(
        'mutation { runPipeline { layer recordsIn recordsOut recordsRejected sources { sourceId recordsIn recordsOut recordsRejected } } }',
      );
      expect(body.errors).toBeUndefined();
      return body.data!.runPipeline;
    }

    async function tour(id: string): Promise<TourNode | null> {
      const { body } = await gw.request<{ tour: TourNode | null }>(`query ($id: ID!) { tour(id: $id) { ${TOUR_FIELDS} } }`, { id });
      expect(body.errors).toBeUndefined();
      return body.data!.tour;
    }

    async function searchIds(query: string): Promise<string[]> {
      const { body } = await gw.request<{ searchTours: { edges: { node: { tour: { tourId: string } } }[] } }>(
        'query ($q: String!) { searchTours(query: $q, first: 50) { edges { node { tour { tourId } } } } }',
        { q: query },
      );
      expect(body.errors).toBeUndefined();
      return body.data!.searchTours.edges.map((e) => e.node.tour.tourId);
    }

    /** The tour's name in the analytics role's tours (a view embedded and on Trino, a copy on ClickHouse). */
    async function analyticsTourName(id: string): Promise<string | null> {
      const analytics = gw.gateway.services.backends.analytics;
      const table = analytics.adapter === 'clickhouse' ? `${(analytics as ClickHouseEngine).database}.tours` : 'analytics.tours';
      const [row] = await analytics.query(`SELECT tour_name FROM ${table} WHERE tour_id = ?`, [id]);
      return row ? String(row['tour_name']) : null;
    }

    async function goldRows(id: string): Promise<number> {
      const [row] = await gw.gateway.services.backends.lakehouse.query('SELECT count(*) AS n FROM gold.tourism_analytics WHERE tour_id = ?', [id]);
      return Number(row?.['n']);
    }

    describe('a change, a new tour, a deletion and a bad record, through one pass', () => {
      let runs: Run[];
      let badEventId: string;
      let firstCommit: MedallionCommit | undefined;

      beforeAll(async () => {
        // Read (and cached, where the response cache is on) before the change.
        expect((await tour(changed.tourId))?.name).toBe(changed.name);
        expect(await searchIds(removed.name)).toContain(removed.tourId);
        const ids = await publish([
          record(changed, { name: 'Quokkaville Lagoon Kayak', price: 999.5, tags: ['catalogue-check', 'water'] }),
          record(changed, { tourId: created, name: 'Wombatton Night Walk', price: 42, tags: ['catalogue-check'] }),
          record(removed, { deleted: true }),
          // Passes the contract, fails silver's rules: a destination the catalogue does not have.
          record(changed, { tourId: 'T-CATALOGUE-NOWHERE', destinationId: 'DEST-NOWHERE' }),
        ]);
        badEventId = ids[3]!;
        const before = commits.length;
        runs = await runPipeline();
        firstCommit = commits.slice(before).find((c) => c.tables.includes('silver.tours'));
      });

      it('applies the change, the new tour and the deletion, and quarantines the bad record, with per-source figures', () => {
        const silver = runs.find((r) => r.layer === 'silver')!;
        expect(silver.sources.find((s) => s.sourceId === 'tour_catalogue')).toEqual({ sourceId: 'tour_catalogue', recordsIn: 4, recordsOut: 3, recordsRejected: 1 });
      });

      it('serves the new state from tour(id:) and tours(filter:), and the deleted tour no more', async () => {
        expect(await tour(changed.tourId)).toMatchObject({ name: 'Quokkaville Lagoon Kayak', price: 999.5, updatedAt: stamp });
        expect(await tour(created)).toMatchObject({ name: 'Wombatton Night Walk', price: 42, destination: { destinationId: changed.destination!.destinationId } });
        expect(await tour(removed.tourId)).toBeNull();
        const { body } = await gw.request<{ tours: { totalCount: number; edges: { node: { tourId: string } }[] } }>(
          '{ tours(first: 10, filter: { tags: ["catalogue-check"] }) { totalCount edges { node { tourId } } } }',
        );
        expect(body.data!.tours.edges.map((e) => e.node.tourId).sort()).toEqual([changed.tourId, created].sort());
      });

      it('finds the new names in search, and the deleted tour no more', async () => {
        expect(await searchIds('Quokkaville')).toEqual([changed.tourId]);
        expect(await searchIds('Wombatton')).toEqual([created]);
        expect(await searchIds(removed.name)).not.toContain(removed.tourId);
      });

      it('announces silver.tours and the gold tables built from it in the pass commit; gold and analytics follow', async () => {
        expect(firstCommit?.tables).toEqual(expect.arrayContaining(['silver.tours', 'silver.quarantine', 'gold.tourism_analytics']));
        expect(await goldRows(created)).toBe(1);
        expect(await goldRows(removed.tourId)).toBe(0);
        expect(await analyticsTourName(changed.tourId)).toBe('Quokkaville Lagoon Kayak');
        expect(await analyticsTourName(created)).toBe('Wombatton Night Walk');
        expect(await analyticsTourName(removed.tourId)).toBeNull();
      });

      it('records the catalogue source in quality and lineage, bronze.tours to silver.tours', async () => {
        const { body } = await gw.request<{
          platform: { dataQuality: { table: string; sourceId: string | null; rowCount: number; validity: number }[]; lineage: { from: string; to: string; kind: string; records: number }[] };
        }>('{ platform { dataQuality(table: "silver.tours") { table sourceId rowCount validity } lineage { from to kind records } } }');
        expect(body.errors).toBeUndefined();
        const { dataQuality, lineage } = body.data!.platform;
        expect(dataQuality.find((q) => q.sourceId === 'tour_catalogue')).toMatchObject({ table: 'silver.tours', rowCount: 4, validity: 0.75 });
        expect(dataQuality.some((q) => q.sourceId === null)).toBe(true);
        const edge = (from: string, to: string) => lineage.find((e) => e.from === from && e.to === to);
        expect(edge('table:bronze.tours', 'table:silver.tours')).toMatchObject({ kind: 'clean' });
        expect(edge('table:bronze.tours', 'table:silver.tours')!.records).toBeGreaterThanOrEqual(3);
        expect(edge('table:bronze.tours', 'table:silver.quarantine')!.records).toBeGreaterThanOrEqual(1);
      });

      it('quarantines the record naming an unknown destination, with the rule and its reason', async () => {
        const { body } = await gw.request<{ platform: { quarantine: { eventId: string; rule: string; reason: string; targetTable: string }[] } }>(
          '{ platform { quarantine(first: 20, sourceId: "tour_catalogue") { eventId rule reason targetTable } } }',
        );
        expect(body.data!.platform.quarantine).toEqual([
          { eventId: badEventId, rule: 'known_destination', reason: expect.stringContaining('destinationId'), targetTable: 'silver.tours' },
        ]);
        expect(await tour('T-CATALOGUE-NOWHERE')).toBeNull();
      });
    });

    describe('records arriving late', () => {
      it('an older state changes nothing, nor brings back a deleted tour; the pass does not announce silver.tours', async () => {
        await publish([
          record(changed, { name: 'Stale name', price: 1, updatedAt: older }),
          record(removed, { name: 'Resurrected', updatedAt: older }),
        ]);
        const before = commits.length;
        const runs = await runPipeline();
        expect(runs.find((r) => r.layer === 'silver')!.sources.find((s) => s.sourceId === 'tour_catalogue')).toEqual({
          sourceId: 'tour_catalogue',
          recordsIn: 2,
          recordsOut: 0,
          recordsRejected: 0,
        });
        expect(await tour(changed.tourId)).toMatchObject({ name: 'Quokkaville Lagoon Kayak', price: 999.5 });
        expect(await tour(removed.tourId)).toBeNull();
        expect(commits.slice(before).some((c) => c.tables.includes('silver.tours'))).toBe(false);
      });

      it('the same updatedAt goes to the record published later', async () => {
        await publish([record(changed, { name: 'Quokkaville Lagoon Kayak', price: 888, tags: ['catalogue-check', 'water'] })]);
        const before = commits.length;
        await runPipeline();
        expect(await tour(changed.tourId)).toMatchObject({ price: 888, updatedAt: stamp });
        expect(commits.slice(before).some((c) => c.tables.includes('silver.tours'))).toBe(true);
      });

      it('a pass with nothing new writes nothing to the catalogue', async () => {
        const before = commits.length;
        await runPipeline();
        expect(commits.slice(before).some((c) => c.tables.includes('silver.tours'))).toBe(false);
        expect(await tour(changed.tourId)).toMatchObject({ price: 888 });
      });
    });
  });
}
