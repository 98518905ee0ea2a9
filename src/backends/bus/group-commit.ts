/** A publish waiting in a group commit: whatever it carries, it can be failed. */
export interface Waiting {
  reject(error: unknown): void;
}

/**
 * Group commit, the write pattern of both buses: publishes that arrive while a write is in flight
 * wait, and go out together in the next one, so concurrent mutations share one durable write (one
 * DuckDB commit, one Kafka produce request). `write` receives each group in arrival order and
 * answers every publish in it; should it throw, the group's publishes are rejected with its error.
 */
export class GroupCommit<W extends Waiting> {
  private queue: W[] = [];
  private writing: Promise<void> | undefined;
  private readonly write: (group: W[]) => Promise<void>;

  constructor(write: (group: W[]) => Promise<void>) {
    this.write = write;
  }

  /** Queues `waiting`: it goes out with the write in flight's successor, or at once when none is. */
  add(waiting: W): void {
    this.queue.push(waiting);
    this.writing ??= this.drain();
  }

  /** Takes `waiting` back if no write has taken it yet; returns whether it did. */
  withdraw(waiting: W): boolean {
    const before = this.queue.length;
    this.queue = this.queue.filter((other) => other !== waiting);
    return this.queue.length < before;
  }

  /** Resolves once every queued publish has been written (or failed). */
  async idle(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue;
        this.queue = [];
        try {
          await this.write(group);
        } catch (error) {
          for (const waiting of group) waiting.reject(error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}
