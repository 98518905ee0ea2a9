import { ROLES, type Role } from './principal.ts';

/**
 * A request budget: `rate` requests per `perSeconds`, and a burst of up to `burst` requests
 * (`burst >= rate`) for a caller that has been quiet. See rate-limit.ts for how it is enforced.
 */
export interface RateBudget {
  readonly rate: number;
  readonly perSeconds: number;
  readonly burst: number;
}

/** One budget per role; `null` is unlimited. */
export type RoleBudgets = Readonly<Record<Role, RateBudget | null>>;

const UNITS: Readonly<Record<string, number>> = { s: 1, sec: 1, m: 60, min: 60, h: 3_600 };

/**
 * Reads a budget written `N/s`, `N/m` or `N/h`, optionally followed by `burst M` (M ≥ N), e.g.
 * `10/s burst 20`. `off` (or `unlimited`) is no limit: `null`. Throws a message that quotes the
 * text and the expected shape.
 */
export function parseRateBudget(text: string): RateBudget | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'off' || trimmed === 'unlimited') return null;
  const match = /^(\d+)\s*\/\s*(s|sec|m|min|h)(?:\s+burst\s+(\d+))?$/.exec(trimmed);
  const expected = 'expected "N/s", "N/m" or "N/h", optionally followed by "burst M" (M ≥ N), or "off"';
  if (!match) throw new Error(`${expected}, got ${JSON.stringify(text)}`);
  const rate = Number(match[1]);
  const perSeconds = UNITS[match[2] ?? 's'] ?? 1;
  const burst = match[3] === undefined ? rate : Number(match[3]);
  if (!(rate > 0) || !Number.isSafeInteger(rate)) throw new Error(`the rate must be a positive integer, got ${JSON.stringify(text)}`);
  if (!Number.isSafeInteger(burst) || burst < rate) throw new Error(`the burst must be at least the rate, got ${JSON.stringify(text)}`);
  return { rate, perSeconds, burst };
}

/** The budget as people write it (for messages): `10/s burst 20`. */
export function describeBudget(budget: RateBudget): string {
  const unit = budget.perSeconds === 1 ? 's' : budget.perSeconds === 60 ? 'm' : 'h';
  return budget.burst > budget.rate ? `${budget.rate}/${unit} burst ${budget.burst}` : `${budget.rate}/${unit}`;
}

/** The variables `resolveRateLimits` reads (already cleaned by envalid). */
export interface RateLimitEnv {
  RATE_LIMITS: boolean;
  RATE_LIMIT_PUBLIC: string;
  RATE_LIMIT_APP: string;
  RATE_LIMIT_ANALYST: string;
  RATE_LIMIT_ADMIN: string;
}

/**
 * Budgets per role from `RATE_LIMIT_<ROLE>`; `undefined` when `RATE_LIMITS` is off. `problems`
 * gets one line per bad variable.
 */
export function resolveRateLimits(env: RateLimitEnv, problems: string[]): RoleBudgets | undefined {
  const budgets: Record<Role, RateBudget | null> = { public: null, app: null, analyst: null, admin: null };
  const variables = { public: 'RATE_LIMIT_PUBLIC', app: 'RATE_LIMIT_APP', analyst: 'RATE_LIMIT_ANALYST', admin: 'RATE_LIMIT_ADMIN' } as const;
  for (const role of ROLES) {
    const name = variables[role];
    try {
      budgets[role] = parseRateBudget(env[name]);
    } catch (error) {
      problems.push(`  ${name}: ${(error as Error).message}`);
    }
  }
  return env.RATE_LIMITS ? Object.freeze(budgets) : undefined;
}
