/**
 * The entities Nexus contributes to a company supergraph: the types a client refetches by id.
 * Each resolves its references through the request's loaders (so one `_entities` request with many
 * representations of a type is one backend call) and is allowed exactly where the root field that
 * reads it by id is: `_entities` reaches no data that the public API would refuse.
 */
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { GatewayContext } from '../context.ts';
import { decodeGlobalId, type NodeType } from '../global-id.ts';
import { authorise, authRuleOf, type AuthRule } from '../security/auth-directive.ts';

/** An entity type: the root field whose `@auth` rule guards its references, and how one is loaded. */
interface EntitySpec {
  /** Root query field that reads this type by id; its rule (ownership included) applies to every reference. */
  readonly lookup: string;
  /** The entity with this raw id, or null when none has it (batched by the request's loaders). */
  load(id: string, ctx: GatewayContext): Promise<object | null> | object | null;
  /** The lookup field's arguments a reference stands for, for the rule's ownership check. Default `{ id }`. */
  argsOf?(entity: object): Record<string, unknown>;
}

const copyOf = <T extends object>(row: T | null): T | null => (row === null ? null : { ...row });

/** Entity types by name, each with `@key(fields: "id")` in the subgraph SDL. */
export const ENTITIES: ReadonlyMap<string, EntitySpec> = new Map(
  Object.entries({
    // Copies: the subgraph library marks what it returns with `__typename`, and catalogue rows are shared (and frozen).
    Tour: { lookup: 'tour', load: async (id, ctx) => copyOf(await ctx.loaders.tourById.load(id)) },
    Destination: { lookup: 'destination', load: async (id, ctx) => copyOf(await ctx.loaders.destinationById.load(id)) },
    User: { lookup: 'user', load: async (id, ctx) => ((await ctx.loaders.userExists.load(id)) ? { id } : null) },
    // An app may read only its own user's events, as with `events(filter: { userId })`.
    Event: {
      lookup: 'events',
      load: (id, ctx) => ctx.loaders.eventById.load(id),
      argsOf: (event) => ({ filter: { userId: (event as { userId: string }).userId } }),
    },
    // The registry is in memory: no backend call. A copy: the subgraph library marks what it returns with `__typename`.
    DataSource: {
      lookup: 'platform',
      load: (id, ctx) => {
        const source = ctx.services.registry.sources.find((s) => s.sourceId === id);
        return source ? { ...source } : null;
      },
    },
    PipelineRun: { lookup: 'platform', load: (id, ctx) => ctx.loaders.pipelineRunById.load(id) },
  } satisfies Record<string, EntitySpec>),
);

/**
 * The raw id (the lakehouse key) an entity representation's `id` stands for. The one place where
 * the supergraph's key meets our storage keys: with opaque global ids, decode them here.
 */
export function rawIdOf(typeName: string, representation: Readonly<Record<string, unknown>>): string {
  const id = representation['id'];
  if (typeof id !== 'string' || id === '') {
    throw new GraphQLError(`A ${typeName} representation needs its key "id" as a non-empty string; it has ${JSON.stringify(id) ?? 'none'}.`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  // The key is the type's global id (its `id` field); a raw key is accepted too, as arguments do.
  return decodeGlobalId(id, typeName as NodeType, 'representations.id');
}

/** Resolves one entity representation to its object, or null when no entity has its key. */
export type ReferenceResolver = (representation: Record<string, unknown>, ctx: GatewayContext) => Promise<object | null>;

/** A `__resolveReference` per entity type, checking its lookup field's rule as read from `schema`. */
export function referenceResolvers(schema: GraphQLSchema): Map<string, ReferenceResolver> {
  const query = schema.getQueryType();
  if (!query) throw new Error('the subgraph schema has no Query type');
  const resolvers = new Map<string, ReferenceResolver>();
  for (const [typeName, spec] of ENTITIES) {
    const rule = authRuleOf(schema, query, spec.lookup);
    if (!rule) throw new Error(`Query.${spec.lookup}, the lookup of ${typeName} entities, has no @auth rule`);
    resolvers.set(typeName, resolveReference(typeName, spec, rule));
  }
  return resolvers;
}

function resolveReference(typeName: string, spec: EntitySpec, rule: AuthRule): ReferenceResolver {
  const coordinate = `_entities(${typeName})`;
  // Everything the key alone decides is checked before anything is read (so whether an id exists
  // is not told to a caller who may not read it); ownership named by the entity once it is loaded.
  const before: AuthRule = spec.argsOf ? { ...rule, ownUser: undefined, actingUser: undefined } : rule;
  const { argsOf } = spec;
  return async (representation, ctx) => {
    const id = rawIdOf(typeName, representation);
    const refused = authorise(ctx.principal, before, { id }, coordinate);
    if (refused) throw refused;
    // Called before any await: every reference of one `_entities` request joins the same loader batch.
    const entity = await spec.load(id, ctx);
    if (entity === null || !argsOf) return entity;
    const denied = authorise(ctx.principal, rule, argsOf(entity), coordinate);
    if (denied) throw denied;
    return entity;
  };
}
