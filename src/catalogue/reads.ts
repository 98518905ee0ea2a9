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

/** A value now, or once a backend answered. */
export type MaybePromise<T> = T | Promise<T>;

/** `then` for a value that may not be a promise: a value read in memory stays synchronous (no microtask, no promise per field). */
export function andThen<T, R>(value: MaybePromise<T>, next: (value: T) => R): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * The catalogue reads of one request: from the in-process replica while it is current, from the
 * lakehouse otherwise (and always for `asOf`, which reads a past snapshot). Either way the answer
 * is the same; replica reads count as lakehouse calls in the request's log, so the answer's
 * `extensions.freshness` states the lakehouse watermark they reflect. Replica reads answer
 * synchronously (a resolver returning a plain value costs graphql-js far less than a promise).
 */
export class CatalogueReads {
  private readonly replica: CatalogueReplica | undefined;
  /** The request's (instrumented) lakehouse. */
  private readonly lakehouse: SqlEngine;
  private readonly calls: BackendCallLog;
  /** Whether a by-id lookup was counted: a request's lookups count as one call, as a loader's batch would. */
  private lookedUp = false;

  constructor(replica: CatalogueReplica | undefined, lakehouse: SqlEngine, calls: BackendCallLog) {
    this.replica = replica;
    this.lakehouse = lakehouse;
    this.calls = calls;
  }

  /** Whether reads are answered in process now (a cross-request row cache in front would only cost). */
  get inProcess(): boolean {
    return this.replica?.current !== undefined;
  }

  toursPage(args: IdSlice & { filter?: TourFilterInput | null; asOf?: Date | null; withTotal?: boolean }): MaybePromise<Page<TourRow>> {
    const snapshot = args.asOf ? undefined : this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.toursPage(args)) : toursPage(this.lakehouse, args);
  }

  toursByIds(ids: readonly string[]): MaybePromise<TourRow[]> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.toursByIds(ids)) : toursByIds(this.lakehouse, ids);
  }

  toursByDestinations(args: IdSlice & { destinationIds: readonly string[] }): MaybePromise<{ rows: TourRow[]; totals: Map<string, number> }> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.toursByDestinations(args)) : toursByDestinations(this.lakehouse, args);
  }

  destinationsPage(args: IdSlice & { filter?: DestinationFilterInput | null; withTotal?: boolean }): MaybePromise<Page<DestinationRow>> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.destinationsPage(args)) : destinationsPage(this.lakehouse, args);
  }

  destinationsByIds(ids: readonly string[]): MaybePromise<DestinationRow[]> {
    const snapshot = this.replica?.current;
    return snapshot ? this.local(snapshot, (s) => s.destinationsByIds(ids)) : destinationsByIds(this.lakehouse, ids);
  }

  /** A tour from the replica now (null: no such tour), or undefined when the replica cannot answer (ask the loader). */
  tourNow(id: string): TourRow | null | undefined {
    const snapshot = this.replica?.current;
    return snapshot && this.lookup(snapshot, (s) => s.toursByIds([id])[0] ?? null);
  }

  /** A destination from the replica now (null: none), or undefined when the replica cannot answer (ask the loader). */
  destinationNow(id: string): DestinationRow | null | undefined {
    const snapshot = this.replica?.current;
    return snapshot && this.lookup(snapshot, (s) => s.destinationsByIds([id])[0] ?? null);
  }

  private local<T>(snapshot: CatalogueSnapshot, read: (snapshot: CatalogueSnapshot) => T, count = 1): T {
    const started = performance.now();
    const result = read(snapshot);
    this.calls.record('lakehouse', REPLICA_ADAPTER, performance.now() - started, count);
    return result;
  }

  private lookup<T>(snapshot: CatalogueSnapshot, read: (snapshot: CatalogueSnapshot) => T): T {
    const first = !this.lookedUp;
    this.lookedUp = true;
    return this.local(snapshot, read, first ? 1 : 0);
  }
}
