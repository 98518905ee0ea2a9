import { userInputError } from './errors.ts';

/**
 * Relay global object identification (https://relay.dev/graphql/objectidentification.htm).
 *
 * `id` of every `Node` type is opaque and stable: base64url (no padding) of `<Type>:<raw id>`,
 * e.g. `VG91cjpUT1VSMDAwMQ` for tour `TOUR0001`. The raw key stays readable in a field of its own
 * (`Tour.tourId`, `Destination.destinationId`, ...). Arguments naming an entity accept either form
 * (src/global-id-arguments.ts decodes them), so clients holding raw ids keep working.
 */

/** Types a client can refetch with `node(id:)`. */
export const NODE_TYPES = ['Tour', 'Destination', 'User', 'Event', 'DataSource', 'PipelineRun'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** A decoded global id; `type` may name a type this gateway does not serve (a foreign id). */
export interface GlobalId {
  type: string;
  id: string;
}

const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isNodeType(name: string): name is NodeType {
  return (NODE_TYPES as readonly string[]).includes(name);
}

/** The global id of the object of `type` whose raw key is `rawId`. */
export function encodeGlobalId(type: NodeType, rawId: string): string {
  return Buffer.from(`${type}:${rawId}`, 'utf8').toString('base64url');
}

/**
 * `value` read as a global id, or null when it is not one: not canonical base64url, not UTF-8,
 * or not `<TypeName>:<id>`. Raw ids of this platform (`TOUR0001`, `USER000001`, UUIDs, source
 * names) are never canonical encodings of such a text.
 */
export function parseGlobalId(value: string): GlobalId | null {
  if (value.length === 0) return null;
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.toString('base64url') !== value) return null;
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').toString('base64url') !== value) return null;
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) return null;
  const type = text.slice(0, colon);
  return TYPE_NAME.test(type) ? { type, id: text.slice(colon + 1) } : null;
}

/**
 * The raw key named by `value`, a raw id or a global id of `expectedType`. A global id of another
 * Node type is BAD_USER_INPUT (naming `argument`): it cannot name an object of this type.
 */
export function decodeGlobalId(value: string, expectedType: NodeType, argument = 'id'): string {
  const parsed = parseGlobalId(value);
  if (parsed === null || !isNodeType(parsed.type)) return value;
  if (parsed.type !== expectedType) {
    throw userInputError(`Argument "${argument}" must be the id of a ${expectedType}; "${value.slice(0, 64)}" is the id of a ${parsed.type}.`, {
      argumentName: argument,
    });
  }
  return parsed.id;
}

/**
 * A `node(id:)` argument: the global id it holds (of any type name), or BAD_USER_INPUT when the
 * value is not a global id at all (a raw id cannot say which type it names).
 */
export function requireGlobalId(value: string, argument = 'id'): GlobalId {
  const parsed = parseGlobalId(value);
  if (parsed === null) {
    throw userInputError(
      `Argument "${argument}" must be a global object id (the \`id\` of a Node, e.g. "${encodeGlobalId('Tour', 'TOUR0001')}"); got "${value.slice(0, 64)}".`,
      { argumentName: argument },
    );
  }
  return parsed;
}
