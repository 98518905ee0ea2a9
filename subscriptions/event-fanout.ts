import { GraphQLError } from 'graphql';
import type { BusPort, LogEntry } from '../src/backends/bus/port.ts';
import type { EventRow, EventTypeName } from '../src/domain.ts';
import { eventFromLogEntry } from '../ingest/event-record.ts';
import { Channel, type ChannelOptions } from './channel.ts';

/** Server-side filter of `eventIngested`: every list given must contain the event's value. */
export interface EventSubscriptionFilter {
  eventTypes?: readonly EventTypeName[] | null;
  regions?: readonly string[] | null;
  tourIds?: readonly string[] | null;
}

/** Options of the fan-out. */
export interface EventFanoutOptions {
  bus: BusPort;
  /** Topics carrying platform events (others are ignored). */
  eventTopics: readonly string[];
  /** Events buffered per subscriber before a slow one is dropped. Default 1,000. */
  subscriberCapacity?: number;
  /** Records read per replay round trip. Default 500. */
  replayPageSize?: number;
}

/** Live events after a replay during which replayed ids are still filtered out. */
const REPLAY_OVERLAP_WINDOW = 1_000;

interface Subscriber {
  filter: EventSubscriptionFilter | null;
  channel: Channel<EventRow>;
  /** Cursor of the first record dispatched live to this subscriber (where a replay may stop). */
  liveFrom?: string;
  /**
   * For a resumed subscription: whether a live record lies after the resume position. A record
   * published before it can still reach the tail after the subscriber registered (Kafka's tail
   * lags the acknowledgement); the client has seen it, so it is not delivered again.
   */
  after?: (entry: LogEntry) => boolean;
}

/**
 * Reads the bus once per gateway instance and fans each event out to the matching subscribers.
 * A subscriber may resume from an offset it saw: it first receives what it missed (replayed
 * from the log), then live events, with no gap and no duplicate between the two.
 */
export class EventFanout {
  /** By channel, so one options object (no closures per subscriber) can unregister any of them. */
  private readonly subscribers = new Map<Channel<EventRow>, Subscriber>();
  private readonly options: Required<EventFanoutOptions>;
  private readonly topics: Set<string>;
  private readonly channelOptions: ChannelOptions<EventRow>;
  private unsubscribe: (() => void) | undefined;

  constructor(options: EventFanoutOptions) {
    this.options = { subscriberCapacity: 1_000, replayPageSize: 500, ...options };
    this.topics = new Set(options.eventTopics);
    const capacity = this.options.subscriberCapacity;
    this.channelOptions = { capacity, overflowError: () => slowConsumer(capacity), onClose: (channel) => this.subscribers.delete(channel) };
  }

  /** Number of open subscriptions. */
  get size(): number {
    return this.subscribers.size;
  }

  start(): void {
    // Dispatch after the current tick, so the publisher's acknowledgement goes out before the fan-out.
    this.unsubscribe ??= this.options.bus.tail((entries) => setImmediate(() => this.dispatch(entries)));
  }

  /** Ends every subscription (shutdown). */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const subscriber of this.subscribers.values()) subscriber.channel.end();
    this.subscribers.clear();
  }

  /** A live stream of matching events; with `fromOffset`, preceded by the matching events after it. */
  async subscribe(filter: EventSubscriptionFilter | null, fromOffset: string | null): Promise<AsyncIterableIterator<EventRow>> {
    const subscriber = this.register(filter);
    if (fromOffset === null) return subscriber.channel;
    const after = this.options.bus.follows(fromOffset);
    if (after) subscriber.after = after;
    // Registered first, so events published during the replay wait in the channel; the first
    // page is read before answering so a bad offset fails the subscription itself.
    let page: LogEntry[];
    try {
      page = await this.options.bus.readAfter(fromOffset, this.options.replayPageSize);
    } catch (error) {
      await subscriber.channel.return();
      throw error;
    }
    const stream = this.replayThenLive(subscriber, page);
    // An async generator cannot be returned while it awaits the channel (the request waits for
    // its next yield, which may never come); ending the channel first lets it finish at once.
    const iterator: AsyncIterableIterator<EventRow> = {
      next: () => stream.next(),
      return: async () => {
        await subscriber.channel.return();
        return stream.return(undefined);
      },
      throw: async (error: unknown) => {
        subscriber.channel.fail(error);
        return stream.throw(error);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  private async *replayThenLive(subscriber: Subscriber, firstPage: LogEntry[]): AsyncGenerator<EventRow> {
    const { bus, replayPageSize } = this.options;
    // A record can be both read back and dispatched live; ids seen in the replay are skipped live.
    const replayed = new Set<string>();
    try {
      let page = firstPage;
      while (page.length > 0) {
        for (const entry of page) {
          if (subscriber.liveFrom !== undefined && entry.cursor === subscriber.liveFrom) {
            page = [];
            break;
          }
          const event = this.toEvent(entry);
          if (!event) continue;
          replayed.add(event.id);
          if (matches(subscriber.filter, event)) yield event;
        }
        if (page.length < replayPageSize) break;
        page = await bus.readAfter(page[page.length - 1]!.cursor, replayPageSize);
      }
      // Live records that overlap the replay arrive first, but across partitions not strictly so:
      // keep checking for a while (bounded), then forget the replayed ids.
      let overlapWindow = REPLAY_OVERLAP_WINDOW;
      for await (const event of subscriber.channel) {
        if (replayed.size > 0) {
          if (replayed.has(event.id)) continue;
          if (--overlapWindow <= 0) replayed.clear();
        }
        yield event;
      }
    } finally {
      await subscriber.channel.return();
    }
  }

  private register(filter: EventSubscriptionFilter | null): Subscriber {
    const subscriber: Subscriber = { filter, channel: new Channel(this.channelOptions) };
    this.subscribers.set(subscriber.channel, subscriber);
    return subscriber;
  }

  private dispatch(entries: readonly LogEntry[]): void {
    if (this.subscribers.size === 0) return;
    for (const entry of entries) {
      const event = this.toEvent(entry);
      if (!event) continue;
      for (const subscriber of this.subscribers.values()) {
        if (subscriber.after && !subscriber.after(entry)) continue;
        subscriber.liveFrom ??= entry.cursor;
        if (matches(subscriber.filter, event)) subscriber.channel.push(event);
      }
    }
  }

  /** Parses a log entry once for all subscribers; null for records that are not platform events. */
  private toEvent(entry: LogEntry): EventRow | null {
    return this.topics.has(entry.topic) ? eventFromLogEntry(entry) : null;
  }

}

function matches(filter: EventSubscriptionFilter | null, event: EventRow): boolean {
  if (!filter) return true;
  if (filter.eventTypes?.length && !filter.eventTypes.includes(event.eventType)) return false;
  if (filter.regions?.length && (event.region === null || !filter.regions.includes(event.region))) return false;
  if (filter.tourIds?.length && (event.tourId === null || !filter.tourIds.includes(event.tourId))) return false;
  return true;
}

function slowConsumer(capacity: number): Error {
  return new GraphQLError(`Subscription dropped: more than ${capacity} events were waiting for this client (consumer too slow); resubscribe with fromOffset to catch up.`, {
    extensions: { code: 'RATE_LIMITED', reason: 'SLOW_CONSUMER', capacity },
  });
}
