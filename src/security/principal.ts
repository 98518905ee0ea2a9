/** Roles, from least to most privileged: each role may do everything the roles before it may. */
export const ROLES = ['public', 'app', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: established once per request (HTTP) or per connection (graphql-ws). */
export interface Principal {
  /** How the caller proved who it is. */
  kind: 'anonymous' | 'apiKey' | 'jwt' | 'open';
  /**
   * Stable identifier for logs and rate limits: the API key's id, the JWT subject, or for
   * anonymous callers `anonymous:<client address>`.
   */
  id: string;
  role: Role;
  /** The end user an `app` principal acts for (JWT `sub` or the key's configured user), if any. */
  userId: string | null;
  /** When the credential stops being valid (JWT `exp`, ms since the epoch); long-lived connections close then. */
  expiresAt?: number;
}

/** True when `role` includes the privileges of `required`. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}
