import { isObjectType, type GraphQLSchema } from 'graphql';
import type { GatewayContext } from '../src/context.ts';
import type { Resolvers } from '../src/generated/graphql.ts';
import { encodeGlobalId, isNodeType, requireGlobalId, type NodeType } from '../src/global-id.ts';
import { userInputError } from '../src/errors.ts';
import { authorise, authRuleOf, type AuthRule } from '../src/security/auth-directive.ts';

/**
 * `Query.node` and `Query.nodes` (Relay's global object identification): each id is decoded, its
 * type's access rule checked, and the object loaded through the request's loaders, so `nodes`
 * with many ids of one type is one backend call.
 */

/** How one Node type is loaded, and whose it is. */
interface NodeKind {
  load(ctx: GatewayContext, rawId: string): Promise<object | null> | object | null;
  /**
   * The user an object belongs to, for types that only their own user may read below analyst
   * (as `Query.user(id)` and `Query.events(filter.userId)` require): known from the id itself
   * (checked before loading, so another user's existence is not revealed) or from the object.
   */
  owner?: { ofId: (rawId: string) => string } | { ofObject: (loaded: object) => string };
}

const KINDS: Record<NodeType, NodeKind> = {
  Tour: { load: (ctx, id) => ctx.loaders.tourById.load(id) },
  Destination: { load: (ctx, id) => ctx.loaders.destinationById.load(id) },
  User: {
    load: async (ctx, id) => ((await ctx.loaders.userExists.load(id)) ? { id } : null),
    owner: { ofId: (id) => id },
  },
  Event: {
    load: (ctx, id) => ctx.loaders.eventById.load(id),
    owner: { ofObject: (event) => (event as { userId: string }).userId },
  },
  DataSource: { load: (ctx, id) => ctx.services.registry.byId(id) ?? null },
  PipelineRun: { load: (ctx, id) => ctx.loaders.pipelineRunById.load(id) },
};

/** The Node type of each object `node`/`nodes` returned (rows carry no type of their own). */
const typeOfNode = new WeakMap<object, NodeType>();

/** The rule of reading `type`: its `@auth`, plus ownership where the type has an owner. */
function ruleOf(schema: GraphQLSchema, type: NodeType): AuthRule {
  const object = schema.getType(type);
  if (!isObjectType(object)) throw new Error(`Node type ${type} is not an object type of the schema`);
  const rule = authRuleOf(schema, object, 'id');
  if (!rule) throw new Error(`${type}.id has no @auth rule`);
  return KINDS[type].owner ? { ...rule, ownUser: ['owner'] } : rule;
}

async function resolveNode(value: string, ctx: GatewayContext, schema: GraphQLSchema, argument: string): Promise<object | null> {
  const { type, id } = requireGlobalId(value, argument);
  if (!isNodeType(type)) return null;
  const kind = KINDS[type];
  const rule = ruleOf(schema, type);
  const coordinate = `Query.node (${type})`;
  // The role (and an owner named by the id) before anything is read; an owner held by the object once it is loaded.
  const owner = kind.owner && 'ofId' in kind.owner ? kind.owner.ofId(id) : undefined;
  const denied = authorise(ctx.principal, owner === undefined ? { ...rule, ownUser: undefined } : rule, { owner }, coordinate);
  if (denied) throw denied;
  const loaded = await kind.load(ctx, id);
  if (loaded === null) return null;
  if (kind.owner && 'ofObject' in kind.owner) {
    const notOwner = authorise(ctx.principal, rule, { owner: kind.owner.ofObject(loaded) }, coordinate);
    if (notOwner) throw notOwner;
  }
  typeOfNode.set(loaded, type);
  return loaded;
}

export const nodeResolvers: Resolvers = {
  Query: {
    node: (_, args, ctx, info) => resolveNode(args.id, ctx, info.schema, 'id') as never,
    nodes: (_, args, ctx, info) => {
      const max = ctx.services.config.maxPageSize;
      if (args.ids.length > max) {
        throw userInputError(`Argument "ids" holds ${args.ids.length} ids; at most ${max} are allowed.`, { argumentName: 'ids' });
      }
      // A refused or malformed id fails its own slot, not the list: its item is the error (one
      // promise of the list, not one per item: see src/http/jit-execution.ts).
      return Promise.all(
        args.ids.map((id, i) => resolveNode(id, ctx, info.schema, `ids[${i}]`).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))),
      ) as never;
    },
  },
  Node: {
    __resolveType: (node) => {
      const type = typeOfNode.get(node);
      if (!type) throw new Error('a Node value that node/nodes did not load');
      return type;
    },
  },
  Tour: { id: (tour) => encodeGlobalId('Tour', tour.id), tourId: (tour) => tour.id },
  Destination: { id: (destination) => encodeGlobalId('Destination', destination.id), destinationId: (destination) => destination.id },
  User: { id: (user) => encodeGlobalId('User', user.id), userId: (user) => user.id },
  Event: { id: (event) => encodeGlobalId('Event', event.id), eventId: (event) => event.id },
  DataSource: { id: (source) => encodeGlobalId('DataSource', source.sourceId), sourceId: (source) => source.sourceId },
  PipelineRun: { id: (run) => encodeGlobalId('PipelineRun', run.id), runId: (run) => run.id },
};
