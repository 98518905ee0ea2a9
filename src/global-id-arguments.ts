/**
 * Arguments that name an entity accept its raw key or its global id (src/global-id.ts); this
 * transform decodes them to raw keys before anything else sees them (the `@auth` ownership checks
 * included), so resolvers, loaders and filters only ever handle raw keys.
 *
 * Which arguments name which type: an `id` argument of a field returning a Node type (`tour(id:)`),
 * and ID-typed arguments or input fields named after a type's key (`tourId`, `tourIds`,
 * `destinationId`, `userId`, `eventId`, `sourceId`, `runId`), at any depth of input objects and lists.
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { decodeGlobalId, isNodeType, type NodeType } from './global-id.ts';

/** Argument and input-field names that hold the key of a Node type. */
const KEY_NAMES: Readonly<Record<string, NodeType>> = {
  tourId: 'Tour',
  tourIds: 'Tour',
  destinationId: 'Destination',
  userId: 'User',
  eventId: 'Event',
  sourceId: 'DataSource',
  runId: 'PipelineRun',
};

/** Arguments whose name does not say their type: `Mutation.ingestRecords(source:)` takes a data source. */
const NAMED_ARGUMENTS: Readonly<Record<string, NodeType>> = {
  'Mutation.ingestRecords.source': 'DataSource',
};

type Decoder = (value: unknown) => unknown;

/** Wraps the resolvers (and `subscribe`) of every field with an entity-id argument to decode it first. */
export function acceptGlobalIds(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      const returned = getNamedType(config.type);
      const decoders: [string, Decoder][] = [];
      for (const [name, arg] of Object.entries(config.args ?? {})) {
        const target =
          NAMED_ARGUMENTS[`${typeName}.${fieldName}.${name}`] ??
          (name === 'id' && isObjectType(returned) && isNodeType(returned.name) ? returned.name : KEY_NAMES[name]);
        const decoder = decoderOf(arg.type, target, name, new Set());
        if (decoder) decoders.push([name, decoder]);
      }
      if (decoders.length === 0) return config;
      const decoded = <T>(inner: GraphQLFieldResolver<unknown, unknown, T> | undefined): GraphQLFieldResolver<unknown, unknown, T> | undefined =>
        inner &&
        ((source, args, context, info) => {
          const next: Record<string, unknown> = { ...(args as Record<string, unknown>) };
          for (const [name, decoder] of decoders) if (next[name] != null) next[name] = decoder(next[name]);
          return inner(source, next as T, context, info);
        });
      // A subscription's `resolve` only maps each event: its arguments were decoded for `subscribe`.
      return config.subscribe ? { ...config, subscribe: decoded(config.subscribe) } : { ...config, resolve: decoded(config.resolve) };
    },
  });
}

/** How to decode a value of `type` whose ids (if `target` is set) name that Node type; undefined when nothing in it needs decoding. */
function decoderOf(type: GraphQLInputType, target: NodeType | undefined, path: string, seen: Set<string>): Decoder | undefined {
  if (isNonNullType(type)) return decoderOf(type.ofType, target, path, seen);
  if (isListType(type)) {
    const item = decoderOf(type.ofType, target, path, seen);
    return item && ((value) => (Array.isArray(value) ? value.map((v: unknown) => (v == null ? v : item(v))) : item(value)));
  }
  if (isInputObjectType(type)) {
    if (seen.has(type.name)) return undefined;
    const inner = new Set(seen).add(type.name);
    const fields: [string, Decoder][] = [];
    for (const field of Object.values(type.getFields())) {
      const decoder = decoderOf(field.type, KEY_NAMES[field.name], `${path}.${field.name}`, inner);
      if (decoder) fields.push([field.name, decoder]);
    }
    if (fields.length === 0) return undefined;
    return (value) => {
      if (typeof value !== 'object' || value === null) return value;
      const next: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const [name, decoder] of fields) if (next[name] != null) next[name] = decoder(next[name]);
      return next;
    };
  }
  if (target === undefined || type.name !== 'ID') return undefined;
  return (value) => decodeGlobalId(String(value), target, path);
}
