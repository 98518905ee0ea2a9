/** Options of a subscriber's channel. */
export interface ChannelOptions {
  /** Items buffered for a consumer that has not pulled yet; past it the channel ends with `overflowError`. */
  capacity: number;
  /** Called once when the channel ends, for whatever reason (consumer return, error, close). */
  onClose?: () => void;
  /** The error a slow consumer gets when the buffer overflows. */
  overflowError?: () => Error;
}

/**
 * A bounded push → pull bridge: producers `push`, one consumer iterates. A consumer that
 * falls `capacity` items behind is cut off with an error rather than buffered without bound.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: ((result: IteratorResult<T>) => void)[] = [];
  private readonly rejecters: ((error: unknown) => void)[] = [];
  private failure: unknown;
  private done = false;
  private readonly options: ChannelOptions;

  constructor(options: ChannelOptions) {
    this.options = options;
  }

  get closed(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      this.rejecters.shift();
      waiter({ value: item, done: false });
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
    for (const reject of this.rejecters.splice(0)) reject(error);
    this.waiting.length = 0;
  }

  /** Ends the channel normally after the buffered items. */
  end(): void {
    if (this.done) return;
    this.finish();
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.rejecters.length = 0;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    if (this.done) {
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve);
      this.rejecters.push(reject);
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
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

  private finish(): void {
    this.done = true;
    this.options.onClose?.();
  }
}
