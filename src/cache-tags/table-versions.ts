/** Versions of tables, by schema-qualified name (`silver.events`); a table never changed is at 0. */
export type VersionChanges = Readonly<Record<string, number>>;

/** A change of the data: the tables one commit changed, and its version. */
export interface TableChange {
  /** Schema-qualified tables whose contents changed (`MedallionCommit.tables`). */
  tables: readonly string[];
  /**
   * The change's version, strictly increasing across changes (`MedallionCommit.seq`): tables
   * already at or above it are left as they are, so one commit heard twice invalidates once.
   * Default: now in ms, or just above a table's current version when that is higher.
   */
  version?: number;
}

/**
 * Where table versions are shared between gateway instances (Redis: a hash, and pub/sub to tell
 * every instance at once). Absent: the versions are this instance's only.
 */
export interface SharedTableVersions {
  /**
   * Raises the shared versions (a table already at or above its new version keeps its own) and
   * tells every instance. Best effort: a change that cannot be written now is retried later.
   */
  publish(changes: VersionChanges): Promise<void>;
  /**
   * Hands every instance's changes to `apply` as they are announced, and the whole shared state
   * now and then (the safety net for a missed announcement). `apply` is idempotent. Resolves once
   * announcements are heard and the shared state was read (never rejects; it may never resolve
   * while the shared store is unreachable).
   */
  follow(apply: (changes: VersionChanges) => void): Promise<void>;
  close(): Promise<void>;
}

/**
 * The table versions one instance knows, in memory so a cache hit checks them without a round
 * trip. Versions only move up (changes merge by maximum), so announcements may arrive twice or
 * late. A tick counts the changes applied: a reader notes it before reading and asks afterwards
 * whether what it read changed meanwhile.
 */
export class TableVersions {
  private readonly versions = new Map<string, number>();
  private readonly changedAt = new Map<string, number>();
  private readonly listeners = new Set<(tables: readonly string[]) => void>();
  private ticks = 0;

  /** The version of `table` (0 when never changed). */
  get(table: string): number {
    return this.versions.get(table) ?? 0;
  }

  /** Changes applied so far on this instance. */
  get tick(): number {
    return this.ticks;
  }

  /** Whether any of `tables` changed after `tick` was read. */
  changedSince(tables: Iterable<string>, tick: number): boolean {
    for (const table of tables) if ((this.changedAt.get(table) ?? 0) > tick) return true;
    return false;
  }

  /** Merges `changes` (each table keeps the higher version) and returns the tables that moved. */
  apply(changes: VersionChanges): string[] {
    const moved: string[] = [];
    for (const [table, version] of Object.entries(changes)) {
      if (!(Number.isFinite(version) && version > this.get(table))) continue;
      this.versions.set(table, version);
      moved.push(table);
    }
    if (moved.length === 0) return moved;
    this.ticks += 1;
    for (const table of moved) this.changedAt.set(table, this.ticks);
    for (const listener of this.listeners) listener(moved);
    return moved;
  }

  /** Calls `listener` with the tables that moved on every change; returns the unsubscribe. */
  onChange(listener: (tables: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
