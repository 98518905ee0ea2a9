import { destinationsPage, toursPage } from '../lakehouse/queries.ts';
import type { SqlEngine } from '../sql/port.ts';
import type { SearchPort } from './port.ts';

/**
 * (Re)builds the search role's tour index from the lakehouse's catalogue: every tour of
 * `silver.tours` with its destination's name. `indexTours` replaces the whole index (tours no
 * longer in the catalogue leave it), so the same call serves the start-up build and every
 * catalogue change; the catalogue is small (one document per tour). Resolves with the tours indexed.
 */
export async function indexCatalogue(lakehouse: SqlEngine, search: Pick<SearchPort, 'indexTours'>): Promise<number> {
  const destinations = await destinationsPage(lakehouse, { first: 100_000 });
  const tours = await toursPage(lakehouse, { first: 1_000_000 });
  await search.indexTours(tours.rows, new Map(destinations.rows.map((d) => [d.id, d.name])));
  return tours.rows.length;
}

/** Whether the search adapter keeps its index in this process (each process builds its own) rather than in a shared service. */
export function searchIndexIsLocal(search: Pick<SearchPort, 'adapter'>): boolean {
  return search.adapter === 'minisearch';
}
