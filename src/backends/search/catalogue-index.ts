import { CATALOGUE_TABLES } from '../../catalogue/tables.ts';
import type { CatalogueRows } from '../../catalogue/snapshot.ts';
import { destinationsPage, toursPage } from '../lakehouse/queries.ts';
import type { SqlEngine } from '../sql/port.ts';
import type { SearchPort } from './port.ts';

/** The catalogue as held in this process now (the catalogue replica's), or undefined when it is not. */
export type HeldCatalogue = () => CatalogueRows | undefined;

/**
 * (Re)builds the search role's tour index from the catalogue: every tour of `silver.tours` with
 * its destination's name, from the copy `held` in this process when there is one (no second read
 * of the same tables), else from the lakehouse. `indexTours` replaces the whole index (tours no
 * longer in the catalogue leave it), so the same call serves the start-up build and every
 * catalogue change; the catalogue is small (one document per tour). Resolves with the tours indexed.
 */
export async function indexCatalogue(lakehouse: SqlEngine, search: Pick<SearchPort, 'indexTours'>, held?: HeldCatalogue): Promise<number> {
  const { tours, destinations } = held?.() ?? (await readCatalogue(lakehouse));
  await search.indexTours(tours, new Map(destinations.map((d) => [d.id, d.name])));
  return tours.length;
}

async function readCatalogue(lakehouse: SqlEngine): Promise<CatalogueRows> {
  const destinations = await destinationsPage(lakehouse, { first: 100_000 });
  const tours = await toursPage(lakehouse, { first: 1_000_000 });
  return { tours: tours.rows, destinations: destinations.rows };
}

/** Whether the search adapter keeps its index in this process (each process builds its own) rather than in a shared service. */
export function searchIndexIsLocal(search: Pick<SearchPort, 'adapter'>): boolean {
  return search.adapter === 'minisearch';
}


/** Options of `followCatalogueChanges`. */
export interface CatalogueFollowerOptions {
  lakehouse: SqlEngine;
  search: Pick<SearchPort, 'indexTours'>;
  /** The catalogue already held in this process, read instead of the lakehouse (it has the commit by the time the follower hears of it). */
  held?: HeldCatalogue;
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
    indexCatalogue(options.lakehouse, options.search, options.held).then(
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
      if (!commit.tables.some((table) => (CATALOGUE_TABLES as readonly string[]).includes(table))) return;
      if (running) again = true;
      else run();
    },
    async idle() {
      while (running) await running;
    },
  };
}
