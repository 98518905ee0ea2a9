import type { LogEntry } from '../src/backends/bus/port.ts';
import type { EventRow } from '../src/domain.ts';
import type { PublishedEvent } from './publisher.ts';

/** An event as published (a bus record's JSON value), in the row shape queries and subscriptions use. */
export function eventFromLogEntry(entry: LogEntry): EventRow {
  const value = JSON.parse(entry.value) as PublishedEvent;
  return {
    id: value.eventId,
    userId: value.userId,
    eventType: value.eventType,
    tourId: value.tourId,
    region: value.region,
    amount: value.amount,
    currency: value.currency,
    occurredAt: new Date(value.occurredAt),
    source: value.source,
    payload: value.payload,
    topic: entry.topic,
    offset: entry.cursor,
  };
}
