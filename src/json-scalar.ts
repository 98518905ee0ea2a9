import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { JSONResolver } from 'graphql-scalars';

/** Default of `MAX_JSON_DEPTH`: objects and arrays a `JSON` argument may nest. */
export const DEFAULT_MAX_JSON_DEPTH = 32;

/**
 * The `JSON` scalar with a nesting limit on input: a value nested deeper than `maxDepth` objects
 * or arrays is refused with BAD_USER_INPUT and the path where it goes too deep, before anything
 * walks it recursively (the contract validator, the publisher's serialiser and graphql-scalars'
 * own literal parser all recurse, and a 100,000-deep value would overflow their stack). The check
 * itself is iterative. Output is not checked: stored values came in through this check.
 */
export function jsonScalar(maxDepth = DEFAULT_MAX_JSON_DEPTH): GraphQLScalarType {
  return new GraphQLScalarType({
    ...JSONResolver.toConfig(),
    parseValue(value) {
      const path = pathTooDeep(value, maxDepth, (v) => children(v));
      if (path) throw tooDeep(maxDepth, path);
      return JSONResolver.parseValue(value);
    },
    parseLiteral(node, variables) {
      const path = pathTooDeep(node, maxDepth, (n) => literalChildren(n));
      if (path) throw tooDeep(maxDepth, path);
      return JSONResolver.parseLiteral(node, variables);
    },
  });
}

/** The path to the first object or array nested deeper than `maxDepth`, or undefined. Iterative. */
function pathTooDeep<T>(root: T, maxDepth: number, childrenOf: (item: T) => [string | number, T][] | undefined): (string | number)[] | undefined {
  // Each entry links to its parent; the path is rebuilt only for the refusal.
  interface Visit {
    item: T;
    depth: number;
    key: string | number;
    parent: Visit | undefined;
  }
  const stack: Visit[] = [{ item: root, depth: 0, key: '', parent: undefined }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const entries = childrenOf(next.item);
    if (!entries) continue;
    if (next.depth + 1 > maxDepth) {
      const path: (string | number)[] = [];
      for (let at: Visit | undefined = next; at?.parent; at = at.parent) path.unshift(at.key);
      return path;
    }
    for (const [key, item] of entries) stack.push({ item, depth: next.depth + 1, key, parent: next });
  }
  return undefined;
}

/** Entries of an object or array value; undefined for anything else. */
function children(value: unknown): [string | number, unknown][] | undefined {
  if (Array.isArray(value)) return value.map((item, i) => [i, item]);
  if (typeof value === 'object' && value !== null) return Object.entries(value);
  return undefined;
}

/** Entries of an object or list literal; undefined for anything else. */
function literalChildren(node: ValueNode): [string | number, ValueNode][] | undefined {
  if (node.kind === Kind.LIST) return node.values.map((item, i) => [i, item]);
  if (node.kind === Kind.OBJECT) return node.fields.map((field) => [field.name.value, field.value]);
  return undefined;
}

function tooDeep(maxDepth: number, path: (string | number)[]): GraphQLError {
  const at = path.length === 0 ? 'at its top' : `at ${path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('').replace(/^\./, '')}`;
  return new GraphQLError(`JSON value nested deeper than ${maxDepth} levels (objects and arrays, MAX_JSON_DEPTH): it goes deeper ${at}.`, {
    extensions: { code: 'BAD_USER_INPUT', maxDepth },
  });
}
