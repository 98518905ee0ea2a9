import type { Admin } from 'kafkajs';
import { errorMessage, type KafkaLogSink } from './kafka-client.ts';
import type { KafkaWire } from './kafka-wire.ts';

/** What creating the bus's topics takes. */
export interface KafkaTopicsOptions {
  admin: Admin;
  wire: KafkaWire;
  /** Whether CreateTopics can be sent (the cluster names a reachable controller); read at each call. */
  canCreate: () => boolean;
  requestTimeoutMs: number;
  /** Partitions of topics created through the admin API. Default: the brokers' `num.partitions`. */
  numPartitions?: number | undefined;
  /** The idempotency topic, created compacted. */
  idempotencyTopic: string | null;
  /** Its `retention.ms`. */
  idempotencyRetentionMs: number;
  log: KafkaLogSink;
}

/**
 * Returns a function that makes sure topics exist and answers their partition counts: missing ones
 * are created through the admin API where the cluster allows it, else by the brokers' auto-creation.
 */
export function kafkaTopics(options: KafkaTopicsOptions): (wanted: readonly string[]) => Promise<Map<string, number>> {
  const { admin, wire, requestTimeoutMs, numPartitions, idempotencyTopic, log } = options;
  return async function ensureTopics(wanted) {
    let counts = await wire.partitionCounts(wanted);
    let missing = wanted.filter((topic) => !counts.has(topic));
    if (missing.length === 0) return counts;
    if (options.canCreate()) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          timeout: requestTimeoutMs,
          topics: missing.map((topic) => ({
            topic,
            ...(numPartitions ? { numPartitions } : {}),
            ...(topic === idempotencyTopic
              ? {
                  configEntries: [
                    // Compacted: one record per key survives; deleted after the retention window.
                    { name: 'cleanup.policy', value: 'compact,delete' },
                    { name: 'retention.ms', value: String(options.idempotencyRetentionMs) },
                  ],
                }
              : {}),
          })),
        });
      } catch (error) {
        // CreateTopics refused (policy, ACLs, an old broker): the produce path's auto-creation may still work.
        log('warn', 'KafkaBus', 'CreateTopics failed; relying on auto-creation', { topics: missing, error: errorMessage(error) });
      }
      counts = await wire.partitionCounts(wanted);
      missing = wanted.filter((topic) => !counts.has(topic));
    }
    if (missing.length > 0) {
      await wire.autoCreate(missing);
      counts = await wire.partitionCounts(wanted);
      missing = wanted.filter((topic) => !counts.has(topic));
    }
    if (missing.length > 0) {
      throw new Error(`topic(s) ${missing.join(', ')} do not exist and could not be created (is auto.create.topics.enable off?)`);
    }
    return counts;
  };
}
