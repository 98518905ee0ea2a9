import { Redis } from 'ioredis';
import type { SharedTableVersions, VersionChanges } from '../../cache-tags/table-versions.ts';
import type { Logger } from '../../logger.ts';

/** Options of the Redis table versions. */
export interface RedisTableVersionsOptions {
  /** `redis://…`, the cache's Redis. Required. */
  url: string;
  /** First segment of the hash and channel names. Default `'nexus'` (the cache's). */
  namespace?: string;
  /**
   * How often the whole hash is read again, in ms: the safety net for an announcement missed while
   * disconnected; changes written but not yet announced are retried then too. Default 5000.
   */
  refreshMs?: number;
  /** Budget of one command; past it the call counts as failed (and is retried). Default 250 ms. */
  commandTimeoutMs?: number;
  logger?: Logger;
}

// Raises each table's version only where the new one is higher, then announces what moved, in one
// atomic step: instances that hear the same commit write it once, and versions never go back.
// ARGV: channel, then table/version pairs (versions as decimal strings, compared as numbers).
const RAISE_SCRIPT = `
local moved = {}
for i = 2, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    moved[#moved + 1] = ARGV[i] .. '=' .. ARGV[i + 1]
  end
end
if #moved > 0 then redis.call('PUBLISH', ARGV[1], table.concat(moved, ',')) end
return #moved`;

/**
 * Table versions shared through Redis: a hash holds every table's version, and every raise is
 * announced on a pub/sub channel that each instance follows, so an invalidation reaches them all
 * at once; each instance keeps the versions in memory (a cache hit costs no Redis round trip).
 * Uses two connections of its own (a subscribed connection can send nothing else).
 */
export function createRedisTableVersions(options: RedisTableVersionsOptions): SharedTableVersions {
  const namespace = options.namespace ?? 'nexus';
  const hash = `${namespace}:table-versions`;
  const channel = `${namespace}:table-versions`;
  const refreshMs = options.refreshMs ?? 5_000;
  const retryStrategy = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt - 1, 6), 2_000);
  // Commands fail fast while disconnected (a failed raise is kept and retried); the subscriber
  // queues its SUBSCRIBE until connected however long that takes, and subscribes again after
  // every reconnection.
  const client = new Redis(options.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: options.commandTimeoutMs ?? 250, retryStrategy });
  const subscriber = new Redis(options.url, { maxRetriesPerRequest: null, retryStrategy });
  for (const connection of [client, subscriber]) connection.on('error', () => undefined);

  let pending: Record<string, number> = {};
  let apply: ((changes: VersionChanges) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Writes and announces `changes`; on failure keeps them for the next refresh and answers the error. */
  async function raise(changes: VersionChanges): Promise<unknown> {
    const pairs = Object.entries(changes).flatMap(([table, version]) => [table, String(version)]);
    if (pairs.length === 0) return undefined;
    try {
      await client.eval(RAISE_SCRIPT, 1, hash, channel, ...pairs);
      return undefined;
    } catch (error) {
      // Until a refresh writes them, other instances may serve these tables' old answers.
      for (const [table, version] of Object.entries(changes)) pending[table] = Math.max(pending[table] ?? 0, version);
      return error;
    }
  }

  async function refresh(): Promise<void> {
    if (closed) return;
    const retry = pending;
    pending = {};
    await raise(retry);
    try {
      const stored = await client.hgetall(hash);
      apply?.(Object.fromEntries(Object.entries(stored).map(([table, version]) => [table, Number(version)])));
    } catch {
      // The next refresh tries again.
    }
  }

  return {
    async publish(changes) {
      const error = await raise(changes);
      if (error) options.logger?.warn({ err: error, tables: Object.keys(changes) }, 'table versions not shared yet; retried on the next refresh');
    },
    follow(listener) {
      apply = listener;
      subscriber.on('message', (_channel: string, message: string) => apply?.(parseChanges(message)));
      // After every reconnection: announcements made meanwhile are read from the hash, and raises
      // that failed meanwhile are written.
      for (const connection of [client, subscriber]) connection.on('ready', () => void refresh());
      timer = setInterval(() => void refresh(), refreshMs);
      timer.unref();
      // Followed once subscribed and the hash was read through a ready connection.
      return Promise.all([subscriber.subscribe(channel), ready(client)]).then(
        () => refresh(),
        () => new Promise<void>(() => undefined),
      );
    },
    async close() {
      closed = true;
      clearInterval(timer);
      // QUIT lets replies in flight arrive; a connection that is not up is just dropped.
      await Promise.all(
        [client, subscriber].map(async (connection) => {
          if (connection.status !== 'ready') return connection.disconnect();
          await connection.quit().catch(() => connection.disconnect());
        }),
      );
    },
  };
}

/** Resolves when `connection` is ready for commands (at once when it is). */
function ready(connection: Redis): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => connection.once('ready', () => resolve()));
}

/** `table=version,…` as announced by the raise script. */
function parseChanges(message: string): VersionChanges {
  const changes: Record<string, number> = {};
  for (const pair of message.split(',')) {
    const at = pair.lastIndexOf('=');
    if (at > 0) changes[pair.slice(0, at)] = Number(pair.slice(at + 1));
  }
  return changes;
}
