import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** What each member tells the group leader about itself when it joins (the protocol's user data). */
interface MemberClaim {
  /** When the member's process started taking records (ms): the oldest member wins a fresh election. */
  since: number;
  /** Whether it held the partitions before this rebalance: an active member keeps them. */
  active: boolean;
}

const NAME = 'NexusSingleActive';
const VERSION = 1;

/**
 * A kafkajs partition assigner that gives every partition of every subscribed topic to ONE member
 * of the group; the others get none and wait as standbys (still members: they heartbeat, and the
 * next rebalance may pick them). That is how the medallion worker keeps one active replica with
 * Kafka alone, no lock service: a second replica joins the group, gets nothing, and idles.
 *
 * The chosen member is sticky: a member that held the partitions before the rebalance keeps them
 * (a standby joining does not move the work); otherwise the member running longest takes them,
 * ties broken by member id. When the active member leaves (SIGTERM: it leaves the group at once)
 * or dies (the group evicts it after the session timeout), the group rebalances and a standby
 * becomes active, resuming from the group's committed offsets.
 *
 * `state()` is read on every join: it is the member's own claim, sent as user data.
 */
export function singleActiveAssigner(state: () => MemberClaim): PartitionAssigner {
  return ({ cluster }) => ({
    name: NAME,
    version: VERSION,
    async assign({ members, topics }) {
      const claims = members.map((member) => ({ memberId: member.memberId, claim: decodeClaim(member.memberMetadata) }));
      claims.sort(
        (a, b) =>
          Number(b.claim.active) - Number(a.claim.active) ||
          a.claim.since - b.claim.since ||
          (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0),
      );
      const chosen = claims[0]?.memberId;
      const everything: Record<string, number[]> = {};
      for (const topic of topics) everything[topic] = cluster.findTopicPartitionMetadata(topic).map((partition) => partition.partitionId);
      return members.map(({ memberId }) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: VERSION,
          assignment: memberId === chosen ? everything : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData: Buffer.from(JSON.stringify(state())) }),
      };
    },
  });
}

/** A member's claim; a member that sent none (another client version) counts as a newcomer. */
function decodeClaim(metadata: Buffer): MemberClaim {
  try {
    const decoded = AssignerProtocol.MemberMetadata.decode(metadata);
    const claim = JSON.parse(decoded?.userData.toString('utf8') ?? '') as Partial<MemberClaim>;
    return { since: typeof claim.since === 'number' ? claim.since : Number.MAX_SAFE_INTEGER, active: claim.active === true };
  } catch {
    return { since: Number.MAX_SAFE_INTEGER, active: false };
  }
}
