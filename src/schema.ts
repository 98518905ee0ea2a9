import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { GraphQLScalarType, Kind, type DocumentNode, type GraphQLSchema, parse } from 'graphql';
import { resolvers } from '../resolvers/index.ts';
import { DEFAULT_MAX_JSON_DEPTH, jsonScalar } from './json-scalar.ts';
import { acceptGlobalIds } from './global-id-arguments.ts';
import { applyAuthDirective } from './security/auth-directive.ts';

/** The schema/ directory: one SDL file per domain, the API's contract. */
export const SCHEMA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'schema');

/** The SDL of every file in schema/, in file-name order. */
export function loadTypeDefs(dir = SCHEMA_DIR): DocumentNode[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => parse(readFileSync(path.join(dir, file), 'utf8')));
}

/** Options of {@link buildSchema}. */
export interface SchemaOptions {
  /** Objects and arrays a `JSON` argument may nest (MAX_JSON_DEPTH). Default 32; deeper is BAD_USER_INPUT. */
  maxJsonDepth?: number;
}

/**
 * The executable schema: SDL from schema/ with the resolvers of resolvers/, `@auth` enforced, and
 * entity-id arguments decoded from global ids before the rules and resolvers see them.
 */
export function buildSchema(options: SchemaOptions = {}): GraphQLSchema {
  const executable = makeExecutableSchema({
    typeDefs: loadTypeDefs(),
    resolvers: [...resolvers, { JSON: jsonScalar(options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH) }],
    resolverValidationOptions: { requireResolversToMatchSchema: 'error' },
  });
  return acceptGlobalIds(applyAuthDirective(withSdlDescriptions(executable)));
}

/**
 * Scalars described as in our SDL: a scalar implementation (graphql-scalars) brings its own
 * description, which introspection would serve instead of the SDL's. The SDL is the contract.
 */
function withSdlDescriptions(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.SCALAR_TYPE]: (type) => {
      const description = type.astNode?.description?.value;
      return description === undefined || description === type.description ? type : new GraphQLScalarType({ ...type.toConfig(), description });
    },
  });
}

/** `@cached(maxAge)` of each root query field, in seconds (fields without it are never cached). */
export function rootCachePolicies(schema: GraphQLSchema): ReadonlyMap<string, number> {
  const policies = new Map<string, number>();
  for (const field of Object.values(schema.getQueryType()?.getFields() ?? {})) {
    const directive = field.astNode?.directives?.find((d) => d.name.value === 'cached');
    const maxAge = directive?.arguments?.find((a) => a.name.value === 'maxAge')?.value;
    if (maxAge?.kind === Kind.INT) policies.set(field.name, Number(maxAge.value));
  }
  return policies;
}
