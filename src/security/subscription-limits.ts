import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { persistedHash, type AllowList } from './persisted-queries.ts';
import type { Principal } from './principal.ts';
import { effectiveRole, rateLimitedError, rateLimitKey, type PrincipalRateLimiter } from './rate-limit.ts';

/** Options of `SubscriptionLimits`. */
export interface SubscriptionLimitsOptions {
  /** Operations one graphql-ws connection may run at once (`SUBSCRIPTIONS_PER_CONNECTION`). */
  perConnection: number;
  /** Operations all connections of this instance may run at once (`SUBSCRIPTIONS_MAX`). */
  max: number;
}

/**
 * Caps on graphql-ws operations: per connection and per gateway instance. A slot is reserved in
 * `onSubscribe` (after any await, so concurrent subscribes cannot overshoot) and released by
 * whichever of graphql-ws's endings comes first: `onComplete`, `onError` (validation failures
 * end there without `onComplete`) or the connection's `onClose`. Releases are idempotent.
 *
 * A cap reached is `RATE_LIMITED` (the caller is told to back off, not that its operation is
 * wrong), with `extensions.reason` naming the cap and `extensions.limit` its value.
 */
export class SubscriptionLimits {
  private readonly options: SubscriptionLimitsOptions;
  // Operation ids per connection: a short array (a connection runs a handful at most), not a Set,
  // which would reserve a hash table for each of ten thousand one-subscription connections.
  private readonly byConnection = new WeakMap<object, string[]>();
  private total = 0;

  constructor(options: SubscriptionLimitsOptions) {
    for (const [name, value] of Object.entries(options)) {
      if (!(Number.isInteger(value) && value > 0)) throw new TypeError(`SubscriptionLimits: ${name} must be a positive integer, got ${String(value)}`);
    }
    this.options = options;
  }

  /** Operations running now, across every connection. */
  get active(): number {
    return this.total;
  }

  /** Takes a slot for operation `id` of `connection`, or says which cap refuses it. */
  reserve(connection: object, id: string): GraphQLError | undefined {
    const ids = this.byConnection.get(connection);
    if (ids?.includes(id)) {
      // graphql-ws may accept a reused id before the previous operation's last hook ran: its
      // slot carries over to the new one rather than being counted twice.
      return undefined;
    }
    if ((ids?.length ?? 0) >= this.options.perConnection) {
      return capReached(`This connection already runs ${this.options.perConnection} operations, the most one connection may; complete one first.`, 'SUBSCRIPTIONS_PER_CONNECTION', this.options.perConnection);
    }
    if (this.total >= this.options.max) {
      return capReached(`The gateway holds its maximum of ${this.options.max} subscriptions; retry later or on another instance.`, 'SUBSCRIPTIONS_MAX', this.options.max);
    }
    if (ids) ids.push(id);
    else this.byConnection.set(connection, [id]);
    this.total += 1;
    return undefined;
  }

  /** Frees the slot of operation `id` of `connection`, if it holds one. */
  release(connection: object, id: string): void {
    const ids = this.byConnection.get(connection);
    const index = ids?.indexOf(id) ?? -1;
    if (!ids || index === -1) return;
    ids.splice(index, 1);
    this.total -= 1;
  }

  /** Frees every slot of a closed connection. */
  releaseAll(connection: object): void {
    const ids = this.byConnection.get(connection);
    if (!ids) return;
    this.total -= ids.length;
    this.byConnection.delete(connection);
  }
}

function capReached(message: string, reason: string, limit: number): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'RATE_LIMITED', reason, limit } });
}

/** Options of `createSubscriptionAdmission`. */
export interface SubscriptionAdmissionOptions {
  limits: SubscriptionLimits;
  /** Counts each subscribe against the caller's HTTP budget; absent: not counted. */
  rateLimiter?: PrincipalRateLimiter | undefined;
  /** Allow-list mode; absent: any operation may run. */
  allowList?: AllowList | undefined;
}

/**
 * What graphql-ws checks before an operation starts, in order: the caller's rate limit (each
 * subscribe costs one request of the same budget as HTTP), the persisted-query allow-list, then the
 * caps (last, after the only await, so the slot is taken by the operation that passed).
 */
export function createSubscriptionAdmission(options: SubscriptionAdmissionOptions) {
  const { limits, rateLimiter, allowList } = options;
  return {
    async admit(
      connection: object,
      id: string,
      payload: { query?: unknown; extensions?: unknown },
      principal: Principal | undefined,
      request: Pick<IncomingMessage, 'socket'>,
    ): Promise<GraphQLError | undefined> {
      const role = effectiveRole(principal);
      const limiting = rateLimiter?.consume(rateLimitKey(principal, request), role);
      if (limiting) {
        const verdict = await limiting;
        if (!verdict.allowed) return rateLimitedError(verdict);
      }
      const refused = allowList?.check({ query: payload.query, hash: persistedHash(payload.extensions) }, role);
      if (refused) return refused;
      return limits.reserve(connection, id);
    },
    release: (connection: object, id: string) => limits.release(connection, id),
    releaseAll: (connection: object) => limits.releaseAll(connection),
  };
}
