import { userInputError } from './errors.ts';

/**
 * Opaque Relay cursors: base64url of a JSON array of the sort key. Clients must not build them;
 * a cursor that does not decode to the expected shape is BAD_USER_INPUT.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Decodes a cursor made by `encodeCursor` whose elements have the given types. */
export function decodeCursor<T extends readonly ('string' | 'number')[]>(
  cursor: string,
  shape: T,
  argument = 'after',
): { [K in keyof T]: T[K] extends 'number' ? number : string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== shape.length ||
    parsed.some((value, i) => typeof value !== shape[i])
  ) {
    throw userInputError(`Argument "${argument}" is not a cursor this list produced: "${cursor.slice(0, 64)}".`, {
      argumentName: argument,
    });
  }
  return parsed as { [K in keyof T]: T[K] extends 'number' ? number : string };
}

/** Validates a connection's `first` against the configured maximum. */
export function pageSize(first: number | null | undefined, max: number, fallback = 20): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > max) {
    throw userInputError(`Argument "first" must be an integer between 0 and ${max}, got ${size}.`, {
      argumentName: 'first',
    });
  }
  return size;
}
