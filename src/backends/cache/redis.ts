import { Redis } from 'ioredis';
import { BackendError } from '../../errors.ts';
import { probeHealth } from '../health.ts';
import type { CachePort } from './port.ts';

/** Options of the Redis cache adapter. */
export interface RedisCacheOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Required. */
  url: string;
  /** First segment of every key, so several applications can share one Redis. Default `'nexus'`. */
  namespace?: string;
  /**
   * Key schema version: keys are `<namespace>:v<version>:<key>`. Bump it when the stored format
   * changes, so a new release never reads entries an old one wrote (they expire by their TTL).
   * Default `1`.
   */
  version?: string | number;
  /** Budget for establishing a TCP connection (each reconnection attempt too). Default 2000 ms. */
  connectTimeoutMs?: number;
  /**
   * Budget per cache call (the wait for a connection in progress included). Past it `get` answers a
   * miss and `set` gives up: a slow cache must not slow requests. Default 250 ms.
   */
  commandTimeoutMs?: number;
  /** Longest wait between reconnection attempts while Redis is unreachable. Default 2000 ms. */
  reconnectMaxDelayMs?: number;
}

/** The Redis cache: the cache port, its entries shared by every instance using the same Redis. */
export interface RedisCachePort extends CachePort {
  readonly adapter: 'redis';
  readonly capabilities: { readonly shared: true };
}

const DEFAULTS = {
  namespace: 'nexus',
  version: 1,
  connectTimeoutMs: 2_000,
  commandTimeoutMs: 250,
  reconnectMaxDelayMs: 2_000,
} as const;

/** Keys asked for per SCAN round trip; also the largest UNLINK batch. */
const SCAN_BATCH = 500;

/**
 * The production cache adapter (`REDIS_URL`). Connects on first use; when Redis is unreachable
 * every call fails fast (reads are misses, writes are dropped, health is `DOWN`) while the client
 * reconnects in the background with capped backoff and serves again by itself.
 */
export function createRedisCache(options: RedisCacheOptions): RedisCachePort {
  const settings = validate(options);
  const { commandTimeoutMs, connectTimeoutMs, reconnectMaxDelayMs } = settings;
  const dataPrefix = `${settings.namespace}:v${settings.version}:`;

  const client = new Redis(options.url, {
    lazyConnect: true,
    // Without a connection, commands fail at once instead of queueing behind a reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A write that timed out for its caller must not land later, after a newer invalidation.
    autoResendUnfulfilledCommands: false,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    // Exponential backoff from 50 ms, capped, with jitter so a fleet of gateways does not
    // reconnect in lockstep when Redis comes back. Never gives up: the cache heals by itself.
    retryStrategy: (attempt) => {
      const backoff = Math.min(50 * 2 ** Math.min(attempt - 1, 16), reconnectMaxDelayMs);
      return Math.round(backoff / 2 + (Math.random() * backoff) / 2);
    },
  });
  // Connection errors are expected while Redis is down; they surface through health, and an
  // 'error' event without a listener would be printed by ioredis on every reconnection attempt.
  let lastError: string | undefined;
  client.on('error', (error: Error) => {
    lastError = error.message;
  });
  client.on('ready', () => {
    lastError = undefined;
  });

  let closed = false;
  let closing: Promise<void> | undefined;
  let firstConnection: Promise<void> | undefined;

  function notConnected(): Error {
    return new Error(`not connected (${closed ? 'closed' : client.status})${lastError ? `: ${lastError}` : ''}`);
  }

  /**
   * Resolves when commands can be sent. The first use starts the connection and waits for it (at
   * most `budgetMs`); otherwise, whenever the connection is not ready, Redis is known to be
   * unreachable and this fails at once: waiting on reconnection attempts (each up to
   * `connectTimeoutMs` against an unreachable host) is exactly how an outage would slow every request.
   */
  function connected(budgetMs: number): Promise<void> {
    if (closed) return Promise.reject(notConnected());
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'wait') {
      // Resolves on 'ready', rejects when the attempt fails; retryStrategy keeps trying after that.
      const attempt: Promise<void> = client.connect().finally(() => {
        if (firstConnection === attempt) firstConnection = undefined;
      });
      firstConnection = attempt;
    }
    const waiting = firstConnection;
    if (!waiting) return Promise.reject(notConnected());
    return within(waiting, budgetMs).catch((error: unknown) => {
      // A first connection slower than a call's budget (a frozen or blackholed server) stops being
      // waited for: later calls fail fast until it is ready, instead of each losing the budget.
      if (firstConnection === waiting) firstConnection = undefined;
      throw error;
    });
  }

  function within(promise: Promise<void>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function backendError(operation: string, cause: unknown): BackendError {
    const message = cause instanceof Error ? cause.message : String(cause);
    return new BackendError({
      role: 'cache',
      adapter: 'redis',
      message: `${operation} failed: ${message}`,
      cause,
      timedOut: /timed out|no connection within/i.test(message),
    });
  }

  return {
    adapter: 'redis',
    capabilities: { shared: true },

    async get(key) {
      try {
        if (client.status !== 'ready') await connected(commandTimeoutMs);
        return (await client.get(dataPrefix + key)) ?? undefined;
      } catch {
        return undefined;
      }
    },

    async set(key, value, ttlMs) {
      // PX takes a positive integer; a TTL of zero or less (or not a number) has nothing to keep.
      if (!(ttlMs > 0 && Number.isFinite(ttlMs))) return;
      try {
        if (client.status !== 'ready') await connected(commandTimeoutMs);
        await client.set(dataPrefix + key, value, 'PX', Math.ceil(ttlMs));
      } catch {
        // Best effort: a cache that cannot store is a cache that misses.
      }
    },

    /**
     * Walks the keyspace with SCAN (KEYS would block Redis for everyone) and UNLINKs each batch
     * (freed in the background). Throws a `BackendError` when Redis is unreachable: a failed
     * invalidation leaves stale entries until their TTL, which the caller should know about.
     */
    async deletePrefix(prefix) {
      const match = `${escapeGlob(dataPrefix + prefix)}*`;
      try {
        await connected(connectTimeoutMs);
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', SCAN_BATCH);
          if (keys.length > 0) await client.unlink(...keys);
          cursor = next;
        } while (cursor !== '0');
      } catch (error) {
        throw backendError(`deletePrefix(${JSON.stringify(prefix)})`, error);
      }
    },

    health: () =>
      probeHealth('cache', 'redis', async () => {
        await connected(connectTimeoutMs);
        await client.ping();
      }),

    close() {
      closing ??= (async () => {
        closed = true;
        if (client.status === 'ready') {
          // QUIT lets replies in flight arrive; a server that stopped answering gets cut off.
          await within(
            client.quit().then(() => undefined),
            commandTimeoutMs,
          ).catch(() => client.disconnect());
        } else {
          client.disconnect();
        }
      })();
      return closing;
    },
  };
}

function validate(options: RedisCacheOptions): Required<Omit<RedisCacheOptions, 'url'>> {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(options.url);
  } catch {
    problems.push(`url: expected redis://host:port, got ${JSON.stringify(options.url)}`);
  }
  if (url && url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    problems.push(`url: expected the redis: or rediss: scheme, got ${JSON.stringify(url.protocol)}`);
  }
  const namespace = options.namespace ?? DEFAULTS.namespace;
  if (namespace === '' || /[*?[\]\\\s]/.test(namespace)) {
    problems.push(`namespace: expected a non-empty name without spaces or glob characters, got ${JSON.stringify(namespace)}`);
  }
  const version = options.version ?? DEFAULTS.version;
  if (String(version) === '' || /[:*?[\]\\\s]/.test(String(version))) {
    problems.push(`version: expected a number or a short name without ':', got ${JSON.stringify(version)}`);
  }
  const durations = {
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? DEFAULTS.reconnectMaxDelayMs,
  };
  for (const [name, value] of Object.entries(durations)) {
    if (!(Number.isFinite(value) && value > 0)) problems.push(`${name}: expected a positive number of milliseconds, got ${String(value)}`);
  }
  if (problems.length > 0) throw new TypeError(`createRedisCache: ${problems.join('; ')}`);
  return { namespace, version, ...durations };
}

/** Escapes Redis glob metacharacters so a prefix is matched literally by SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
