import type { BusPort, LogEntry } from '../src/backends/bus/port.ts';
import type { SearchPort } from '../src/backends/search/port.ts';
import type { Logger } from '../src/logger.ts';
import { eventFromLogEntry } from './event-record.ts';

/** Options of the event indexer. */
export interface EventIndexerOptions {
  /** Where accepted events come from: the bus's tail, or the worker's feed of landed records. */
  bus: Pick<BusPort, 'tail'>;
  /** A search adapter with an event index of its own (`indexEvents`). */
  search: SearchPort & Required<Pick<SearchPort, 'indexEvents'>>;
  /** Topics carrying platform events. */
  eventTopics: readonly string[];
  /** Wait after a record before indexing, so bursts share one bulk request. Default 100 ms. */
  debounceMs?: number;
  logger?: Logger;
}

/**
 * Keeps the search role's event index current: follows the bus and bulk-indexes each burst of
 * accepted events, so `searchEvents` finds what was ingested. A failed batch is retried with the
 * next one (the index write is idempotent: document id = event id).
 */
export class EventIndexer {
  private readonly options: EventIndexerOptions;
  private readonly topics: Set<string>;
  private pending: LogEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(options: EventIndexerOptions) {
    this.options = options;
    this.topics = new Set(options.eventTopics);
  }

  start(): void {
    this.unsubscribe ??= this.options.bus.tail((entries) => {
      for (const entry of entries) if (this.topics.has(entry.topic)) this.pending.push(entry);
      if (this.pending.length > 0) this.schedule();
    });
  }

  /** Resolves once everything received so far is indexed (or failed and is queued again). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.pending.length > 0) await this.index();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.flush();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.index();
    }, this.options.debounceMs ?? 100);
  }

  private index(): Promise<void> {
    const run = (this.running ?? Promise.resolve()).then(async () => {
      const batch = this.pending;
      this.pending = [];
      if (batch.length === 0) return;
      try {
        await this.options.search.indexEvents(batch.map(eventFromLogEntry));
      } catch (error) {
        this.options.logger?.warn({ err: error, events: batch.length }, 'indexing events failed; retrying with the next batch');
        this.pending = [...batch, ...this.pending];
      }
    });
    this.running = run;
    return run;
  }
}
