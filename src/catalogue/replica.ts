import type { DestinationRow, TourRow } from '../domain.ts';
import { DESTINATION_COLUMNS, TOUR_COLUMNS, destinationFromRow, tourFromRow } from '../backends/lakehouse/rows.ts';
import { limit, type SqlEngine } from '../backends/sql/port.ts';
import type { Logger } from '../logger.ts';
import type { MedallionCommit } from '../platform/commit.ts';
import { CatalogueSnapshot } from './snapshot.ts';
import { CATALOGUE_TABLES, type CatalogueTable } from './tables.ts';


/** Where the replica stands: serving, not loaded yet, behind the lakehouse (a refresh failed), or over its row bound. */
export type ReplicaState = 'serving' | 'loading' | 'behind' | 'too-large' | 'closed';

export interface CatalogueReplicaOptions {
  /** The lakehouse it copies (the gateway's guarded engine: reads have its budget and breaker). */
  lakehouse: SqlEngine;
  /** Rows per table above which the catalogue is not copied and reads stay on the lakehouse. */
  maxRows: number;
  logger?: Logger | undefined;
  /** First wait before retrying a failed refresh, doubled up to 30 s. */
  retryMs?: number;
}

const MAX_RETRY_MS = 30_000;

/**
 * An in-process copy of the catalogue dimension tables, so catalogue reads (tour and destination
 * lists with any filter, by id, per destination) never wait on the lakehouse: with Trino a
 * statement costs hundreds of milliseconds, a read from the copy microseconds.
 *
 * It is exactly as fresh as the pipeline: it loads at start, and every medallion commit that
 * changed a catalogue table is applied before the gateway counts the commit as seen (the
 * watermark behind `extensions.freshness` and `@readAfter`, and the response cache's table
 * versions, advance only once {@link apply} resolved). Whenever it cannot be current — not loaded
 * yet, a refresh failed, the tables are over `maxRows` — {@link current} is undefined and reads
 * go to the lakehouse as before; a failed refresh is retried with backoff.
 */
export class CatalogueReplica {
  private snapshot: CatalogueSnapshot | undefined;
  private status: ReplicaState = 'loading';
  /** Refreshes run one at a time, in commit order. */
  private work: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private readonly options: CatalogueReplicaOptions;

  constructor(options: CatalogueReplicaOptions) {
    this.options = options;
    this.retryMs = options.retryMs ?? 1_000;
  }

  /** The snapshot reads may use now, or undefined when reads must go to the lakehouse. */
  get current(): CatalogueSnapshot | undefined {
    return this.status === 'serving' ? this.snapshot : undefined;
  }

  get state(): ReplicaState {
    return this.status;
  }

  /** Loads both tables; resolves when loaded or when the load failed (reads then stay on the lakehouse until a retry succeeds). */
  start(): Promise<void> {
    return this.enqueue(CATALOGUE_TABLES);
  }

  /** Applies a medallion commit: reloads the catalogue tables it changed. Resolves once the replica reflects it (or stepped aside). */
  apply(commit: MedallionCommit): Promise<void> {
    const changed = CATALOGUE_TABLES.filter((table) => commit.tables.includes(table));
    // Nothing to reload, but still in line: a commit must not overtake one being applied.
    return changed.length === 0 ? this.work : this.enqueue(changed);
  }

  close(): void {
    this.status = 'closed';
    this.snapshot = undefined;
    clearTimeout(this.retryTimer);
  }

  private enqueue(tables: readonly CatalogueTable[]): Promise<void> {
    this.work = this.work.then(() => this.refresh(tables));
    return this.work;
  }

  private async refresh(tables: readonly CatalogueTable[]): Promise<void> {
    if (this.status === 'closed') return;
    // Without a whole snapshot to patch, both tables are read.
    const reload = this.snapshot && this.status !== 'behind' ? tables : CATALOGUE_TABLES;
    try {
      const [tours, destinations] = await Promise.all([
        reload.includes('silver.tours') ? this.read('silver.tours', TOUR_COLUMNS, 'tour_id', tourFromRow) : undefined,
        reload.includes('silver.destinations') ? this.read('silver.destinations', DESTINATION_COLUMNS, 'destination_id', destinationFromRow) : undefined,
      ]);
      if (this.closed()) return;
      if (tours === 'too-large' || destinations === 'too-large') {
        if (this.status !== 'too-large') this.options.logger?.warn({ maxRows: this.options.maxRows }, 'catalogue replica off: a catalogue table is over CATALOGUE_REPLICA_MAX_ROWS; catalogue reads go to the lakehouse');
        this.status = 'too-large';
        this.snapshot = undefined;
        return;
      }
      this.snapshot = nextSnapshot(this.snapshot, tours, destinations);
      if (this.status !== 'serving') this.options.logger?.info({ rows: this.snapshot.size }, 'catalogue replica serving');
      this.status = 'serving';
      this.retryMs = this.options.retryMs ?? 1_000;
    } catch (error) {
      if (this.closed()) return;
      // Serving an old copy past a commit would answer older than the watermark says: step aside.
      if (this.status !== 'behind') this.options.logger?.warn({ err: error, retryInMs: this.retryMs }, 'catalogue replica behind: refresh failed; catalogue reads go to the lakehouse until it succeeds');
      this.status = 'behind';
      this.scheduleRetry();
    }
  }

  /** Read again after an await (close() may have run meanwhile). */
  private closed(): boolean {
    return this.status === 'closed';
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.enqueue(CATALOGUE_TABLES), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  /** A whole table, or 'too-large' past the row bound (one row more is read to tell). */
  private async read<R>(table: CatalogueTable, columns: string, key: string, map: (row: Record<string, unknown>) => R): Promise<R[] | 'too-large'> {
    const rows = await this.options.lakehouse.query(`SELECT ${columns} FROM ${table} ORDER BY ${key} ${limit(this.options.maxRows + 1)}`);
    return rows.length > this.options.maxRows ? 'too-large' : rows.map(map);
  }
}

function nextSnapshot(previous: CatalogueSnapshot | undefined, tours: TourRow[] | undefined, destinations: DestinationRow[] | undefined): CatalogueSnapshot {
  if (tours && destinations) return new CatalogueSnapshot(tours, destinations);
  if (!previous) throw new Error('a partial refresh needs a loaded snapshot');
  if (tours) return previous.withTours(tours);
  return destinations ? previous.withDestinations(destinations) : previous;
}
