/** Options of a subscriber's channel (one object may serve many channels: nothing in it is per channel). */
export interface ChannelOptions<T = unknown> {
  /** Items buffered for a consumer that has not pulled yet; past it the channel ends with `overflowError`. */
  capacity: number;
  /** Called once when the channel ends, for whatever reason (consumer return, error, close), with the channel. */
  onClose?: (channel: Channel<T>) => void;
  /** The error a slow consumer gets when the buffer overflows. */
  overflowError?: () => Error;
}

/** A consumer's pending `next()`. */
interface Waiter<T> {
  resolve: (result: IteratorResult<T>) => void;
  reject: (error: unknown) => void;
}

/**
 * A bounded push → pull bridge: producers `push`, one consumer iterates. A consumer that
 * falls `capacity` items behind is cut off with an error rather than buffered without bound.
 *
 * An idle subscriber is a channel with one consumer waiting: the buffer and the waiter list are
 * made when first needed and sized to what they hold (an empty array grown by `push` reserves
 * room for sixteen), since a gateway may hold ten thousand idle channels.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private buffer: T[] | undefined = undefined;
  private waiting: Waiter<T>[] | undefined = undefined;
  private failure: unknown = undefined;
  private done = false;
  private readonly options: ChannelOptions<T>;

  constructor(options: ChannelOptions<T>) {
    this.options = options;
  }

  get closed(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    const waiter = this.waiting?.shift();
    if (this.waiting?.length === 0) this.waiting = undefined;
    if (waiter) {
      waiter.resolve({ value: item, done: false });
      return;
    }
    if (!this.buffer) {
      this.buffer = [item];
      return;
    }
    if (this.buffer.length >= this.options.capacity) {
      this.fail(this.options.overflowError?.() ?? new Error('subscriber too slow: buffer full'));
      return;
    }
    this.buffer.push(item);
  }

  /** Ends the channel with an error the consumer sees after the buffered items. */
  fail(error: unknown): void {
    if (this.done) return;
    this.failure = error;
    this.finish();
    for (const waiter of this.takeWaiting()) waiter.reject(error);
  }

  /** Ends the channel normally after the buffered items. */
  end(): void {
    if (this.done) return;
    this.finish();
    for (const waiter of this.takeWaiting()) waiter.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer && this.buffer.length > 0) {
      const value = this.buffer.shift() as T;
      if (this.buffer.length === 0) this.buffer = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.done) {
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      if (this.waiting) this.waiting.push({ resolve, reject });
      else this.waiting = [{ resolve, reject }];
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer = undefined;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.fail(error);
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private takeWaiting(): Waiter<T>[] {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    return waiting;
  }

  private finish(): void {
    this.done = true;
    this.options.onClose?.(this);
  }
}
