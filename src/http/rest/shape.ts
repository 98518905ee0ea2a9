/**
 * The shape of a REST route's answer, read from its GraphQL operation at start-up: which keys the
 * `data` holds (aliases included), which are lists, enums or nullable. It checks the route's body
 * selectors, reshapes answers (enum values lower-case, as the platform's apps send and read them)
 * and becomes the OpenAPI response schema.
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLInputType,
  type GraphQLOutputType,
  type SelectionSetNode,
} from 'graphql';

/** What a key of the answer holds. */
export type Shape =
  | { kind: 'scalar'; type: string; nullable: boolean; description?: string | undefined }
  | { kind: 'enum'; values: readonly string[]; nullable: boolean }
  | { kind: 'list'; of: Shape; nullable: boolean }
  | { kind: 'object'; fields: Readonly<Record<string, Shape>>; nullable: boolean };

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = Record<string, unknown>;

/** A body selector: a path into the answer's data, `[]` after a key mapping over its list. */
export type BodySelector = string | Readonly<Record<string, string>>;

/** The shape of `selectionSet` on `type`, fragments spread from `fragments`. */
export function shapeOf(type: GraphQLOutputType, selectionSet: SelectionSetNode | undefined, fragments: ReadonlyMap<string, FragmentDefinitionNode>): Shape {
  const nullable = !isNonNullType(type);
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) return { kind: 'list', of: shapeOf(inner.ofType as GraphQLOutputType, selectionSet, fragments), nullable };
  if (isEnumType(inner)) return { kind: 'enum', values: inner.getValues().map((v) => v.name.toLowerCase()), nullable };
  if (isScalarType(inner)) return { kind: 'scalar', type: inner.name, nullable };
  if (!isObjectType(inner) && !isInterfaceType(inner)) throw new Error(`${inner.name} is a union: REST answers select object fields only`);
  const fields: Record<string, Shape> = {};
  const collect = (set: SelectionSetNode): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const key = selection.alias?.value ?? name;
        if (name === '__typename') {
          fields[key] = { kind: 'scalar', type: 'String', nullable: false };
          continue;
        }
        const field = inner.getFields()[name];
        if (!field) throw new Error(`${inner.name} has no field ${name}`);
        fields[key] = shapeOf(field.type, selection.selectionSet, fragments);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment) throw new Error(`unknown fragment ${selection.name.value}`);
        collect(fragment.selectionSet);
      }
    }
  };
  if (selectionSet) collect(selectionSet);
  return { kind: 'object', fields, nullable };
}

/** The shape a selector picks out of `shape`; throws naming the first key that is not there. */
export function selectShape(shape: Shape, selector: string): Shape {
  let current = shape;
  let nullable = false;
  let lists = 0;
  for (const segment of selector.split('.')) {
    const many = segment.endsWith('[]');
    const key = many ? segment.slice(0, -2) : segment;
    if (current.kind !== 'object') throw new Error(`"${selector}": "${key}" is read from a value without fields`);
    const child = current.fields[key];
    if (!child) throw new Error(`"${selector}": the operation selects no "${key}" there (it has ${Object.keys(current.fields).join(', ') || 'none'})`);
    nullable ||= current.nullable;
    if (many) {
      if (child.kind !== 'list') throw new Error(`"${selector}": "${key}" is not a list, so "[]" cannot follow it`);
      nullable ||= child.nullable;
      current = child.of;
      lists += 1;
    } else {
      current = child;
    }
  }
  let result: Shape = { ...current, nullable: current.nullable || (lists === 0 && nullable) };
  for (let i = 0; i < lists; i += 1) result = { kind: 'list', of: result, nullable };
  return result;
}

/** The shape of a route's body. */
export function bodyShape(data: Shape, body: BodySelector): Shape {
  if (typeof body === 'string') return selectShape(data, body);
  const fields: Record<string, Shape> = {};
  for (const [key, selector] of Object.entries(body)) fields[key] = selectShape(data, selector);
  return { kind: 'object', fields, nullable: false };
}

/** Applies a body selector to the answer's data (already reshaped). */
export function selectBody(data: unknown, body: BodySelector): unknown {
  if (typeof body === 'string') return select(data, body.split('.'));
  const out: Record<string, unknown> = {};
  for (const [key, selector] of Object.entries(body)) out[key] = select(data, selector.split('.'));
  return out;
}

function select(value: unknown, segments: readonly string[]): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (value === null || typeof value !== 'object') return null;
  const many = head.endsWith('[]');
  const child = (value as Record<string, unknown>)[many ? head.slice(0, -2) : head];
  if (!many) return select(child ?? null, rest);
  return Array.isArray(child) ? child.map((item) => select(item, rest)) : null;
}

/** The answer as REST clients read it: enum values lower-case (`BOOKING` → `booking`). */
export function restValue(value: unknown, shape: Shape): unknown {
  if (value === null || value === undefined) return value ?? null;
  switch (shape.kind) {
    case 'enum':
      return typeof value === 'string' ? value.toLowerCase() : value;
    case 'list':
      return Array.isArray(value) ? value.map((item) => restValue(item, shape.of)) : value;
    case 'object': {
      if (typeof value !== 'object') return value;
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = shape.fields[key] ? restValue(item, shape.fields[key]) : item;
      return out;
    }
    case 'scalar':
      return value;
  }
}

/** JSON Schema of a shape. */
export function schemaOfShape(shape: Shape): JsonSchema {
  switch (shape.kind) {
    case 'scalar':
      return nullableSchema(scalarSchema(shape.type), shape.nullable);
    case 'enum':
      return { type: shape.nullable ? ['string', 'null'] : 'string', enum: shape.nullable ? [...shape.values, null] : [...shape.values] };
    case 'list':
      return nullableSchema({ type: 'array', items: schemaOfShape(shape.of) }, shape.nullable);
    case 'object': {
      const properties: Record<string, JsonSchema> = {};
      for (const [key, field] of Object.entries(shape.fields)) properties[key] = schemaOfShape(field);
      return nullableSchema({ type: 'object', properties, required: Object.keys(properties) }, shape.nullable);
    }
  }
}

/** JSON Schema of a GraphQL input type as REST clients send it (enum values in any case; lower-case shown). */
export function schemaOfInput(type: GraphQLInputType): JsonSchema {
  const nullable = !isNonNullType(type);
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) return nullableSchema({ type: 'array', items: schemaOfInput(inner.ofType as GraphQLInputType) }, nullable);
  if (isEnumType(inner)) return { type: 'string', enum: inner.getValues().map((v) => v.name.toLowerCase()) };
  if (isInputObjectType(inner)) {
    const properties: Record<string, JsonSchema> = {};
    for (const field of Object.values(inner.getFields())) properties[field.name] = schemaOfInput(field.type);
    return nullableSchema({ type: 'object', properties }, nullable);
  }
  return nullableSchema(scalarSchema(getNamedType(inner).name), nullable);
}

function scalarSchema(name: string): JsonSchema {
  switch (name) {
    case 'Int':
      return { type: 'integer' };
    case 'Float':
      return { type: 'number' };
    case 'Boolean':
      return { type: 'boolean' };
    case 'String':
    case 'ID':
      return { type: 'string' };
    case 'DateTime':
      return { type: 'string', format: 'date-time' };
    default:
      // JSON and other custom scalars: any value.
      return {};
  }
}

function nullableSchema(schema: JsonSchema, nullable: boolean): JsonSchema {
  if (!nullable) return schema;
  const type = schema['type'];
  if (typeof type === 'string') return { ...schema, type: [type, 'null'] };
  return schema;
}
