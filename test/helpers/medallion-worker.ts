import type { Admin } from 'kafkajs';
import type { MedallionWorker } from '../../ingest/medallion/worker.ts';
import { loadSourceRegistry } from '../../ingest/registry.ts';
import { decodeCursor } from '../../src/backends/bus/kafka-cursor.ts';
import type { MedallionCommit } from '../../src/platform/commit.ts';
import type { TestGateway } from './gateway.ts';

/** Where a publish landed on Kafka (an `ingestEvent` receipt). */
export interface KafkaAck {
  eventId: string;
  topic: string;
  partition: number;
  offset: string;
}

/** Ingests a booking through the gateway's GraphQL API; resolves with its receipt. */
export async function ingestBooking(gw: TestGateway, userId: string, amount: number, tourId = 'TOUR0003'): Promise<KafkaAck> {
  const { body } = await gw.request<{ ingestEvent: KafkaAck }>(
    `mutation { ingestEvent(input: { eventType: BOOKING, userId: "${userId}", tourId: "${tourId}", region: "VN", amount: ${amount}, currency: "USD" }) { eventId topic partition offset } }`,
  );
  if (!body.data) throw new Error(`ingestEvent failed: ${JSON.stringify(body.errors)}`);
  return body.data.ingestEvent;
}

/** Resolves with the first commit of `worker` whose position covers `ack` (the last one published, if it does already); rejects after `timeoutMs`. */
export function committedPast(worker: MedallionWorker, ack: KafkaAck, timeoutMs = 20_000): Promise<MedallionCommit> {
  const covers = (commit: MedallionCommit) => (decodeCursor(commit.position)?.positions.get(ack.topic)?.get(ack.partition) ?? -1n) >= BigInt(ack.offset);
  if (worker.lastCommit && covers(worker.lastCommit)) return Promise.resolve(worker.lastCommit);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.commits.off('commit', listener);
      reject(new Error(`no medallion commit covering ${ack.topic}[${ack.partition}]@${ack.offset} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (commit: MedallionCommit) => {
      if (!covers(commit)) return;
      clearTimeout(timer);
      worker.commits.off('commit', listener);
      resolve(commit);
    };
    worker.commits.on('commit', listener);
  });
}

/** The group's committed offsets and the partitions' ends, per partition of the source topics (to compare). */
export async function groupOffsetsAndEnds(admin: Admin, groupId: string): Promise<{ committed: Record<string, string>; ends: Record<string, string> }> {
  const registry = await loadSourceRegistry();
  const committed: Record<string, string> = {};
  const ends: Record<string, string> = {};
  for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics: [...registry.topics] })) {
    // -1: nothing committed, which is the end of a partition that never had a record.
    for (const { partition, offset } of partitions) committed[`${topic}[${partition}]`] = offset === '-1' ? '0' : offset;
  }
  for (const topic of registry.topics) {
    for (const { partition, high } of await admin.fetchTopicOffsets(topic)) ends[`${topic}[${partition}]`] = high;
  }
  return { committed, ends };
}
