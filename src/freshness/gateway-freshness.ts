import type { MedallionRunner } from '../../ingest/medallion/runner.ts';
import type { SourceRegistry } from '../../ingest/registry.ts';
import type { Backends } from '../backends/index.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { MedallionCommit } from '../platform/commit.ts';
import { followMedallionCommits } from '../platform/commit-feed.ts';
import { StaleAnswers } from './stale-answers.ts';
import { storedCommit, type ReadRows } from '../platform/stored-commit.ts';
import { WatermarkTracker } from './watermark-tracker.ts';

/** A gateway's freshness services: the watermark tracker and the answers kept for stale-while-error. */
export interface GatewayFreshness {
  tracker: WatermarkTracker;
  stale: StaleAnswers;
  /** READ_AFTER_MAX_WAIT_MS: the longest a `@readAfter` operation waits. */
  readAfterMaxWaitMs: number;
  /** Stops following commits. Idempotent. */
  close(): void;
}

/** What {@link startFreshness} wires together. */
export interface FreshnessOptions {
  config: Config;
  backends: Backends;
  registry: SourceRegistry;
  /** The in-process medallion, when the gateway runs it (its passes feed the tracker; a waiting read nudges it). */
  pipeline: MedallionRunner | undefined;
  logger: Logger;
  /** Also told of every commit the tracker hears (e.g. the response cache's invalidation), from the same feed. */
  onCommit?: (commit: MedallionCommit) => void;
  /**
   * Runs first for each commit, the tracker and `onCommit` waiting for it (in commit order): a copy
   * of lakehouse tables (the catalogue replica) catches up before anyone counts the commit as seen.
   */
  beforeCommit?: (commit: MedallionCommit) => Promise<void>;
}

/**
 * Builds the tracker and feeds it from every source of commits: the in-process medallion's passes,
 * commit notifications on the bus (a medallion in another process), and at start the state the
 * last pass stored in the lakehouse, so a fresh instance is not blank. Call before the in-process
 * medallion starts, so its first pass is heard.
 */
export function startFreshness(options: FreshnessOptions): GatewayFreshness {
  const { config, backends, registry, pipeline, logger } = options;
  const tracker = new WatermarkTracker({
    bus: backends.bus,
    // A reader waiting for its write should not wait for the debounce: a pass runs now (or right
    // after the one in progress; concurrent nudges share it).
    nudge: pipeline ? () => void pipeline.runNow('EVENTS').catch(() => undefined) : undefined,
  });
  const observe = tracker.observe.bind(tracker);
  const seen = (commit: MedallionCommit) => {
    observe(commit);
    options.onCommit?.(commit);
  };
  const before = options.beforeCommit;
  // One chain, so commits stay in order while a copy catches up (a failed catch-up still lets the commit through).
  let inOrder = Promise.resolve();
  const heard = before
    ? (commit: MedallionCommit) => {
        inOrder = inOrder.then(() => before(commit).catch(() => undefined)).then(() => seen(commit));
      }
    : seen;
  const stops: (() => void)[] = [followMedallionCommits({ runner: pipeline?.runs, bus: backends.bus, logger }, heard)];
  const lakehouse: ReadRows = (sql, params) => backends.lakehouse.query(sql, params);
  storedCommit(lakehouse, registry).then(
    (commit) => commit && observe(commit),
    (error: unknown) => logger.debug({ err: error }, 'freshness: no stored medallion watermark to start from'),
  );
  let closed = false;
  return {
    tracker,
    stale: new StaleAnswers({ cache: backends.cache, graceMs: config.freshness.staleGraceMs }),
    readAfterMaxWaitMs: config.freshness.readAfterMaxWaitMs,
    close() {
      if (closed) return;
      closed = true;
      for (const stop of stops) stop();
    },
  };
}
