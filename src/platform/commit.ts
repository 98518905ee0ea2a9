/**
 * A medallion commit notification: what one pass of the medallion made durable in the lakehouse.
 * The medallion emits one after every pass that changed silver or gold, wherever it runs (in the
 * gateway process when the lakehouse is embedded, in the `npm run medallion` worker in
 * production, where it is published on the bus topic {@link MEDALLION_COMMITS_TOPIC} so every
 * gateway instance hears it). Gateways use it for pipeline-driven cache invalidation, for
 * `extensions.freshness` and for read-your-writes.
 */
export interface MedallionCommit {
  /** Strictly increasing across passes (ms since the epoch of the commit, bumped to stay increasing). */
  seq: number;
  /** When the pass committed its last table, ISO 8601. */
  committedAt: string;
  /** Tables whose contents the pass changed, schema-qualified (`silver.events`, `gold.booking_metrics`, ...). */
  tables: string[];
  /**
   * Bus position up to which silver and gold are now materialised: a cursor of the bus the
   * medallion reads (`BusPort.follows(position)` tells whether a record is beyond it).
   */
  position: string;
  /** Publish time of the newest record included (ISO 8601), or null before any record. */
  positionTime: string | null;
  /** Iceberg snapshots the pass committed, per changed table, when the lakehouse is Trino/Iceberg. */
  snapshots: { table: string; snapshotId: string; committedAt: string }[];
}

/** The bus topic medallion commits are published on when the medallion runs outside the gateway. */
export const MEDALLION_COMMITS_TOPIC = 'nexus_medallion_commits';
