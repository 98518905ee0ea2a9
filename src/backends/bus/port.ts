import { GraphQLError } from 'graphql';
import { userInputError } from '../../errors.ts';
import type { Lifecycle } from '../health.ts';

const UNKNOWN_POSITION = 'UNKNOWN_POSITION';

/**
 * The refusal of a position this bus never made: another bus's (the embedded log's offsets on
 * Kafka, a Kafka cursor on the embedded log), or one beyond its end (saved before a data reset).
 * BAD_USER_INPUT naming `fromOffset`, the argument clients pass positions in.
 */
export function unknownPosition(message: string): GraphQLError {
  return userInputError(message, { argumentName: 'fromOffset', reason: UNKNOWN_POSITION });
}

/** Whether `error` is the refusal of a position this bus never made (see {@link unknownPosition}). */
export function isUnknownPosition(error: unknown): boolean {
  return error instanceof GraphQLError && error.extensions['reason'] === UNKNOWN_POSITION;
}

/** A record to publish: already validated and enriched, serialised as JSON. */
export interface BusRecord {
  topic: string;
  /** Partitioning key (the user id for events: one user's events stay in order). */
  key: string;
  eventId: string;
  value: string;
  /** When set, a second publish with the same key returns the first ack and writes nothing. */
  idempotencyKey: string | null;
}

/** Proof of a durable write. */
export interface PublishAck {
  eventId: string;
  topic: string;
  partition: number;
  /** Offset in the partition, as a decimal string (Kafka offsets are 64-bit). */
  offset: string;
  /** True when this ack is the stored answer to an earlier publish with the same idempotency key. */
  duplicate: boolean;
  /** Opaque resume position of this record (what `readAfter` takes). */
  cursor: string;
}

/** A record as read back from the log. */
export interface LogEntry {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  eventId: string;
  value: string;
  publishedAt: Date;
  /** Opaque resume position: `readAfter(cursor)` returns what came after this entry. */
  cursor: string;
}

/** The bus role: durable publish, live tail and replay from a position. */
export interface BusPort extends Lifecycle {
  readonly adapter: string;
  /** The position before the first record: `readAfter(startCursor)` reads the log from its start. */
  readonly startCursor: string;
  /**
   * Publishes records; resolves, in input order, only once every record is durable. Rejects
   * (with `BackendError`) when the write could not be made durable: nothing is acknowledged.
   */
  publish(records: readonly BusRecord[]): Promise<PublishAck[]>;
  /** Calls `listener` with every record made durable after this call, in log order. Returns an unsubscribe function. */
  tail(listener: (entries: readonly LogEntry[]) => void): () => void;
  /**
   * A test of whether an entry lies after `cursor` in the sense of `readAfter` (what a client
   * resuming from `cursor` has not seen); undefined for a cursor this bus never made. Pure: no I/O.
   */
  follows(cursor: string): ((entry: LogEntry) => boolean) | undefined;
  /**
   * Up to `limit` records strictly after `cursor`, in log order. Rejects with {@link unknownPosition}
   * for a cursor this bus never made, or one beyond its end.
   */
  readAfter(cursor: string, limit: number): Promise<LogEntry[]>;
}
