/**
 * Establishes who is calling, once per HTTP request or graphql-ws connection: an API key
 * (`x-api-key: <key>` or `Authorization: ApiKey <key>`), a bearer JWT (HS256 secret or the
 * identity provider's JWKS), or nothing (the `public` role). Credentials that are present but
 * wrong never fall back to `public`: they fail with {@link AuthenticationError}.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig, AuthMode, JwtConfig } from './auth-config.ts';
import { ROLES, type Principal, type Role } from './principal.ts';

/** Credentials as presented, before any check. */
export interface Credentials {
  /** The `Authorization` value (`Bearer <jwt>` or `ApiKey <key>`). */
  authorization: string | undefined;
  /** The `x-api-key` value. */
  apiKey: string | undefined;
}

/** Credentials were presented and are not valid: HTTP 401, graphql-ws close 4401. */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
  /** `WWW-Authenticate` value for the 401 answer (RFC 9110 §11.6.1, RFC 6750 §3). */
  readonly challenge: string;

  constructor(message: string, challenge: string) {
    super(message);
    this.challenge = challenge;
  }
}

/** Credentials could not be checked now (the identity provider's key set is unreachable): HTTP 503. */
export class AuthenticationUnavailableError extends Error {
  override name = 'AuthenticationUnavailableError';
}

/** Turns presented credentials into a principal. */
export interface Authenticator {
  readonly mode: AuthMode;
  /**
   * The caller's principal; synchronous unless a JWT has to be verified (keeps the response-cache
   * hit path free of promises for anonymous and API-key callers). Rejects/throws
   * {@link AuthenticationError} or {@link AuthenticationUnavailableError}.
   */
  authenticate(credentials: Credentials, clientAddress: string | undefined): Principal | Promise<Principal>;
  /** `WWW-Authenticate` value naming the accepted schemes, for 401 answers. */
  readonly challenge: string;
  /** One phrase for the start-up log, e.g. `auth enforced with 3 API keys and JWT (HS256 + JWKS)`. */
  readonly description: string;
}

/** What every caller is in open mode. */
export const OPEN_PRINCIPAL: Principal = Object.freeze({ kind: 'open', id: 'open', role: 'admin', userId: null });

/** A caller without credentials (role `public`). */
export function anonymousPrincipal(clientAddress: string | undefined): Principal {
  return { kind: 'anonymous', id: `anonymous:${clientAddress ?? 'unknown'}`, role: 'public', userId: null };
}

/** Credentials of an HTTP request. */
export function httpCredentials(headers: IncomingHttpHeaders): Credentials {
  const apiKey = headers['x-api-key'];
  return { authorization: headers.authorization, apiKey: Array.isArray(apiKey) ? apiKey.join(',') : apiKey };
}

/**
 * Credentials of a graphql-ws connection: the `connection_init` payload
 * (`{ authorization: 'Bearer …' }` or `{ apiKey: '…' }`; header-style names are accepted too, so a
 * client may pass its HTTP headers as they are), else the upgrade request's headers (browsers
 * cannot set those, other clients can).
 */
export function connectionCredentials(params: Readonly<Record<string, unknown>> | undefined, headers: IncomingHttpHeaders): Credentials {
  let authorization: string | undefined;
  let apiKey: string | undefined;
  for (const [name, value] of Object.entries(params ?? {})) {
    if (typeof value !== 'string') continue;
    const lower = name.toLowerCase();
    if (lower === 'authorization') authorization = value;
    else if (lower === 'apikey' || lower === 'x-api-key') apiKey = value;
  }
  if (authorization === undefined && apiKey === undefined) return httpCredentials(headers);
  return { authorization, apiKey };
}

/** Algorithms accepted from the JWKS: asymmetric only, so a public key can never act as an HMAC secret. */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** jose failures that mean the token is bad (as opposed to the key set being unreachable). */
const TOKEN_FAULTS = new Set<string>([
  joseErrors.JWTExpired.code,
  joseErrors.JWTClaimValidationFailed.code,
  joseErrors.JWSSignatureVerificationFailed.code,
  joseErrors.JWSInvalid.code,
  joseErrors.JWTInvalid.code,
  joseErrors.JOSEAlgNotAllowed.code,
  joseErrors.JOSENotSupported.code,
  joseErrors.JWKSNoMatchingKey.code,
  joseErrors.JWKSMultipleMatchingKeys.code,
]);
/** Tolerated clock difference with the token issuer, in seconds. */
const CLOCK_TOLERANCE_S = 5;
const REALM = 'realm="nexus-gateway"';

/** Creates the authenticator for a configuration. */
export function createAuthenticator(config: AuthConfig): Authenticator {
  if (config.mode === 'open') {
    return { mode: 'open', description: 'OPEN access, every caller is admin', challenge: `Bearer ${REALM}`, authenticate: () => OPEN_PRINCIPAL };
  }
  const keys = config.apiKeys.map((entry) => ({ entry, digest: Buffer.from(entry.sha256, 'hex') }));
  const verifyJwt = config.jwt ? createJwtVerifier(config.jwt) : undefined;
  const schemes = [...(verifyJwt ? [`Bearer ${REALM}`] : []), ...(keys.length > 0 ? [`ApiKey ${REALM}`] : [])];
  const challenge = schemes.length > 0 ? schemes.join(', ') : `Bearer ${REALM}`;
  const jwtKinds = [config.jwt?.secret ? 'HS256' : undefined, config.jwt?.jwksUrl ? 'JWKS' : undefined].filter(Boolean);
  const description = `auth enforced with ${keys.length} API key${keys.length === 1 ? '' : 's'} and ${verifyJwt ? `JWT (${jwtKinds.join(' + ')})` : 'no JWT'}`;

  function byApiKey(key: string): Principal {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    // Every entry is compared (no early exit), each in constant time.
    let found: (typeof keys)[number]['entry'] | undefined;
    for (const candidate of keys) {
      if (timingSafeEqual(digest, candidate.digest)) found = candidate.entry;
    }
    if (!found) throw new AuthenticationError('The API key is not valid.', `ApiKey ${REALM}, error="invalid_key"`);
    return { kind: 'apiKey', id: found.id, role: found.role, userId: found.userId };
  }

  return {
    mode: 'enforce',
    description,
    challenge,
    authenticate(credentials, clientAddress) {
      const { authorization, apiKey } = credentials;
      if (authorization === undefined || authorization === '') {
        if (apiKey === undefined || apiKey === '') return anonymousPrincipal(clientAddress);
        return byApiKey(apiKey);
      }
      if (apiKey !== undefined) throw new AuthenticationError('Send one credential: either Authorization or x-api-key, not both.', challenge);
      const space = authorization.indexOf(' ');
      const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
      const value = space < 0 ? '' : authorization.slice(space + 1).trim();
      if (scheme === 'apikey' && value !== '') return byApiKey(value);
      if (scheme === 'bearer' && value !== '') {
        if (!verifyJwt) throw new AuthenticationError('Bearer tokens are not accepted here (no JWT verification is configured).', challenge);
        return verifyJwt(value);
      }
      throw new AuthenticationError(`Unsupported Authorization header: expected "Bearer <jwt>" or "ApiKey <key>".`, challenge);
    },
  };
}

/** Verifies bearer JWTs: signature (HS256 secret or JWKS), `iss`, `aud`, `exp` (required), then maps claims to a principal. */
function createJwtVerifier(config: JwtConfig): (token: string) => Promise<Principal> {
  const secret = config.secret === undefined ? undefined : new TextEncoder().encode(config.secret);
  const jwks = config.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(config.jwksUrl));
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? JWKS_ALGORITHMS : [])];
  // The key follows the token's algorithm, within the allow-list jose checks first.
  const key: JWTVerifyGetKey = (header, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (header.alg !== 'HS256' && jwks) return jwks(header, token);
    throw new joseErrors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  };
  const challenge = (description: string) => `Bearer ${REALM}, error="invalid_token", error_description="${description.replace(/["\\]/g, "'")}"`;

  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms,
        issuer: config.issuer,
        audience: [...config.audience],
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (error) {
      const code = error instanceof joseErrors.JOSEError ? error.code : undefined;
      if (code !== undefined && TOKEN_FAULTS.has(code)) {
        const message = `The bearer token is not valid: ${(error as Error).message}.`;
        throw new AuthenticationError(message, challenge((error as Error).message));
      }
      throw new AuthenticationUnavailableError(`Bearer tokens cannot be verified now: the key set at JWT_JWKS_URL is unavailable (${(error as Error).message}).`, { cause: error });
    }
    const role = roleOf(payload, config.roleClaim);
    if (typeof role !== 'string') throw new AuthenticationError(`The bearer token is not valid: ${role.problem}.`, challenge(role.problem));
    const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null;
    return { kind: 'jwt', id: `jwt:${sub ?? payload.jti ?? 'no-subject'}`, role, userId: sub, ...(payload.exp === undefined ? {} : { expiresAt: payload.exp * 1000 }) };
  };
}

/**
 * The role a token grants: its role claim (a role name in any case, or an array of them: the
 * highest known one counts); without the claim, `app` for a token with a subject (an end user).
 */
function roleOf(payload: JWTPayload, claim: string): Role | { problem: string } {
  const value = payload[claim];
  if (value === undefined) {
    return typeof payload.sub === 'string' && payload.sub !== '' ? 'app' : { problem: `it has neither a "${claim}" claim nor a subject` };
  }
  const candidates = (Array.isArray(value) ? value : [value]).map((v) => (typeof v === 'string' ? v.toLowerCase() : v));
  const known = candidates.filter((v): v is Role => (ROLES as readonly unknown[]).includes(v));
  if (known.length === 0) return { problem: `claim "${claim}" is ${JSON.stringify(value)}, not one of ${ROLES.join(', ')}` };
  return known.reduce((a, b) => (ROLES.indexOf(b) > ROLES.indexOf(a) ? b : a));
}
