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

/** Page size of a connection when the client gives neither `first` nor `last`. */
export const DEFAULT_PAGE_SIZE = 20;

/** Validates a connection's `first` (or `last`, named by `argument`) against the configured maximum. */
export function pageSize(first: number | null | undefined, max: number, fallback = DEFAULT_PAGE_SIZE, argument = 'first'): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > max) {
    throw userInputError(`Argument "${argument}" must be an integer between 0 and ${max}, got ${size}.`, {
      argumentName: argument,
    });
  }
  return size;
}

/** Relay's connection arguments (https://relay.dev/graphql/connections.htm#sec-Arguments). */
export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/**
 * Which slice of a connection to read: `size` items next to `cursor` (exclusive; none: from the
 * start), forward in the connection's order (`first`/`after`) or backward (`last`/`before`).
 */
export interface PageWindow {
  size: number;
  backward: boolean;
  cursor: string | null;
  /** The argument the cursor came from, for errors: `after` or `before`. */
  cursorArgument: 'after' | 'before';
}

/**
 * The window a connection's arguments ask for. Forward with neither; mixing the directions
 * (`first` or `after` with `last` or `before`) is BAD_USER_INPUT.
 */
export function pageWindow(args: ConnectionArgs, max: number, fallback = DEFAULT_PAGE_SIZE): PageWindow {
  const forward = args.first != null || args.after != null;
  const backward = args.last != null || args.before != null;
  if (forward && backward) {
    const given = (['first', 'after', 'last', 'before'] as const).filter((name) => args[name] != null).map((name) => `"${name}"`);
    throw userInputError(
      `Page forward with "first"/"after" or backward with "last"/"before", not both; got ${given.join(', ')}.`,
      { argumentName: args.last != null ? 'last' : 'before' },
    );
  }
  if (backward) return { size: pageSize(args.last, max, fallback, 'last'), backward: true, cursor: args.before ?? null, cursorArgument: 'before' };
  return { size: pageSize(args.first, max, fallback), backward: false, cursor: args.after ?? null, cursorArgument: 'after' };
}
