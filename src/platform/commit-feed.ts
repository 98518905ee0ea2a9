import type { EventEmitter } from 'node:events';
import type { BusPort, LogEntry } from '../backends/bus/port.ts';
import type { Logger } from '../logger.ts';
import { MEDALLION_COMMITS_TOPIC, type MedallionCommit } from './commit.ts';

/** Where a gateway hears of medallion commits. */
export interface CommitSources {
  /** The in-process medallion's events (`MedallionRunner.runs`), when this gateway runs it. */
  runner?: Pick<EventEmitter, 'on' | 'off'> | undefined;
  /** The bus, where a medallion in another process (the `npm run medallion` worker) publishes its commits. */
  bus: Pick<BusPort, 'tail'>;
  logger?: Logger | undefined;
}

/**
 * Calls `onCommit` with every medallion commit this gateway can hear of: the in-process runner's
 * `'committed'` events and the notifications on the bus. Listeners see commits in `seq` order per
 * source and must ignore one older than what they hold (a commit heard twice is harmless).
 * Returns the unsubscribe function.
 */
export function followMedallionCommits(sources: CommitSources, onCommit: (commit: MedallionCommit) => void): () => void {
  const stopBus = followBusCommits(sources.bus, onCommit, sources.logger);
  const runner = sources.runner;
  runner?.on('committed', onCommit);
  return () => {
    stopBus();
    runner?.off('committed', onCommit);
  };
}

/**
 * Calls `onCommit` with every medallion commit published on the bus (by a medallion running in
 * another process). Records that are not a well-formed commit are logged and skipped: a bad
 * notification must not move a watermark. Returns the unsubscribe function.
 */
export function followBusCommits(bus: Pick<BusPort, 'tail'>, onCommit: (commit: MedallionCommit) => void, logger?: Logger): () => void {
  return bus.tail((entries: readonly LogEntry[]) => {
    for (const entry of entries) {
      if (entry.topic !== MEDALLION_COMMITS_TOPIC) continue;
      const commit = parseCommit(entry.value);
      if (commit) onCommit(commit);
      else logger?.warn({ topic: entry.topic, offset: entry.offset }, 'a record on the commits topic is not a medallion commit; skipped');
    }
  });
}

/** A commit notification from its JSON, or undefined when it is not one. */
export function parseCommit(text: string): MedallionCommit | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const c = value as Record<string, unknown>;
  if (typeof c['seq'] !== 'number' || typeof c['committedAt'] !== 'string' || typeof c['position'] !== 'string') return undefined;
  if (c['positionTime'] !== null && typeof c['positionTime'] !== 'string') return undefined;
  const tables = Array.isArray(c['tables']) ? c['tables'].filter((t): t is string => typeof t === 'string') : [];
  const snapshots = Array.isArray(c['snapshots'])
    ? c['snapshots'].filter(
        (s): s is MedallionCommit['snapshots'][number] =>
          typeof s === 'object' && s !== null && typeof s.table === 'string' && typeof s.snapshotId === 'string' && typeof s.committedAt === 'string',
      )
    : [];
  return { seq: c['seq'], committedAt: c['committedAt'], tables, position: c['position'], positionTime: (c['positionTime'] as string | null) ?? null, snapshots };
}
