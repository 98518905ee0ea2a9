/**
 * Prints the API_KEYS entry for a key, so only its SHA-256 ever goes into configuration:
 *
 *   node src/security/hash-key.ts [<key>] [--id ID] [--role public|app|analyst|admin] [--user-id USER]
 *
 * Without a key, a new random one (256 bits, base64url) is generated and printed once.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sha256Hex } from './persisted-manifest.ts';
import { ROLES, type Role } from './principal.ts';

/** Lower-case hex SHA-256 of an API key: what API_KEYS stores and requests are compared against. */
export const hashApiKey: (key: string) => string = sha256Hex;

/** A fresh random API key: 32 bytes from the system CSPRNG, base64url. */
export function generateApiKey(): string {
  return randomBytes(32).toString('base64url');
}

if (import.meta.main) {
  const usage = 'usage: node src/security/hash-key.ts [<key>] [--id ID] [--role public|app|analyst|admin] [--user-id USER]';
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { id: { type: 'string' }, role: { type: 'string', default: 'app' }, 'user-id': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (positionals.length > 1 || !(ROLES as readonly string[]).includes(values.role)) {
    console.error(`${positionals.length > 1 ? 'one key at a time' : `--role must be one of ${ROLES.join(', ')}`}\n${usage}`);
    process.exit(2);
  }
  const generated = positionals[0] === undefined;
  const key = positionals[0] ?? generateApiKey();
  const sha256 = hashApiKey(key);
  const entry: { id: string; sha256: string; role: Role; userId?: string } = {
    id: values.id ?? `key-${sha256.slice(0, 8)}`,
    sha256,
    role: values.role as Role,
    ...(values['user-id'] === undefined ? {} : { userId: values['user-id'] }),
  };
  if (generated) console.log(`key (give it to the client; it is not stored anywhere): ${key}`);
  console.log(JSON.stringify(entry));
}
