import { AssignerProtocol, type Cluster, type Logger } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { singleActiveAssigner } from '../ingest/medallion/single-active-assigner.ts';

const cluster = { findTopicPartitionMetadata: (topic: string) => Array.from({ length: topic === 'a' ? 3 : 2 }, (_, partitionId) => ({ partitionId })) } as unknown as Cluster;

/** A member as the group leader sees it: its id and the claim its own assigner sent. */
function member(memberId: string, claim: { since: number; active: boolean }) {
  const protocol = singleActiveAssigner(() => claim)({ cluster, groupId: 'g', logger: {} as Logger }).protocol({ topics: ['a', 'b'] });
  return { memberId, memberMetadata: protocol.metadata };
}

async function assignment(members: ReturnType<typeof member>[]): Promise<Record<string, Record<string, number[]>>> {
  const assigner = singleActiveAssigner(() => ({ since: 0, active: false }))({ cluster, groupId: 'g', logger: {} as Logger });
  const result = await assigner.assign({ members, topics: ['a', 'b'] });
  return Object.fromEntries(result.map(({ memberId, memberAssignment }) => [memberId, AssignerProtocol.MemberAssignment.decode(memberAssignment)!.assignment]));
}

describe('single-active partition assigner', () => {
  it('gives every partition to one member and none to the others', async () => {
    expect(await assignment([member('m-2', { since: 200, active: false }), member('m-1', { since: 100, active: false })])).toEqual({
      'm-1': { a: [0, 1, 2], b: [0, 1] },
      'm-2': {},
    });
  });

  it('leaves the partitions with the member that held them when a newer or older one joins', async () => {
    const result = await assignment([member('m-old', { since: 100, active: false }), member('m-active', { since: 300, active: true })]);
    expect(result['m-active']).toEqual({ a: [0, 1, 2], b: [0, 1] });
    expect(result['m-old']).toEqual({});
  });

  it('hands everything to the longest-running standby when the active member is gone, ties broken by member id', async () => {
    const result = await assignment([member('m-b', { since: 100, active: false }), member('m-a', { since: 100, active: false }), member('m-c', { since: 50, active: false })]);
    expect(Object.entries(result).filter(([, topics]) => Object.keys(topics).length > 0).map(([id]) => id)).toEqual(['m-c']);
    const tie = await assignment([member('m-b', { since: 100, active: false }), member('m-a', { since: 100, active: false })]);
    expect(tie['m-a']).toEqual({ a: [0, 1, 2], b: [0, 1] });
  });
});
