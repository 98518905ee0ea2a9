import type { DestinationRow, TourRow } from '../domain.ts';
import {
  destinationsByIds,
  destinationsPage,
  toursByDestinations,
  toursByIds,
  toursPage,
  type DestinationFilterInput,
  type IdSlice,
  type Page,
  type TourFilterInput,
} from '../backends/lakehouse/queries.ts';
import type { SqlEngine } from '../backends/sql/port.ts';
import type { BackendCallLog } from '../observability/backend-calls.ts';
import type { CatalogueReplica } from './replica.ts';
import type { CatalogueSnapshot } from './snapshot.ts';

/** The adapter name replica reads carry in a request's call log (`extensions.backends.lakehouse`). */
export const REPLICA_ADAPTER = 'catalogue-replica';

/**
 * The catalogue reads of one request: from the in-process replica while it is current, from the
 * lakehouse otherwise (and always for `asOf`, which reads a past snapshot). Either way the answer
 * is the same; replica reads count as lakehouse calls in the request's log, so the answer's
 * `extensions.freshness` states the lakehouse watermark they reflect.
 */
export class CatalogueReads {
  private readonly replica: CatalogueReplica | undefined;
  /** The request's (instrumented) lakehouse. */
  private readonly lakehouse: SqlEngine;
  private readonly calls: BackendCallLog;

  constructor(replica: CatalogueReplica | undefined, lakehouse: SqlEngine, calls: BackendCallLog) {
    this.replica = replica;
    this.lakehouse = lakehouse;
    this.calls = calls;
  }

  /** Whether reads are answered in process now (a cross-request row cache in front would only cost). */
  get inProcess(): boolean {
    return this.replica?.current !== undefined;
  }

  toursPage(args: IdSlice & { filter?: TourFilterInput | null; asOf?: Date | null; withTotal?: boolean }): Promise<Page<TourRow>> {
    const snapshot = args.asOf ? undefined : this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.toursPage(args)) : toursPage(this.lakehouse, args);
  }

  toursByIds(ids: readonly string[]): Promise<TourRow[]> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.toursByIds(ids)) : toursByIds(this.lakehouse, ids);
  }

  toursByDestinations(args: IdSlice & { destinationIds: readonly string[] }): Promise<{ rows: TourRow[]; totals: Map<string, number> }> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.toursByDestinations(args)) : toursByDestinations(this.lakehouse, args);
  }

  destinationsPage(args: IdSlice & { filter?: DestinationFilterInput | null; withTotal?: boolean }): Promise<Page<DestinationRow>> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.destinationsPage(args)) : destinationsPage(this.lakehouse, args);
  }

  destinationsByIds(ids: readonly string[]): Promise<DestinationRow[]> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.destinationsByIds(ids)) : destinationsByIds(this.lakehouse, ids);
  }

  private local<T>(snapshot: CatalogueSnapshot, read: (snapshot: CatalogueSnapshot) => T): Promise<T> {
    const started = performance.now();
    const result = read(snapshot);
    this.calls.record('lakehouse', REPLICA_ADAPTER, performance.now() - started);
    return Promise.resolve(result);
  }
}
