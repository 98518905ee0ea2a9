import type { MedallionRunner, PipelineRunRecord } from '../../ingest/medallion/runner.ts';
import { GOLD_TABLES } from '../../ingest/medallion/gold.ts';
import type { SourceRegistry } from '../../ingest/registry.ts';
import type { Logger } from '../logger.ts';
import type { MedallionCommit } from '../platform/commit.ts';
import { newestLandedTime, storedBronzePosition, type ReadRows } from './stored-watermark.ts';

/** What {@link followRunnerCommits} reads the pass's outcome from. */
export interface RunnerCommitSource {
  runner: Pick<MedallionRunner, 'runs'>;
  /** Reads the embedded database the runner writes. */
  read: ReadRows;
  registry: SourceRegistry;
  logger?: Logger | undefined;
}

/**
 * Calls `onCommit` with a {@link MedallionCommit} after every pass of the in-process medallion.
 * The runner's own `'committed'` event is used as soon as it emits one; until then the commit is
 * derived from its `'finished'` layer runs (one pass = one batch id, all emitted together at the
 * end of the pass) and the bronze position it stored. A pass with a failed layer makes no
 * commit: bronze may then be ahead of silver. Returns the unsubscribe function.
 */
export function followRunnerCommits(source: RunnerCommitSource, onCommit: (commit: MedallionCommit) => void): () => void {
  const { runner, read, registry, logger } = source;
  let native = false;
  let lastSeq = 0;
  const passes = new Map<string, PipelineRunRecord[]>();
  const committed = (commit: MedallionCommit) => {
    native = true;
    onCommit(commit);
  };
  const finished = (record: PipelineRunRecord) => {
    if (native) return;
    let pass = passes.get(record.batchId);
    if (pass) return void pass.push(record);
    passes.set(record.batchId, (pass = [record]));
    // The runner emits a pass's records in one synchronous loop: the pass is whole after it.
    queueMicrotask(() => {
      passes.delete(record.batchId);
      derive(pass).then(
        (commit) => commit && !native && onCommit(commit),
        (error: unknown) => logger?.warn({ err: error }, 'freshness: medallion commit not derived; the watermark stays where it was'),
      );
    });
  };
  const derive = async (pass: PipelineRunRecord[]): Promise<MedallionCommit | undefined> => {
    if (pass.some((r) => r.status !== 'SUCCESS')) return undefined;
    // Read at once: the next pass cannot land before this one has returned.
    const bronze = pass.find((r) => r.layer === 'bronze' && r.recordsIn > 0);
    const [position, landed] = await Promise.all([storedBronzePosition(read), bronze ? newestLandedTime(read, registry, bronze.id) : null]);
    if (position === undefined) return undefined;
    // A pass that landed nothing new (the start pass, a manual one) leaves "as of" where it was.
    const positionTime = landed ?? (await newestLandedTime(read, registry));
    const tables: string[] = [];
    if (pass.some((r) => r.layer === 'silver' && r.recordsOut > 0)) tables.push('silver.events');
    if (pass.some((r) => r.layer === 'gold' && r.recordsOut > 0)) tables.push(...Object.keys(GOLD_TABLES));
    const finishedAt = Math.max(...pass.map((r) => (r.finishedAt ?? r.startedAt).getTime()));
    lastSeq = Math.max(finishedAt, lastSeq + 1);
    return { seq: lastSeq, committedAt: new Date(finishedAt).toISOString(), tables, position, positionTime, snapshots: [] };
  };
  runner.runs.on('committed', committed);
  runner.runs.on('finished', finished);
  return () => {
    runner.runs.off('committed', committed);
    runner.runs.off('finished', finished);
  };
}
