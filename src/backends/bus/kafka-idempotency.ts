import type { Message, Producer } from 'kafkajs';
import { errorMessage, type KafkaLogSink } from './kafka-client.ts';
import { partitionKey, type KafkaWire, type PartitionRange, type Watermarks } from './kafka-wire.ts';
import type { PublishAck } from './port.ts';

/** Where the idempotency keys live beyond this process. */
export interface IdempotencyKeysOptions {
  /** The compacted topic (key = idempotency key, value = the first ack); null: this process only. */
  topic: string | null;
  wire: KafkaWire;
  requestTimeoutMs: number;
  log: KafkaLogSink;
}

/**
 * The first ack of each idempotency key, shared by every instance through the idempotency topic:
 * read whole at start-up (`restore`), followed by the tail (`learn`), written before a keyed
 * publish is answered (`persist`). The first record of a key wins: one key, one partition, one
 * order for every instance.
 */
export class IdempotencyKeys {
  /** First ack of each key, stored with `duplicate: true`. */
  private readonly acks = new Map<string, PublishAck>();
  private readonly options: IdempotencyKeysOptions;

  constructor(options: IdempotencyKeysOptions) {
    this.options = options;
  }

  /** The topic the keys are kept in, or null. */
  get topic(): string | null {
    return this.options.topic;
  }

  /** The first ack of `key`, if it was published. */
  get(key: string): PublishAck | undefined {
    return this.acks.get(key);
  }

  /** Notes the first ack of `key` (to be persisted with `persist`). */
  set(key: string, ack: PublishAck): void {
    this.acks.set(key, { ...ack, duplicate: true });
  }

  /** Reads the whole topic (`count` partitions, up to `marks`): the keys of earlier runs and other instances. */
  async restore(count: number, marks: ReadonlyMap<string, Watermarks>): Promise<void> {
    const { topic, wire } = this.options;
    if (!topic) return;
    const ranges: PartitionRange[] = [];
    for (let partition = 0; partition < count; partition += 1) {
      const mark = marks.get(partitionKey(topic, partition));
      if (mark) ranges.push({ topic, partition, from: mark.low, to: mark.high });
    }
    for (const queue of await wire.read(ranges, Number.POSITIVE_INFINITY)) for (const record of queue) this.learn(record.key, record.value);
  }

  /** Learns a key from a record of the idempotency topic; a key already known keeps its first ack. */
  learn(key: Buffer | null, value: Buffer | null): void {
    if (!key || !value) return;
    const idempotencyKey = key.toString('utf8');
    if (this.acks.has(idempotencyKey)) return;
    try {
      const ack = JSON.parse(value.toString('utf8')) as Partial<PublishAck>;
      if (typeof ack.eventId !== 'string' || typeof ack.topic !== 'string' || typeof ack.partition !== 'number') return;
      if (typeof ack.offset !== 'string' || typeof ack.cursor !== 'string') return;
      this.acks.set(idempotencyKey, {
        eventId: ack.eventId,
        topic: ack.topic,
        partition: ack.partition,
        offset: ack.offset,
        duplicate: true,
        cursor: ack.cursor,
      });
    } catch {
      // Not written by this adapter: ignored.
    }
  }

  /**
   * Writes the first acks of `keys` to the topic. Called before the publishes are answered, so a
   * retry after a crash finds the key; the records are durable either way, so a failure here only
   * costs that memory beyond this process (logged, never thrown).
   */
  async persist(producer: Producer, keys: ReadonlyMap<string, PublishAck>, timestamp: number): Promise<void> {
    const { topic, requestTimeoutMs, log } = this.options;
    if (!topic || keys.size === 0) return;
    const messages: Message[] = [...keys].map(([key, ack]) => ({ key, value: JSON.stringify({ ...ack, duplicate: true }), timestamp: String(timestamp) }));
    try {
      await producer.send({ topic, acks: -1, timeout: requestTimeoutMs, messages });
    } catch (error) {
      log('warn', 'KafkaBus', 'idempotency keys not persisted (this process still remembers them)', { keys: messages.length, error: errorMessage(error) });
    }
  }
}
