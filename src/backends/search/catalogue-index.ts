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

/** Tables whose change alters the tour index (tours, and the destination names they carry). */
export const CATALOGUE_TABLES: readonly string[] = ['silver.tours', 'silver.destinations'];

/** Options of `followCatalogueChanges`. */
export interface CatalogueFollowerOptions {
  lakehouse: SqlEngine;
  search: Pick<SearchPort, 'indexTours'>;
  /** Called after each rebuild, e.g. to drop search answers cached while the old index answered. */
  onIndexed?: (tours: number) => void;
  /** Told of a failed rebuild (the next catalogue change tries again). */
  onError?: (error: unknown) => void;
}

/**
 * Keeps an in-process tour index current in a gateway that does not run the medallion itself
 * (another process does, and announces its commits on the bus): each commit that changed the
 * catalogue rebuilds the index. One rebuild at a time; commits heard during one coalesce into one
 * more. Returns the listener to hand every commit, and `idle()`, resolving when no rebuild is due.
 */
export function followCatalogueChanges(options: CatalogueFollowerOptions): { onCommit: (commit: { tables: readonly string[] }) => void; idle: () => Promise<void> } {
  let running: Promise<void> | undefined;
  let again = false;
  const rebuild = (): Promise<void> =>
    indexCatalogue(options.lakehouse, options.search).then(
      (tours) => options.onIndexed?.(tours),
      (error: unknown) => options.onError?.(error),
    );
  const run = (): void => {
    running = rebuild().then(() => {
      if (again) {
        again = false;
        run();
      } else running = undefined;
    });
  };
  return {
    onCommit(commit) {
      if (!commit.tables.some((table) => CATALOGUE_TABLES.includes(table))) return;
      if (running) again = true;
      else run();
    },
    async idle() {
      while (running) await running;
    },
  };
}
