/**
 * Authentication settings: which credentials the gateway accepts and whether it checks them at
 * all. Parsed once by src/config.ts from AUTH_MODE, API_KEYS / API_KEYS_FILE and JWT_*.
 */
import { readFileSync } from 'node:fs';
import { ROLES, type Role } from './principal.ts';

/** `open`: no checks, every caller is admin. `enforce`: credentials are checked, none means `public`. */
export type AuthMode = 'open' | 'enforce';

/** One accepted API key. Only the SHA-256 of the key is configured, never the key itself. */
export interface ApiKeyEntry {
  /** Names the key in logs and rate limits (never secret). */
  readonly id: string;
  /** Lower-case hex SHA-256 of the key (`node src/security/hash-key.ts <key>` prints it). */
  readonly sha256: string;
  readonly role: Role;
  /** The end user an `app` key acts for; null for a service key. */
  readonly userId: string | null;
}

/** How bearer JWTs are verified. */
export interface JwtConfig {
  /** HS256 shared secret (at least 32 bytes). */
  readonly secret: string | undefined;
  /** JWKS endpoint of the identity provider, for asymmetrically signed tokens (RS*, PS*, ES*, EdDSA). */
  readonly jwksUrl: string | undefined;
  /** Required `iss`. */
  readonly issuer: string;
  /** Accepted `aud` values (the token must name at least one). */
  readonly audience: readonly string[];
  /** Claim holding the role; default `role`. */
  readonly roleClaim: string;
}

/** Authentication part of the gateway configuration. */
export interface AuthConfig {
  readonly mode: AuthMode;
  readonly apiKeys: readonly ApiKeyEntry[];
  /** Absent when bearer JWTs are not accepted. */
  readonly jwt: JwtConfig | undefined;
}

/** The variables this module reads (already cleaned by envalid). */
export interface AuthEnv {
  AUTH_MODE: 'open' | 'enforce' | 'auto';
  API_KEYS: string | undefined;
  API_KEYS_FILE: string | undefined;
  JWT_SECRET: string | undefined;
  JWT_JWKS_URL: string | undefined;
  JWT_ISSUER: string | undefined;
  JWT_AUDIENCE: string | undefined;
  JWT_ROLE_CLAIM: string;
}

/** Shortest HS256 secret accepted: RFC 7518 §3.2 asks for a key at least as long as the hash. */
export const MIN_JWT_SECRET_BYTES = 32;

/**
 * Turns the auth variables into an `AuthConfig`. `problems` holds one line per bad variable, in
 * the format of src/config.ts, so start-up names every mistake at once.
 */
export function resolveAuthConfig(env: AuthEnv): { auth: AuthConfig; problems: string[] } {
  const problems: string[] = [];
  let apiKeys: ApiKeyEntry[] = [];
  if (env.API_KEYS !== undefined && env.API_KEYS_FILE !== undefined) {
    problems.push('  API_KEYS: set either API_KEYS or API_KEYS_FILE, not both');
  } else if (env.API_KEYS !== undefined) {
    apiKeys = parseApiKeys(env.API_KEYS, 'API_KEYS', problems);
  } else if (env.API_KEYS_FILE !== undefined) {
    let text: string | undefined;
    try {
      text = readFileSync(env.API_KEYS_FILE, 'utf8');
    } catch (error) {
      problems.push(`  API_KEYS_FILE: cannot read ${env.API_KEYS_FILE} (${(error as Error).message})`);
    }
    if (text !== undefined) apiKeys = parseApiKeys(text, 'API_KEYS_FILE', problems);
  }

  let jwt: JwtConfig | undefined;
  const jwtKeyed = env.JWT_SECRET !== undefined || env.JWT_JWKS_URL !== undefined;
  if (jwtKeyed) {
    if (env.JWT_SECRET !== undefined && Buffer.byteLength(env.JWT_SECRET) < MIN_JWT_SECRET_BYTES) {
      problems.push(`  JWT_SECRET: must be at least ${MIN_JWT_SECRET_BYTES} bytes for HS256, got ${Buffer.byteLength(env.JWT_SECRET)}`);
    }
    // Without both, a token minted for another service of the same identity provider would pass.
    if (!env.JWT_ISSUER) problems.push('  JWT_ISSUER: required with JWT_SECRET or JWT_JWKS_URL (the expected `iss`)');
    const audience = (env.JWT_AUDIENCE ?? '').split(',').map((a) => a.trim()).filter(Boolean);
    if (audience.length === 0) problems.push('  JWT_AUDIENCE: required with JWT_SECRET or JWT_JWKS_URL (the expected `aud`, comma-separated)');
    if (!env.JWT_ROLE_CLAIM.trim()) problems.push('  JWT_ROLE_CLAIM: must name a claim');
    jwt = Object.freeze({
      secret: env.JWT_SECRET,
      jwksUrl: env.JWT_JWKS_URL,
      issuer: env.JWT_ISSUER ?? '',
      audience: Object.freeze(audience),
      roleClaim: env.JWT_ROLE_CLAIM.trim(),
    });
  } else {
    // Verification settings without a key mean someone believes tokens are checked: they are not.
    for (const name of ['JWT_ISSUER', 'JWT_AUDIENCE'] as const) {
      if (env[name] !== undefined) problems.push(`  ${name}: set, but neither JWT_SECRET nor JWT_JWKS_URL is, so no token could be verified`);
    }
  }

  const credentialsConfigured = env.API_KEYS !== undefined || env.API_KEYS_FILE !== undefined || jwtKeyed;
  const mode: AuthMode = env.AUTH_MODE === 'auto' ? (credentialsConfigured ? 'enforce' : 'open') : env.AUTH_MODE;
  return { auth: Object.freeze({ mode, apiKeys: Object.freeze(apiKeys), jwt }), problems };
}

const ENTRY_FIELDS = new Set(['id', 'sha256', 'role', 'userId']);

/** Parses a JSON array of `{ id, sha256, role, userId? }`; every problem is reported under `variable`. */
function parseApiKeys(text: string, variable: string, problems: string[]): ApiKeyEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push(`  ${variable}: not valid JSON (${(error as Error).message})`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push(`  ${variable}: must be a JSON array of { id, sha256, role, userId? }`);
    return [];
  }
  const entries: ApiKeyEntry[] = [];
  const ids = new Set<string>();
  const digests = new Set<string>();
  parsed.forEach((raw: unknown, index) => {
    const where = `  ${variable}[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${where}: must be an object { id, sha256, role, userId? }`);
      return;
    }
    const entry = raw as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((k) => !ENTRY_FIELDS.has(k));
    const before = problems.length;
    if (unknown.length > 0) problems.push(`${where}: unknown field(s) ${unknown.join(', ')}; allowed: id, sha256, role, userId`);
    const { id, sha256, role, userId } = entry;
    if (typeof id !== 'string' || !/^[\w.:-]{1,64}$/.test(id)) problems.push(`${where}.id: must be 1-64 letters, digits, '_', '.', ':' or '-'`);
    else if (ids.has(id)) problems.push(`${where}.id: "${id}" is used twice`);
    if (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      problems.push(`${where}.sha256: must be the 64-hex-digit SHA-256 of the key (node src/security/hash-key.ts <key>)`);
    } else if (digests.has(sha256.toLowerCase())) problems.push(`${where}.sha256: the same key is configured twice`);
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) problems.push(`${where}.role: must be one of ${ROLES.join(', ')}`);
    if (userId !== undefined && userId !== null && (typeof userId !== 'string' || userId === '')) problems.push(`${where}.userId: must be a non-empty string`);
    if (problems.length > before) return;
    const digest = (sha256 as string).toLowerCase();
    ids.add(id as string);
    digests.add(digest);
    entries.push(Object.freeze({ id: id as string, sha256: digest, role: role as Role, userId: (userId as string | undefined) ?? null }));
  });
  return entries;
}
