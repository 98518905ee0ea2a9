import type { IncomingMessage } from 'node:http';
import type { HttpReply } from '../http/http-reply.ts';
import { GraphQLError } from 'graphql';
import { Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../logger.ts';
import type { Principal, Role } from './principal.ts';
import { describeBudget, type RateBudget, type RoleBudgets } from './rate-limit-budget.ts';

/**
 * Per-principal rate limits, shared by every gateway instance through Redis when `REDIS_URL` is
 * set and kept in process otherwise.
 *
 * A budget `N/s burst M` is meant as a token bucket (capacity M, refilled at N per second).
 * rate-limiter-flexible 11 has no token-bucket limiter, so it is built from its `BurstyRateLimiter`:
 * a fixed window of N requests per second, and once that is spent a reserve of M − N requests
 * that refills as a whole every `RESERVE_REFILL_FACTOR × (M − N) / N` seconds. Like the bucket, a
 * caller that was quiet may send M at once and a busy one gets N per second; unlike it, the
 * reserve comes back in one step rather than steadily, so a caller in sustained overload gets at
 * most 1/RESERVE_REFILL_FACTOR more than N, a drained reserve takes RESERVE_REFILL_FACTOR times
 * longer to return than the bucket's, and (fixed windows) up to 2N may pass around a window edge.
 *
 * With Redis, each limiter has an in-memory insurance limiter with the same budget: while Redis
 * is unreachable (or not yet connected) requests are counted per instance instead of failing, so
 * an outage loosens the limit to one budget per instance rather than refusing or erroring.
 */

/** How much slower than the bucket the burst reserve refills (see above). */
const RESERVE_REFILL_FACTOR = 10;

/** Without an established principal (authentication off), callers are open access, which is admin. */
const OPEN_ACCESS_ROLE: Role = 'admin';

/** The outcome of counting one request. */
export interface RateLimitVerdict {
  allowed: boolean;
  /** Requests per window of the sustained rate (RateLimit-Limit). */
  limit: number;
  /** Requests left in the current window (RateLimit-Remaining). */
  remaining: number;
  /** Until the current window ends, in ms (RateLimit-Reset); for a refusal, when to retry. */
  resetMs: number;
  role: Role;
  budget: RateBudget;
}

/** Options of `PrincipalRateLimiter`. */
export interface PrincipalRateLimiterOptions {
  /** Budget per role; a `null` budget is unlimited. */
  budgets: RoleBudgets;
  /** `redis://…`: budgets shared by every instance using it. Absent: per-instance memory. */
  redisUrl?: string | undefined;
  /** Where a limiter failure is reported (the request is let through). */
  logger?: Logger;
  /** First segment of Redis keys (`<namespace>:rl:<role>:<key>`). Default `'nexus'`. */
  namespace?: string;
  /** Budget of one Redis call; past it the insurance limiter answers. Default 250 ms. */
  commandTimeoutMs?: number;
  /** Longest wait for the first Redis connection in `start()`. Default 2000 ms. */
  connectTimeoutMs?: number;
}

/** Anything that counts points the way rate-limiter-flexible's limiters do. */
interface Limiter {
  consume(key: string | number, points?: number): Promise<RateLimiterRes>;
}

/** Who is counted: the principal's id, or the client address when there is no principal to name. */
export function rateLimitKey(principal: Principal | undefined, req: Pick<IncomingMessage, 'socket'>): string {
  // Open access has one principal for everyone; counting it as one caller would let one client
  // starve the rest, so it is counted per address like anonymous callers.
  if (principal && principal.kind !== 'open') return principal.id;
  const address = req.socket.remoteAddress ?? 'unknown';
  return `${principal?.kind ?? 'anonymous'}:${address}`;
}

/** The role whose budget applies (and whose privileges count for the persisted-query allow-list). */
export function effectiveRole(principal: Principal | undefined): Role {
  return principal?.role ?? OPEN_ACCESS_ROLE;
}

/**
 * Counts requests per principal against its role's budget. One instance per gateway; `start()`
 * before use (it waits for Redis, so the first requests are already shared), `close()` at shutdown.
 */
export class PrincipalRateLimiter {
  private readonly limiters = new Map<Role, { limiter: Limiter; budget: RateBudget }>();
  private readonly redis: Redis | undefined;
  private readonly logger: Logger | undefined;
  private readonly connectTimeoutMs: number;

  constructor(options: PrincipalRateLimiterOptions) {
    this.logger = options.logger;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
    const commandTimeoutMs = options.commandTimeoutMs ?? 250;
    const namespace = options.namespace ?? 'nexus';
    const limited = Object.values(options.budgets).some((budget) => budget !== null);
    // A connection of its own rather than the cache adapter's: limiter calls sit on every request's
    // path and must fail over to the insurance limiter within their own budget.
    this.redis =
      options.redisUrl && limited
        ? new Redis(options.redisUrl, {
            lazyConnect: true,
            // Without a connection, commands fail at once (and the insurance limiter answers).
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            autoResendUnfulfilledCommands: false,
            connectTimeout: this.connectTimeoutMs,
            commandTimeout: commandTimeoutMs,
            retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt - 1, 16), 2_000),
          })
        : undefined;
    // Connection errors are expected while Redis is down; the insurance limiter covers them.
    this.redis?.on('error', () => undefined);
    for (const [role, budget] of Object.entries(options.budgets) as [Role, RateBudget | null][]) {
      if (budget) this.limiters.set(role, { limiter: this.build(`${namespace}:rl:${role}`, budget), budget });
    }
  }

  /** Connects to Redis (at most `connectTimeoutMs`; an unreachable Redis is not fatal: insurance counts). */
  async start(): Promise<void> {
    if (!this.redis || this.redis.status !== 'wait') return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.connectTimeoutMs);
    });
    await Promise.race([this.redis.connect().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  /**
   * Counts `points` requests (default 1; a batch counts its operations) of `key` against `role`'s
   * budget. `undefined` (synchronously) when the role
   * is unlimited, so unlimited callers pay nothing. Never rejects: a limiter that fails lets the
   * request through (logged), since a broken limiter must not take the service down.
   */
  consume(key: string, role: Role, points = 1): Promise<RateLimitVerdict> | undefined {
    const entry = this.limiters.get(role);
    if (!entry) return undefined;
    const { limiter, budget } = entry;
    const verdict = (allowed: boolean, res: RateLimiterRes): RateLimitVerdict => ({
      allowed,
      limit: budget.rate,
      remaining: res.remainingPoints,
      resetMs: Math.max(0, res.msBeforeNext),
      role,
      budget,
    });
    return limiter.consume(key, points).then(
      (res) => verdict(true, res),
      (rejection: unknown) => {
        if (rejection instanceof RateLimiterRes) return verdict(false, rejection);
        this.logger?.warn({ err: rejection, key, role }, 'rate limiter failed; request let through');
        return verdict(true, new RateLimiterRes(0, budget.perSeconds * 1000, 0, false));
      },
    );
  }

  async close(): Promise<void> {
    if (!this.redis) return;
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis?.disconnect());
    else this.redis.disconnect();
  }

  private build(keyPrefix: string, budget: RateBudget): Limiter {
    const sustained = this.window(keyPrefix, budget.rate, budget.perSeconds);
    const reserve = budget.burst - budget.rate;
    if (reserve === 0) return sustained;
    const reserveSeconds = Math.max(1, Math.ceil((RESERVE_REFILL_FACTOR * reserve * budget.perSeconds) / budget.rate));
    return new BurstyRateLimiter(sustained, this.window(`${keyPrefix}:burst`, reserve, reserveSeconds));
  }

  /** A fixed window of `points` per `duration` seconds, in Redis (insured by memory) or in memory. */
  private window(keyPrefix: string, points: number, duration: number): RateLimiterMemory | RateLimiterRedis {
    const memory = new RateLimiterMemory({ keyPrefix, points, duration });
    if (!this.redis) return memory;
    return new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix,
      points,
      duration,
      insuranceLimiter: memory,
      // Not connected: straight to the insurance limiter, no command attempted.
      rejectIfRedisNotReady: true,
      // Once a key is over budget, this instance answers it from memory until the window ends,
      // so a client hammering the gateway costs no Redis round trip per request.
      inMemoryBlockOnConsumed: points + 1,
    });
  }
}

/** The GraphQL error of a refused operation (graphql-ws; HTTP writes the same body itself). */
export function rateLimitedError(verdict: RateLimitVerdict): GraphQLError {
  return new GraphQLError(refusalMessage(verdict), { extensions: { code: 'RATE_LIMITED', retryAfterMs: verdict.resetMs } });
}

/**
 * Applies a verdict to an HTTP response: an admitted request gets the RateLimit headers
 * (draft-ietf-httpapi-ratelimit-headers, the separate `RateLimit-Limit/-Remaining/-Reset` fields
 * most clients read) and `true`; a refused one is answered 429 with `Retry-After` and a GraphQL
 * error body (`RATE_LIMITED`, `retryAfterMs`), and gets `false`.
 */
export function admitHttp(res: HttpReply, verdict: RateLimitVerdict): boolean {
  const resetSeconds = String(Math.ceil(verdict.resetMs / 1000));
  if (verdict.allowed) {
    res.setHeader('ratelimit-limit', String(verdict.limit));
    res.setHeader('ratelimit-remaining', String(verdict.remaining));
    res.setHeader('ratelimit-reset', resetSeconds);
    return true;
  }
  const body = JSON.stringify({ errors: [{ message: refusalMessage(verdict), extensions: { code: 'RATE_LIMITED', retryAfterMs: verdict.resetMs } }] });
  res.writeHead(429, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    // Whole seconds, rounded up (RFC 9110 §10.2.3), and never 0: retrying at once would be refused.
    'retry-after': String(Math.max(1, Math.ceil(verdict.resetMs / 1000))),
    'ratelimit-limit': String(verdict.limit),
    'ratelimit-remaining': '0',
    'ratelimit-reset': resetSeconds,
  });
  res.end(body);
  return false;
}

function refusalMessage(verdict: RateLimitVerdict): string {
  return `Too many requests: the budget of ${verdict.role} callers is ${describeBudget(verdict.budget)}; retry in ${(verdict.resetMs / 1000).toFixed(1)} s.`;
}
