import type { LogEntry, PublishAck } from '../backends/bus/port.ts';

/**
 * Where an acknowledged write sits on the bus, as a read-your-writes token (`IngestReceipt.position`).
 * A bus cursor alone is not enough: on Kafka it names every partition a reader has seen, not the
 * partition of this record, so the token carries the record's own topic, partition and offset,
 * and a publish time (what `BusPort.follows` compares for partitions a watermark does not name).
 */
export interface ReceiptPosition {
  topic: string;
  partition: number;
  /** Offset in the partition, a decimal string. */
  offset: string;
  /** Publish time, ms since the epoch (at or after the bus's own record time). */
  publishedAt: number;
}

const VERSION = 'p1';
const OFFSET = /^(?:-1|0|[1-9]\d{0,18})$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const BASE64URL = /^[A-Za-z0-9_-]{1,2048}$/;

/**
 * The token of an acknowledged write. `acknowledgedAt` (when the gateway got the ack) stands in for
 * the record's publish time: it is never earlier, so a comparison by time can only wait longer.
 */
export function receiptPosition(ack: Pick<PublishAck, 'topic' | 'partition' | 'offset'>, acknowledgedAt: number): string {
  const json = JSON.stringify([ack.topic, ack.partition, ack.offset, acknowledgedAt]);
  return `${VERSION}.${Buffer.from(json).toString('base64url')}`;
}

/** Parses a token made by {@link receiptPosition}; undefined for anything else (never throws). */
export function parseReceiptPosition(token: string): ReceiptPosition | undefined {
  const dot = token.indexOf('.');
  if (dot < 0 || token.slice(0, dot) !== VERSION) return undefined;
  const body = token.slice(dot + 1);
  if (!BASE64URL.test(body)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return undefined;
  const [topic, partition, offset, publishedAt] = parsed as unknown[];
  if (typeof topic !== 'string' || !TOPIC.test(topic)) return undefined;
  if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0) return undefined;
  if (typeof offset !== 'string' || !OFFSET.test(offset)) return undefined;
  if (typeof publishedAt !== 'number' || !Number.isSafeInteger(publishedAt) || publishedAt < 0) return undefined;
  return { topic, partition, offset, publishedAt };
}

/** The log entry `BusPort.follows` tests: only its place on the bus is known. */
export function entryAt(position: ReceiptPosition): LogEntry {
  return {
    topic: position.topic,
    partition: position.partition,
    offset: position.offset,
    publishedAt: new Date(position.publishedAt),
    key: '',
    eventId: '',
    value: '',
    cursor: '',
  };
}
