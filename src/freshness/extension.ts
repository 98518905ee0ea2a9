import type { MedallionCommit } from '../platform/commit.ts';
import { WATERMARKED_ROLES, type WatermarkTracker } from './watermark-tracker.ts';

/** What one role's data reflects: the medallion watermark of the layer it serves. */
export interface RoleFreshness {
  /** Bus position up to which the layer is materialised (compare with `IngestReceipt.position` through `@readAfter`). */
  position: string;
  /** Publish time of the newest record the layer includes: "data as of". Null before any record. */
  asOf: string | null;
  /** When the medallion committed that state. */
  committedAt: string;
  /** Iceberg snapshot per table (lakehouse on Trino/Iceberg only): `{ "gold.user_360": { id, at } }`. */
  snapshots?: Record<string, { id: string; at: string }>;
}

/** `extensions.freshness` of a response (see README, "Freshness"). Members are present only when they apply. */
export interface FreshnessExtension {
  lakehouse?: RoleFreshness;
  analytics?: RoleFreshness;
  /** The operation asked `@readAfter(position)`: whether the answer includes that write, and how long it waited. */
  readAfter?: { included: boolean; waitedMs: number };
  /** Served, in place of backend errors, from an answer kept within the grace window of the failing roles. */
  stale?: true;
  /** The roles whose failure made the answer stale. */
  failed?: string[];
  /** Served from a stored answer: when it was stored and how old it is. */
  cache?: { hit: true; storedAt: string; ageMs?: number };
}

/**
 * The freshness of an answer that read `roles` (the roles its resolvers called), from what the
 * tracker knows now. Roles the medallion does not feed (search, cache, bus) have nothing to say.
 */
export function freshnessOf(roles: Iterable<string>, tracker: WatermarkTracker): FreshnessExtension {
  const freshness: FreshnessExtension = {};
  for (const role of roles) {
    if (!(WATERMARKED_ROLES as readonly string[]).includes(role)) continue;
    const commit = tracker.of(role as (typeof WATERMARKED_ROLES)[number]);
    if (!commit) continue;
    freshness[role as 'lakehouse' | 'analytics'] = roleFreshness(commit, role === 'lakehouse' ? tracker.snapshots : undefined);
  }
  return freshness;
}

function roleFreshness(commit: MedallionCommit, snapshots: WatermarkTracker['snapshots'] | undefined): RoleFreshness {
  const entry: RoleFreshness = { position: commit.position, asOf: commit.positionTime, committedAt: commit.committedAt };
  if (snapshots && snapshots.size > 0) {
    entry.snapshots = Object.fromEntries([...snapshots].map(([table, s]) => [table, { id: s.snapshotId, at: s.committedAt }]));
  }
  return entry;
}
