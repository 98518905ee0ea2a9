/**
 * The gateway's schema as an Apollo Federation v2 subgraph (`FEDERATION=true`): the same SDL and
 * resolvers as the public schema, plus `@key(fields: "id")` on the entity types, `@shareable` on
 * `PageInfo`, `_service { sdl }` and `_entities` (https://www.apollographql.com/docs/graphos/schema-design/federated-schemas/reference/subgraph-spec).
 * `@auth` is applied over all of it, `_entities` included.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { addResolversToSchema } from '@graphql-tools/schema';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { concatAST, GraphQLObjectType, Kind, parse, print, visit, type ConstDirectiveNode, type DocumentNode, type GraphQLSchema } from 'graphql';
import { resolvers } from '../../resolvers/index.ts';
import { applyAuthDirective } from '../security/auth-directive.ts';
import { acceptGlobalIds } from '../global-id-arguments.ts';
import { DEFAULT_MAX_JSON_DEPTH, jsonScalar } from '../json-scalar.ts';
import { loadTypeDefs, type SchemaOptions } from '../schema.ts';
import { ENTITIES, referenceResolvers } from './entities.ts';

/** Federation spec version the SDL links; supported by Apollo's and The Guild's composition. */
const FEDERATION_SPEC = 'https://specs.apollo.dev/federation/v2.3';
/** Our directives: enforced by this gateway, meaningless to a supergraph, so left out of `_service.sdl`. */
const GATEWAY_DIRECTIVES = new Set(['auth', 'cached']);
/**
 * The rules `@auth` reads for federation's root fields and types: `_entities` is open at the root
 * because each entity type's references carry their lookup field's rule (entities.ts), and every
 * field of what it returns keeps its own; `_service` shows the schema, as introspection does.
 */
const FEDERATION_RULES: ReadonlyMap<string, string> = new Map([
  ['_entities', 'PUBLIC'],
  ['_service', 'ANALYST'],
  ['_Service', 'ANALYST'],
]);
const authExtension = (config: { extensions?: Readonly<Record<string, unknown>> | null | undefined }, requires: string) => ({
  ...config.extensions,
  directives: { auth: [{ requires }] },
});

/** The subgraph: its executable schema (`@auth` enforced) and the SDL `_service { sdl }` answers. */
export interface Subgraph {
  schema: GraphQLSchema;
  sdl: string;
}

/** Builds the subgraph from schema/ and resolvers/. */
export function buildSubgraph(options: SchemaOptions = {}, documents: readonly DocumentNode[] = loadTypeDefs()): Subgraph {
  const typeDefs = concatAST([parse(`extend schema @link(url: "${FEDERATION_SPEC}", import: ["@key", "@shareable"])`), ...documents.map(withFederationDirectives)]);
  const sdl = print(withoutGatewayDirectives(typeDefs));
  // Apollo's library supplies the federation types and `_entities`; our resolvers go on with
  // graphql-tools, as for the public schema (scalars, enum values, subscriptions, strict matching).
  const federated = buildSubgraphSchema({ typeDefs });
  const withResolvers = [...resolvers, { JSON: jsonScalar(options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH), Query: { _service: () => ({ sdl }) } }].reduce<GraphQLSchema>(
    (schema, domain) => addResolversToSchema({ schema, resolvers: domain, resolverValidationOptions: { requireResolversToMatchSchema: 'error' } }),
    federated,
  );
  const references = referenceResolvers(withResolvers);
  const withReferences = mapSchema(withResolvers, {
    [MapperKind.OBJECT_TYPE]: (type) => {
      const resolveReference = references.get(type.name);
      const requires = FEDERATION_RULES.get(type.name);
      if (!resolveReference && !requires) return type;
      const config = type.toConfig();
      // `extensions.apollo.subgraph` is where @apollo/subgraph's `_entities` looks for a type's `__resolveReference`.
      const extensions = requires ? authExtension(config, requires) : { ...config.extensions, apollo: { subgraph: { resolveReference } } };
      return new GraphQLObjectType({ ...config, extensions });
    },
    [MapperKind.ROOT_FIELD]: (config, fieldName) => {
      const requires = FEDERATION_RULES.get(fieldName);
      return requires ? { ...config, extensions: authExtension(config, requires) } : config;
    },
  });
  // As the public schema: decoded entity ids before the rules, the rules before the resolvers.
  return { schema: acceptGlobalIds(applyAuthDirective(withReferences)), sdl };
}

/**
 * Value types that Relay-style subgraphs all define alike: shareable, so the company's other
 * subgraphs may define them too (marking them `@shareable` as well).
 */
const SHAREABLE_TYPES: ReadonlySet<string> = new Set(['PageInfo']);

const directive = (name: string, fields?: string): ConstDirectiveNode => ({
  kind: Kind.DIRECTIVE,
  name: { kind: Kind.NAME, value: name },
  arguments: fields === undefined ? [] : [{ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'fields' }, value: { kind: Kind.STRING, value: fields } }],
});
const KEY = directive('key', 'id');
const SHAREABLE = directive('shareable');

/** Adds `@key(fields: "id")` to the definitions of the entity types, `@shareable` to the shareable ones. */
function withFederationDirectives(document: DocumentNode): DocumentNode {
  return visit(document, {
    [Kind.OBJECT_TYPE_DEFINITION]: (node) => {
      const added = ENTITIES.has(node.name.value) ? KEY : SHAREABLE_TYPES.has(node.name.value) ? SHAREABLE : undefined;
      return added ? { ...node, directives: [...(node.directives ?? []), added] } : undefined;
    },
  });
}

/**
 * The SDL without our directives, their definitions and the types only their arguments used
 * (`Role`): a supergraph composes what is left, and another subgraph's `Role` cannot clash with it.
 */
function withoutGatewayDirectives(document: DocumentNode): DocumentNode {
  const argumentTypes = new Set<string>();
  const stripped = visit(document, {
    [Kind.DIRECTIVE]: (node) => (GATEWAY_DIRECTIVES.has(node.name.value) ? null : undefined),
    [Kind.DIRECTIVE_DEFINITION]: (node) => {
      if (!GATEWAY_DIRECTIVES.has(node.name.value)) return undefined;
      visit(node, { [Kind.NAMED_TYPE]: (named) => void argumentTypes.add(named.name.value) });
      return null;
    },
  });
  const used = new Set<string>();
  visit(stripped, { [Kind.NAMED_TYPE]: (named) => void used.add(named.name.value) });
  return {
    ...stripped,
    definitions: stripped.definitions.filter((d) => !('name' in d && d.name && argumentTypes.has(d.name.value) && !used.has(d.name.value))),
  };
}
