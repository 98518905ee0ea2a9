import { beforeAll, describe, expect, it } from 'vitest';
import {
  destinationsByIds,
  destinationsPage,
  toursByDestinations,
  toursByIds,
  toursPage,
  type DestinationFilterInput,
  type IdSlice,
  type TourFilterInput,
} from '../../src/backends/lakehouse/queries.ts';
import type { SqlEngine } from '../../src/backends/sql/port.ts';
import type { CatalogueSnapshot } from '../../src/catalogue/snapshot.ts';
import { seededRandom } from '../../ingest/demo/random.ts';

/** What the catalogue contract compares: the lakehouse's SQL reads, and a replica of the same tables. */
export interface CatalogueContractFixture {
  /** The reference: the catalogue reads in SQL on this engine. */
  lakehouse: SqlEngine;
  /** The replica's snapshot of the same tables. */
  snapshot: () => CatalogueSnapshot;
}

/** What the catalogue holds, to draw realistic (and some impossible) filter values from. */
interface Domain {
  tourIds: string[];
  destinationIds: string[];
  regions: string[];
  categories: string[];
  tags: string[];
  countryCodes: string[];
}

async function domainOf(engine: SqlEngine): Promise<Domain> {
  const column = async (sql: string) => (await engine.query(sql)).map((row) => String(Object.values(row)[0]));
  return {
    tourIds: await column('SELECT tour_id FROM silver.tours ORDER BY tour_id'),
    destinationIds: await column('SELECT destination_id FROM silver.destinations ORDER BY destination_id'),
    regions: await column('SELECT DISTINCT region FROM silver.tours'),
    categories: await column('SELECT DISTINCT category FROM silver.tours'),
    tags: await column('SELECT DISTINCT tag FROM (SELECT unnest(tags) AS tag FROM silver.tours) t'),
    countryCodes: await column('SELECT DISTINCT country_code FROM silver.destinations'),
  };
}

function generator(domain: Domain, seed: number) {
  // Seeded, so a failing case is the same on every run.
  const next = seededRandom(seed);
  const chance = (p: number) => next() < p;
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const some = (values: readonly string[], unknown: string) => {
    const chosen = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(values));
    return chance(0.1) ? [...chosen, unknown] : chance(0.05) ? [] : chosen;
  };
  /** An id of the list, one that sorts between ids, or one past either end. */
  const cursorOf = (ids: readonly string[]) => (chance(0.7) ? pick(ids) : chance(0.5) ? `${pick(ids)}~` : pick(['', '\u{10FFFF}']));
  const slice = (ids: readonly string[]): IdSlice => {
    const size = pick([0, 1, 2, 5, 10, 50]);
    const cursor = chance(0.4) ? null : cursorOf(ids);
    return chance(0.5) ? { first: size, afterId: cursor } : { last: size, beforeId: cursor };
  };
  const tourFilter = (): TourFilterInput | null => {
    if (chance(0.15)) return null;
    const filter: TourFilterInput = {};
    if (chance(0.4)) filter.regions = some(domain.regions, 'ZZ');
    if (chance(0.3)) filter.categories = some(domain.categories, 'no_such_category');
    if (chance(0.15)) filter.destinationId = chance(0.9) ? pick(domain.destinationIds) : 'NO_SUCH_DESTINATION';
    if (chance(0.3)) filter.minPrice = Math.round(next() * 400);
    if (chance(0.3)) filter.maxPrice = Math.round(next() * 800);
    if (chance(0.3)) filter.minRating = pick([0, 3, 3.5, 4, 4.5, 4.9, 5]);
    if (chance(0.25)) filter.tags = Array.from({ length: 1 + Math.floor(next() * 2) }, () => pick(domain.tags));
    return filter;
  };
  const destinationFilter = (): DestinationFilterInput | null => {
    if (chance(0.2)) return null;
    const filter: DestinationFilterInput = {};
    if (chance(0.6)) filter.countryCodes = some(domain.countryCodes, 'ZZ');
    if (chance(0.4)) filter.minRating = pick([0, 3.5, 4, 4.4, 4.8]);
    return filter;
  };
  return { pick, chance, slice, tourFilter, destinationFilter, ids: (all: readonly string[]) => some(all, 'NO_SUCH_ID') };
}

/**
 * The catalogue reads, written once: a replica must give exactly what the lakehouse's SQL gives —
 * rows, their order, page flags and totals — for generated filters, slices and cursors (values
 * that match nothing, empty lists, cursors between and beyond the ids, NULL ratings and
 * destinations, ids beyond the Basic Multilingual Plane where UTF-16 order is not SQL's).
 */
export function describeCatalogueContract(name: string, make: () => Promise<CatalogueContractFixture>, cases = 150): void {
  describe(`catalogue contract: ${name}`, () => {
    let ready: { fixture: CatalogueContractFixture; domain: Domain };
    beforeAll(async () => {
      const fixture = await make();
      ready = { fixture, domain: await domainOf(fixture.lakehouse) };
    }, 60_000);

    it('tour lists: every filter, slice direction, cursor and total', async () => {
      const { fixture, domain } = ready;
      const gen = generator(domain, 1);
      let nonEmpty = 0;
      for (let i = 0; i < cases; i += 1) {
        const args = { ...gen.slice(domain.tourIds), filter: gen.tourFilter(), withTotal: gen.chance(0.7) };
        const expected = await toursPage(fixture.lakehouse, args);
        if (expected.rows.length > 0) nonEmpty += 1;
        expect(fixture.snapshot().toursPage(args), JSON.stringify(args)).toEqual(expected);
      }
      // Equal answers prove little when they are all empty.
      expect(nonEmpty).toBeGreaterThan(cases / 3);
    });

    it('destination lists', async () => {
      const { fixture, domain } = ready;
      const gen = generator(domain, 2);
      for (let i = 0; i < cases / 3; i += 1) {
        const args = { ...gen.slice(domain.destinationIds), filter: gen.destinationFilter(), withTotal: gen.chance(0.7) };
        expect(fixture.snapshot().destinationsPage(args), JSON.stringify(args)).toEqual(await destinationsPage(fixture.lakehouse, args));
      }
    });

    it('by id, with unknown and repeated ids', async () => {
      const { fixture, domain } = ready;
      const gen = generator(domain, 3);
      const byId = <R extends { id: string }>(rows: R[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));
      for (let i = 0; i < 20; i += 1) {
        const tourIds = [...gen.ids(domain.tourIds), ...gen.ids(domain.tourIds)];
        expect(byId(fixture.snapshot().toursByIds(tourIds))).toEqual(byId(await toursByIds(fixture.lakehouse, tourIds)));
        const destinationIds = gen.ids(domain.destinationIds);
        expect(byId(fixture.snapshot().destinationsByIds(destinationIds))).toEqual(byId(await destinationsByIds(fixture.lakehouse, destinationIds)));
      }
    });

    it('each destination’s tours, one slice for many destinations', async () => {
      const { fixture, domain } = ready;
      const gen = generator(domain, 4);
      for (let i = 0; i < cases / 3; i += 1) {
        const args = { ...gen.slice(domain.tourIds), destinationIds: gen.ids(domain.destinationIds) };
        const expected = await toursByDestinations(fixture.lakehouse, args);
        expect(fixture.snapshot().toursByDestinations(args), JSON.stringify(args)).toEqual(expected);
      }
    });
  });
}
