import { createHash } from 'node:crypto';
import type { CachePort } from '../backends/cache/port.ts';
import type { FreshnessExtension } from './extension.ts';

/** Questions whose last keep time an instance remembers (about 1 MB). */
const MAX_REMEMBERED = 10_000;

/** Roles whose failures an answer kept earlier may stand in for. */
export type GracedRole = 'lakehouse' | 'analytics' | 'search';

/** A good answer kept for stale-while-error. */
export interface KeptAnswer {
  data: unknown;
  /** Its `extensions.freshness` when it was answered (what the data reflects). */
  freshness: FreshnessExtension | undefined;
  /** When it was answered, ms since the epoch. */
  storedAt: number;
}

/** Options of {@link StaleAnswers}. */
export interface StaleAnswersOptions {
  /** Where kept answers live (the cache role: shared by every instance with Redis). */
  cache: Pick<CachePort, 'get' | 'set'>;
  /**
   * A question answered again within this many ms of its last keep is not kept again (the kept
   * answer is that much older than the newest good one at worst). Default 1000: a hot query costs
   * one serialisation a second, not one per execution.
   */
  keepEveryMs?: number;
  /** Per role, how old a kept answer may be when that role fails (config STALE_GRACE_MS_*); 0: never. */
  graceMs: Readonly<Record<GracedRole, number>>;
}

/**
 * The last good answer to each question, kept for the grace window of the roles it read, apart
 * from the response cache (whose entries expire with their TTL and drop on every data change).
 * When a later execution of the same question fails only because backends failed, the kept
 * answer is served instead, marked stale.
 */
export class StaleAnswers {
  private readonly cache: StaleAnswersOptions['cache'];
  private readonly graceMs: StaleAnswersOptions['graceMs'];
  private readonly keepEveryMs: number;
  /** When each question was last kept by this instance (bounded: cleared when full). */
  private readonly keptAt = new Map<string, number>();

  constructor(options: StaleAnswersOptions) {
    this.cache = options.cache;
    this.graceMs = options.graceMs;
    this.keepEveryMs = options.keepEveryMs ?? 1_000;
  }

  /** Whether any role has a grace window at all. */
  get enabled(): boolean {
    return Object.values(this.graceMs).some((ms) => ms > 0);
  }

  /** The key of a question, per answer scope (no principal ever sees another scope's answer). */
  keyOf(scope: string, question: { queryHash: string; operationName: string | null | undefined; variables: unknown }): string {
    const digest = createHash('sha256')
      .update(question.queryHash)
      .update('\0')
      .update(question.operationName ?? '')
      .update('\0')
      .update(JSON.stringify(question.variables ?? {}))
      .digest('base64url');
    return `stale:${scope}:${digest}`;
  }

  /** Whether an answer to the question `key`, given at `now`, would be kept (it was not kept just before). */
  wants(key: string, now: number = Date.now()): boolean {
    const last = this.keptAt.get(key);
    return last === undefined || now - last >= this.keepEveryMs;
  }

  /** Keeps a good answer that read `roles` for the longest grace among them (nothing when none has one). */
  keep(key: string, answer: KeptAnswer, roles: Iterable<string>): void {
    let ttlMs = 0;
    for (const role of roles) ttlMs = Math.max(ttlMs, this.graceOf(role));
    if (ttlMs <= 0) return;
    if (this.keptAt.size >= MAX_REMEMBERED) this.keptAt.clear();
    this.keptAt.set(key, answer.storedAt);
    void this.cache.set(key, JSON.stringify(answer), ttlMs);
  }

  /** The kept answer, when one exists young enough for every role in `failed`. */
  async recall(key: string, failed: readonly string[], now: number = Date.now()): Promise<KeptAnswer | undefined> {
    const graceMs = Math.min(...failed.map((role) => this.graceOf(role)));
    if (!(graceMs > 0)) return undefined;
    const stored = await this.cache.get(key);
    if (stored === undefined) return undefined;
    const answer = JSON.parse(stored) as KeptAnswer;
    return now - answer.storedAt <= graceMs ? answer : undefined;
  }

  private graceOf(role: string): number {
    return role in this.graceMs ? this.graceMs[role as GracedRole] : 0;
  }
}
