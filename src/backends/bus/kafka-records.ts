import type { IHeaders } from 'kafkajs';
import { PositionTracker, type Ordered } from './kafka-cursor.ts';
import type { FetchedRecord } from './kafka-wire.ts';
import type { LogEntry, PublishAck } from './port.ts';

/** Record headers written by the Kafka bus. */
export const HEADER = {
  eventId: 'eventId',
  idempotencyKey: 'idempotencyKey',
} as const;

/** A record on its way to the listeners or a replay, before its cursor is known. */
export interface Draft extends Ordered {
  key: string;
  eventId: string;
  value: string;
}

/** A header's text, whichever way kafkajs decoded it. */
export function headerText(headers: IHeaders | Record<string, unknown> | undefined, name: string): string | undefined {
  const value: unknown = headers?.[name];
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (Buffer.isBuffer(first)) return first.toString('utf8');
  return typeof first === 'string' ? first : undefined;
}

/** The event id of a record: its header, or its position for a record written by another producer. */
function eventIdOf(record: FetchedRecord): string {
  return headerText(record.headers, HEADER.eventId) ?? `${record.topic}/${record.partition}/${record.offset}`;
}

/** The fields a listener sees, from a record as kafkajs decoded it (tail or replay). */
export function draftOf(record: FetchedRecord): Draft {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key?.toString('utf8') ?? '',
    eventId: eventIdOf(record),
    value: record.value?.toString('utf8') ?? '',
  };
}

/** The log entry of a draft, at `cursor`. */
export function toEntry(record: Draft, cursor: string): LogEntry {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset.toString(),
    key: record.key,
    eventId: record.eventId,
    value: record.value,
    publishedAt: new Date(record.timestamp),
    cursor,
  };
}

/** The ack of a record found in the log (an in-doubt write that was made after all). */
export function ackOfRecord(record: FetchedRecord): PublishAck {
  const position = new PositionTracker();
  position.advance(record.topic, record.partition, record.offset);
  return {
    eventId: eventIdOf(record),
    topic: record.topic,
    partition: record.partition,
    offset: record.offset.toString(),
    duplicate: true,
    cursor: position.cursor(record.timestamp),
  };
}
