import { timestampValue } from '@duckdb/node-api';
import { BackendError } from '../../errors.ts';
import type { DuckDbDatabase } from '../duckdb/database.ts';
import { probeHealth } from '../health.ts';
import { limit as sqlLimit } from '../sql/port.ts';
import { GroupCommit } from './group-commit.ts';
import { unknownPosition, type BusPort, type BusRecord, type LogEntry, type PublishAck } from './port.ts';

/** Options of the embedded bus. */
export interface EmbeddedLogOptions {
  /** The embedded lakehouse; its `bronze.event_log` table is the durable log. */
  database: DuckDbDatabase;
}

interface Pending {
  records: readonly BusRecord[];
  resolve: (acks: PublishAck[]) => void;
  reject: (error: unknown) => void;
}

/**
 * The embedded bus: the lakehouse's bronze table is the log. Publishes that arrive while a
 * write is in flight are grouped into the next write (group commit), so concurrent mutations
 * share one durable commit. One global, gap-free offset orders every topic; it is also the
 * resume cursor. An in-process listener list wakes subscribers after each commit.
 */
export async function createEmbeddedLog(options: EmbeddedLogOptions): Promise<BusPort> {
  const { database } = options;
  const existing = await database.query<{ next_offset: number }>(
    'SELECT coalesce(max(log_offset), -1) + 1 AS next_offset FROM bronze.event_log',
    [],
    { timeoutMs: 60_000, onTimeout: () => new Error('timed out reading the event log') },
  );
  let nextOffset = BigInt(existing[0]?.next_offset ?? 0);
  // Acks of keyed publishes, so retries answer without a scan of the log.
  const byIdempotencyKey = new Map<string, PublishAck>();
  const keyed = await database.query(
    'SELECT idempotency_key, event_id, topic, log_partition, log_offset FROM bronze.event_log WHERE idempotency_key IS NOT NULL',
    [],
    { timeoutMs: 60_000, onTimeout: () => new Error('timed out reading the event log') },
  );
  for (const row of keyed) {
    const offset = String(row['log_offset']);
    byIdempotencyKey.set(String(row['idempotency_key']), {
      eventId: String(row['event_id']),
      topic: String(row['topic']),
      partition: Number(row['log_partition']),
      offset,
      cursor: offset,
      duplicate: true,
    });
  }

  // Appends go through a connection of their own: a publish never waits for a medallion run.
  const appendConnection = await database.dedicatedConnection();
  const listeners = new Set<(entries: readonly LogEntry[]) => void>();
  const commits = new GroupCommit<Pending>(writeBatch);
  let closed = false;

  async function writeBatch(batch: Pending[]): Promise<void> {
    const publishedAt = new Date();
    const micros = BigInt(publishedAt.getTime()) * 1000n;
    const fresh: { record: BusRecord; offset: bigint }[] = [];
    const answers: PublishAck[][] = [];
    const batchKeys = new Map<string, PublishAck>();
    let offset = nextOffset;
    for (const pending of batch) {
      const acks: PublishAck[] = [];
      for (const record of pending.records) {
        const previous = record.idempotencyKey ? (byIdempotencyKey.get(record.idempotencyKey) ?? batchKeys.get(record.idempotencyKey)) : undefined;
        if (previous) {
          acks.push({ ...previous, duplicate: true });
          continue;
        }
        const ack: PublishAck = {
          eventId: record.eventId,
          topic: record.topic,
          partition: 0,
          offset: offset.toString(),
          cursor: offset.toString(),
          duplicate: false,
        };
        if (record.idempotencyKey) batchKeys.set(record.idempotencyKey, ack);
        fresh.push({ record, offset });
        acks.push(ack);
        offset += 1n;
      }
      answers.push(acks);
    }

    try {
      if (fresh.length > 0) {
        {
          const appender = await appendConnection.createAppender('event_log', 'bronze');
          try {
            for (const { record, offset: at } of fresh) {
              appender.appendBigInt(at);
              appender.appendVarchar(record.topic);
              appender.appendInteger(0);
              appender.appendVarchar(record.key);
              appender.appendVarchar(record.eventId);
              if (record.idempotencyKey) appender.appendVarchar(record.idempotencyKey);
              else appender.appendNull();
              appender.appendVarchar(record.value);
              appender.appendTimestamp(timestampValue(micros));
              appender.endRow();
            }
            // Closing flushes: one commit, written to the WAL before we acknowledge.
          } finally {
            appender.closeSync();
          }
        }
      }
    } catch (error) {
      const failure = new BackendError({ role: 'bus', adapter: 'embedded', message: 'the event log write failed', cause: error });
      for (const pending of batch) pending.reject(failure);
      return;
    }

    nextOffset = offset;
    for (const [key, ack] of batchKeys) byIdempotencyKey.set(key, { ...ack, duplicate: true });
    batch.forEach((pending, i) => pending.resolve(answers[i] ?? []));
    if (fresh.length > 0 && listeners.size > 0) {
      const entries: LogEntry[] = fresh.map(({ record, offset: at }) => ({
        topic: record.topic,
        partition: 0,
        offset: at.toString(),
        key: record.key,
        eventId: record.eventId,
        value: record.value,
        publishedAt,
        cursor: at.toString(),
      }));
      for (const listener of listeners) listener(entries);
    }
  }

  return {
    adapter: 'embedded',
    startCursor: '-1',
    publish(records) {
      if (closed) return Promise.reject(new BackendError({ role: 'bus', adapter: 'embedded', message: 'the bus is closed' }));
      if (records.length === 0) return Promise.resolve([]);
      return new Promise<PublishAck[]>((resolve, reject) => {
        commits.add({ records, resolve, reject });
      });
    },
    tail(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    follows(cursor) {
      if (!/^-?\d{1,19}$/.test(cursor)) return undefined;
      const at = BigInt(cursor);
      return (entry) => BigInt(entry.offset) > at;
    },
    async readAfter(cursor, limit) {
      if (!/^-?\d{1,19}$/.test(cursor)) {
        throw unknownPosition(`"${cursor.slice(0, 40)}" is not an event-log offset (expected a decimal offset from Event.offset).`);
      }
      // Acknowledged offsets are below nextOffset before anyone hears of them: one at or past it was
      // never made here (saved before the data was reset), and waiting for it would be silence.
      if (BigInt(cursor) >= nextOffset) {
        const last = nextOffset === 0n ? 'the log is empty' : `its last offset is ${nextOffset - 1n}`;
        throw unknownPosition(`Offset ${cursor} is beyond the end of the event log (${last}): it was not delivered by this gateway's data. Resubscribe without fromOffset, or with an offset it delivered.`);
      }
      try {
        const rows = await database.query(
          `SELECT log_offset, topic, log_partition, event_key, event_id, value, published_at
           FROM bronze.event_log WHERE log_offset > ? ORDER BY log_offset ${sqlLimit(limit)}`,
          [BigInt(cursor)],
          { timeoutMs: 30_000, onTimeout: () => new Error('timed out replaying the event log') },
        );
        return rows.map((row) => ({
          topic: String(row['topic']),
          partition: Number(row['log_partition']),
          offset: String(row['log_offset']),
          key: String(row['event_key']),
          eventId: String(row['event_id']),
          value: String(row['value']),
          publishedAt: row['published_at'] as Date,
          cursor: String(row['log_offset']),
        }));
      } catch (error) {
        throw new BackendError({ role: 'bus', adapter: 'embedded', message: 'replay failed', cause: error });
      }
    },
    health: () =>
      probeHealth('bus', 'embedded', async () => {
        if (closed) throw new Error('closed');
      }),
    async close() {
      closed = true;
      // Let in-flight and queued publishes finish: everything acknowledged is durable.
      await commits.idle();
      listeners.clear();
    },
  };
}
