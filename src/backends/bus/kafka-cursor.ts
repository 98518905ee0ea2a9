/**
 * Resume positions of the Kafka bus. Kafka has no global offset: a position is the last offset
 * consumed on every partition, and a cursor is that map (plus a time for partitions it does not
 * name), serialised as base64url JSON. Records of different partitions are put in one "log
 * order" by publish time, then topic, partition and offset; within a partition the offset order
 * always wins, so a cursor never skips a record of its own partition.
 */

/** Per topic, per partition: the offset of the last record consumed (`-1n`: none yet). */
export type Positions = Map<string, Map<number, bigint>>;

/** A decoded cursor. */
export interface BusCursor {
  /**
   * Publish time (ms) of the record the cursor stands after. Partitions the cursor does not name
   * (created after it was made, or unknown to the instance that made it) are read from their
   * first record published at or after this time.
   */
  time: number;
  positions: Positions;
}

/** What the log order needs to know of a record. */
export interface Ordered {
  topic: string;
  partition: number;
  offset: bigint;
  /** Publish time, ms since the epoch. */
  timestamp: number;
}

const VERSION = 1;
/** Kafka's legal topic names (`[a-zA-Z0-9._-]`, at most 249 characters). */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const OFFSET = /^(?:-1|0|[1-9]\d{0,18})$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Far above any real cursor (a few hundred partitions); refuses junk before parsing it. */
const MAX_CURSOR_LENGTH = 64 * 1024;
const MAX_PARTITIONS = 100_000;

/** Serialises a cursor. Topics are sorted, so equal positions give equal strings. */
export function encodeCursor(cursor: BusCursor): string {
  return new PositionTracker(cursor.positions).cursor(cursor.time);
}

/** Parses a cursor made by `encodeCursor`; `undefined` for anything else (never throws). */
export function decodeCursor(text: string): BusCursor | undefined {
  if (text.length === 0 || text.length > MAX_CURSOR_LENGTH || !BASE64URL.test(text)) return undefined;
  const json = Buffer.from(text, 'base64url').toString('utf8');
  // Node decodes base64 leniently; only the canonical spelling of a cursor we made is accepted.
  if (Buffer.from(json).toString('base64url') !== text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || parsed['v'] !== VERSION) return undefined;
  const time = parsed['t'];
  const p = parsed['p'];
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0 || !isRecord(p)) return undefined;
  const positions: Positions = new Map();
  for (const [topic, encoded] of Object.entries(p)) {
    if (!TOPIC_NAME.test(topic) || typeof encoded !== 'string') return undefined;
    const partitions = decodePartitions(encoded);
    if (!partitions) return undefined;
    positions.set(topic, partitions);
  }
  return { time, positions };
}

/**
 * The positions of a live reader (the tail) or of a replay, advanced record by record, with the
 * cursor after each record. Per-topic pieces of the encoding are cached: advancing one partition
 * re-encodes only its topic.
 */
export class PositionTracker {
  private readonly positions: Positions = new Map();
  private readonly segments = new Map<string, string>();

  constructor(initial?: Positions) {
    if (initial) for (const [topic, partitions] of initial) this.positions.set(topic, new Map(partitions));
  }

  /** Last offset consumed on a partition, if the tracker knows the partition. */
  get(topic: string, partition: number): bigint | undefined {
    return this.positions.get(topic)?.get(partition);
  }

  /** Records that `offset` was consumed (positions never move back). */
  advance(topic: string, partition: number, offset: bigint): void {
    let partitions = this.positions.get(topic);
    if (!partitions) this.positions.set(topic, (partitions = new Map()));
    const current = partitions.get(partition);
    if (current !== undefined && current >= offset) return;
    partitions.set(partition, offset);
    this.segments.delete(topic);
  }

  /** A copy of the positions, of every topic or only of `topics`. */
  snapshot(topics?: Iterable<string>): Positions {
    const copy: Positions = new Map();
    for (const topic of topics ?? this.positions.keys()) {
      const partitions = this.positions.get(topic);
      if (partitions) copy.set(topic, new Map(partitions));
    }
    return copy;
  }

  /** The cursor standing after everything consumed so far (same encoding as `encodeCursor`). */
  cursor(time: number): string {
    const pieces: string[] = [];
    for (const topic of [...this.positions.keys()].sort()) {
      let segment = this.segments.get(topic);
      if (segment === undefined) {
        segment = `${JSON.stringify(topic)}:${JSON.stringify(encodePartitions(this.positions.get(topic)!))}`;
        this.segments.set(topic, segment);
      }
      pieces.push(segment);
    }
    return Buffer.from(`{"v":${VERSION},"t":${time},"p":{${pieces.join(',')}}}`).toString('base64url');
  }
}

/** Orders records of different partitions: publish time, then topic, partition and offset. */
export function compareLogOrder(a: Ordered, b: Ordered): number {
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;
}

/**
 * Merges per-partition queues (each in offset order) into log order, taking at most `limit`
 * records. A k-way merge rather than a sort: with producer clocks, a later offset can carry an
 * earlier timestamp, and a sort would then put a partition's records out of offset order.
 */
export function mergeInLogOrder<T extends Ordered>(queues: readonly (readonly T[])[], limit = Number.POSITIVE_INFINITY): T[] {
  const heads = queues.map(() => 0);
  const merged: T[] = [];
  while (merged.length < limit) {
    let best = -1;
    for (let q = 0; q < queues.length; q += 1) {
      const candidate = queues[q]![heads[q]!];
      if (candidate === undefined) continue;
      if (best < 0 || compareLogOrder(candidate, queues[best]![heads[best]!]!) < 0) best = q;
    }
    if (best < 0) break;
    merged.push(queues[best]![heads[best]!]!);
    heads[best]! += 1;
  }
  return merged;
}

/** Partition offsets as a dense comma list indexed by partition; an empty slot is a partition not named. */
function encodePartitions(partitions: Map<number, bigint>): string {
  const slots: string[] = [];
  for (const [partition, offset] of partitions) slots[partition] = offset.toString();
  return Array.from(slots, (slot) => slot ?? '').join(',');
}

function decodePartitions(encoded: string): Map<number, bigint> | undefined {
  const slots = encoded.split(',');
  if (slots.length > MAX_PARTITIONS) return undefined;
  const partitions = new Map<number, bigint>();
  for (let partition = 0; partition < slots.length; partition += 1) {
    const slot = slots[partition]!;
    if (slot === '') continue;
    if (!OFFSET.test(slot)) return undefined;
    partitions.set(partition, BigInt(slot));
  }
  return partitions;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Records of a live reader, per partition, released in log order. A partition known to have
 * unread records (its last fetch ended below the high watermark) holds back records of other
 * partitions published after its last one: its next record may come first. Without that, a tail
 * catching up would hand out whichever partition a fetch happened to reach.
 */
export class LogOrderBuffer<T extends Ordered> {
  private readonly partitions = new Map<string, { queue: T[]; head: number; lagging: boolean; lastTimestamp: number | undefined }>();
  private held = 0;

  /** Records waiting. */
  get size(): number {
    return this.held;
  }

  /**
   * Adds what one fetch returned for a partition. `lastTimestamp`: the publish time of the last
   * record fetched (kept or not); `lagging`: whether the partition has more records than fetched.
   */
  add(key: string, records: readonly T[], lastTimestamp: number | undefined, lagging: boolean): void {
    let partition = this.partitions.get(key);
    if (!partition) this.partitions.set(key, (partition = { queue: [], head: 0, lagging, lastTimestamp }));
    partition.queue.push(...records);
    partition.lagging = lagging;
    if (lastTimestamp !== undefined) partition.lastTimestamp = lastTimestamp;
    this.held += records.length;
  }

  /** Takes the records that can go out now, in log order; with `force`, all of them. */
  release(force = false): T[] {
    const out: T[] = [];
    for (;;) {
      let bestKey: string | undefined;
      let best: T | undefined;
      for (const [key, partition] of this.partitions) {
        const head = partition.queue[partition.head];
        if (head !== undefined && (best === undefined || compareLogOrder(head, best) < 0)) {
          best = head;
          bestKey = key;
        }
      }
      if (best === undefined || bestKey === undefined) break;
      if (!force && this.mayPrecede(bestKey, best)) break;
      out.push(best);
      this.partitions.get(bestKey)!.head += 1;
    }
    for (const partition of this.partitions.values()) {
      partition.queue.splice(0, partition.head);
      partition.head = 0;
    }
    this.held -= out.length;
    return out;
  }

  /** Whether a partition other than `key`'s may still hold an unread record before `record`. */
  private mayPrecede(key: string, record: T): boolean {
    for (const [other, partition] of this.partitions) {
      if (other === key || !partition.lagging || partition.head < partition.queue.length) continue;
      // Its next record was published at or after its last one (one producer clock per record
      // stream, near enough): only a last one strictly later rules it out.
      if (partition.lastTimestamp === undefined || partition.lastTimestamp <= record.timestamp) return true;
    }
    return false;
  }
}
