import type { AuthMode } from '../security/auth-config.ts';

/** Cross-origin settings (CORS_ORIGINS, CORS_CREDENTIALS, CORS_MAX_AGE). See src/http/cors.ts. */
export interface CorsConfig {
  /** The entries as configured, or the default's; for the start-up log. */
  readonly origins: readonly string[];
  /** The entries compiled: an `Origin` is allowed when one of them matches it whole. */
  readonly patterns: readonly RegExp[];
  /** Send `Access-Control-Allow-Credentials: true` (cookies, TLS client certificates). Default false. */
  readonly credentials: boolean;
  /** How long a browser may reuse a preflight answer, in seconds. Default 600. */
  readonly maxAgeSeconds: number;
}

/** The variables `resolveCors` reads (already cleaned by envalid). */
export interface CorsEnv {
  CORS_ORIGINS: string | undefined;
  CORS_CREDENTIALS: boolean;
  CORS_MAX_AGE: number;
}

/**
 * Open mode's default: pages served from this machine (a dev server on `localhost:3000`), any port.
 * Not every origin: in open mode every caller is admin, so any web page a developer happens to
 * visit could otherwise read and write through the gateway on their machine.
 */
export const OPEN_MODE_ORIGINS = '/^https?:\\/\\/(localhost|127\\.0\\.0\\.1|\\[::1\\])(:\\d+)?$/';

/**
 * Turns the CORS variables into settings; `problems` gets one line per bad variable, naming the
 * bad entry. CORS_ORIGINS is a comma-separated list of exact origins (`https://app.example.com`),
 * wildcards (`https://*.example.com` for any subdomain, `http://localhost:*` for any port), anchored
 * regular expressions (`/^https:\/\/app-\d+\.example\.com$/`), or `*` (any origin); empty or `none`
 * allows none. Unset: none with access enforced, {@link OPEN_MODE_ORIGINS} in open mode.
 */
export function resolveCors(env: CorsEnv, authMode: AuthMode, problems: string[]): CorsConfig {
  const raw = env.CORS_ORIGINS ?? (authMode === 'open' ? OPEN_MODE_ORIGINS : 'none');
  const entries = raw.trim() === '' || raw.trim().toLowerCase() === 'none' ? [] : splitEntries(raw);
  const patterns: RegExp[] = [];
  for (const entry of entries) {
    const compiled = compileOrigin(entry);
    if (typeof compiled === 'string') problems.push(`  CORS_ORIGINS: entry "${entry}" ${compiled}`);
    else patterns.push(compiled);
  }
  if (env.CORS_CREDENTIALS && entries.includes('*')) {
    problems.push('  CORS_CREDENTIALS: cannot be true with CORS_ORIGINS=* (every site could then call the gateway as the signed-in user); list the origins instead');
  }
  if (!(Number.isInteger(env.CORS_MAX_AGE) && env.CORS_MAX_AGE >= 0)) problems.push(`  CORS_MAX_AGE: must be a whole number of seconds ≥ 0, got ${env.CORS_MAX_AGE}`);
  return Object.freeze({ origins: Object.freeze(entries), patterns: Object.freeze(patterns), credentials: env.CORS_CREDENTIALS, maxAgeSeconds: env.CORS_MAX_AGE });
}

/** Splits on commas outside `/regex/` entries (a regex may hold a comma, e.g. `{1,3}`). */
function splitEntries(raw: string): string[] {
  const entries: string[] = [];
  let rest = raw.trim();
  while (rest !== '') {
    let end: number;
    if (rest.startsWith('/')) {
      // A regex runs to the last `/` before the next comma that follows a `/` (its end plus flags).
      const close = /\/[a-z]*\s*(,|$)/g;
      close.lastIndex = 1;
      const match = close.exec(rest);
      end = match ? match.index + match[0].length - (match[1] === ',' ? 1 : 0) : rest.length;
    } else {
      end = rest.indexOf(',');
      if (end < 0) end = rest.length;
    }
    const entry = rest.slice(0, end).trim();
    if (entry !== '') entries.push(entry);
    rest = rest.slice(end + 1).trim();
  }
  return entries;
}

const WILDCARD_ORIGIN = /^(https?):\/\/(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(:(\d{1,5}|\*))?$/;

/** An entry as a pattern matching whole origins, or why it is not a valid entry. */
function compileOrigin(entry: string): RegExp | string {
  if (entry === '*') return /^/;
  if (entry.startsWith('/')) {
    const last = entry.lastIndexOf('/');
    if (last === 0) return 'is missing its closing "/" (write /^https:\\/\\/app\\.example\\.com$/)';
    const source = entry.slice(1, last);
    const flags = entry.slice(last + 1);
    if (!source.startsWith('^') || !source.endsWith('$')) {
      return 'must be anchored with ^ and $ (an unanchored pattern such as /example\\.com/ also matches https://example.com.attacker.net)';
    }
    try {
      return new RegExp(source, flags);
    } catch (error) {
      return `is not a valid regular expression: ${(error as Error).message}`;
    }
  }
  const lower = entry.toLowerCase();
  const parts = WILDCARD_ORIGIN.exec(lower);
  if (!parts) {
    if (/^https?:\/\/[^/]+\/.*$/.test(lower)) return 'has a path: an origin is scheme://host[:port] only, e.g. https://app.example.com';
    return 'is not an origin: expected scheme://host[:port] (http or https), e.g. https://app.example.com, https://*.example.com or http://localhost:*';
  }
  const [, scheme, anySubdomain, host, , port] = parts;
  const hostPattern = escapeRegExp(host ?? '');
  const portPattern = port === undefined ? '' : port === '*' ? '(:\\d{1,5})?' : `:${port}`;
  // `*.` stands for one or more DNS labels: https://*.example.com matches a.example.com and a.b.example.com, not example.com.
  return new RegExp(`^${scheme}:\\/\\/${anySubdomain ? '([a-z0-9-]+\\.)+' : ''}${hostPattern}${portPattern}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
