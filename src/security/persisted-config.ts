import path from 'node:path';
import { readManifest, type PersistedQueryManifest } from './persisted-manifest.ts';
import type { Role } from './principal.ts';

/** Persisted-query settings (APQ, APQ_TTL_MS, PERSISTED_QUERIES_MODE / _FILE / _BYPASS). */
export interface PersistedQueriesConfig {
  /** Automatic persisted queries: clients may register a text and then send its hash alone. Default on. */
  readonly apq: boolean;
  /** How long an APQ registration is kept in the cache role, in ms. Default 86400000 (a day). */
  readonly apqTtlMs: number;
  /** `allow-list`: only the manifest's operations run. Default `off`. */
  readonly mode: 'off' | 'allow-list';
  /** The manifest (`PERSISTED_QUERIES_FILE`), read and checked at start-up; absent when no file is set. */
  readonly manifest: PersistedQueryManifest | undefined;
  /** Callers of this role or above are not held to the allow-list (GraphiQL keeps working); `null`: nobody. Default `analyst`. */
  readonly bypassRole: Role | null;
}

/** The variables `resolvePersistedQueries` reads (already cleaned by envalid). */
export interface PersistedQueriesEnv {
  APQ: boolean;
  APQ_TTL_MS: number;
  PERSISTED_QUERIES_MODE: 'off' | 'allow-list';
  PERSISTED_QUERIES_FILE: string | undefined;
  PERSISTED_QUERIES_BYPASS: 'analyst' | 'admin' | 'none';
}

/** Turns the persisted-query variables into settings; `problems` gets one line per bad variable. */
export function resolvePersistedQueries(env: PersistedQueriesEnv, problems: string[]): PersistedQueriesConfig {
  if (!(Number.isInteger(env.APQ_TTL_MS) && env.APQ_TTL_MS > 0)) problems.push(`  APQ_TTL_MS: must be a positive integer, got ${env.APQ_TTL_MS}`);
  let manifest: PersistedQueryManifest | undefined;
  if (env.PERSISTED_QUERIES_FILE !== undefined) {
    try {
      manifest = readManifest(path.resolve(env.PERSISTED_QUERIES_FILE));
    } catch (error) {
      problems.push(`  PERSISTED_QUERIES_FILE: ${(error as Error).message.replaceAll('\n', '\n    ')}`);
    }
  } else if (env.PERSISTED_QUERIES_MODE === 'allow-list') {
    problems.push('  PERSISTED_QUERIES_FILE: PERSISTED_QUERIES_MODE=allow-list needs the manifest of allowed operations');
  }
  return Object.freeze({
    apq: env.APQ,
    apqTtlMs: env.APQ_TTL_MS,
    mode: env.PERSISTED_QUERIES_MODE,
    manifest,
    bypassRole: env.PERSISTED_QUERIES_BYPASS === 'none' ? null : env.PERSISTED_QUERIES_BYPASS,
  });
}
