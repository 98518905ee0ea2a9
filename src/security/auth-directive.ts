/**
 * Role-based authorisation from the schema: `@auth(requires: ROLE)` on object types and fields,
 * enforced here and nowhere else. A field's rule is its own `@auth`, else its type's; root fields
 * (Query, Mutation, Subscription) must carry their own. A field without any rule is admin-only
 * (deny by default), and test/auth-schema.test.ts fails while one exists.
 *
 * An object returned through an interface or union (`Query.node`) is checked against its own
 * type's rule once its type is known, so an abstract field never hands out what the concrete
 * type's fields would refuse.
 *
 * Ownership, for roles below analyst:
 * - `ownUser: "id"` names the argument (dotted path, through lists) that says whose data is read:
 *   it must be the principal's own user (`Principal.userId`);
 * - `actingUser: "input.userId"` names the user an action is done for: a principal acting for a
 *   user (JWT subject, key with `userId`) may act only for that user (every value at the path must
 *   be it; an item naming no user is refused too); one acting for no user (a service key) may act
 *   for any.
 */
import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  defaultTypeResolver,
  getNamedType,
  GraphQLError,
  GraphQLInterfaceType,
  GraphQLUnionType,
  isAbstractType,
  isInterfaceType,
  isObjectType,
  type GraphQLTypeResolver,
  type GraphQLField,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { ROLES, roleAtLeast, type Principal, type Role } from './principal.ts';

/** The rule that applies to one field. */
export interface AuthRule {
  requires: Role;
  /** Argument path that must name the principal's own user (below analyst). */
  ownUser: readonly string[] | undefined;
  /** Argument path naming the user acted for; must be the principal's user when it has one (below analyst). */
  actingUser: readonly string[] | undefined;
  /** `field`: its own `@auth`; `type`: inherited from its object type; `default`: none found, admin only. */
  from: 'field' | 'type' | 'default';
}

/** What a resolver's context must carry for the checks. */
export interface AuthContext {
  principal: Principal;
}

const DIRECTIVE = 'auth';
const DENY: AuthRule = Object.freeze({ requires: 'admin', ownUser: undefined, actingUser: undefined, from: 'default' });

/**
 * The rule of `type.field` as written in the schema, or undefined when it has none (a root field
 * without `@auth`, or a field of a type without `@auth`).
 */
export function authRuleOf(schema: GraphQLSchema, type: GraphQLObjectType, fieldName: string): AuthRule | undefined {
  const field = type.getFields()[fieldName];
  if (!field) throw new Error(`${type.name} has no field ${fieldName}`);
  const own = readDirective(schema, field, `${type.name}.${fieldName}`);
  if (own) {
    checkPaths(field, own, `${type.name}.${fieldName}`);
    return { ...own, from: 'field' };
  }
  if (isRootType(schema, type)) return undefined;
  const inherited = readDirective(schema, type, type.name);
  if (!inherited) return undefined;
  return { ...inherited, from: 'type' };
}

/**
 * Wraps the resolvers (for subscription fields, the `subscribe` functions) of every field a caller
 * could reach with less than the field's role, so the rule is checked before anything runs.
 * Fields that every path to them already guards (e.g. the fields of `Platform`, reachable only
 * through the analyst-only `Query.platform`) are left as they are: they cost nothing per row.
 * Throws on a misplaced directive (on a root type, or ownership paths naming no argument).
 */
export function applyAuthDirective(schema: GraphQLSchema): GraphQLSchema {
  for (const root of rootTypes(schema)) {
    if (readDirective(schema, root, root.name)) throw new Error(`@auth on root type ${root.name}: put it on each of its fields instead`);
  }
  const rules = new Map<string, AuthRule>();
  const typeRules = new Map<string, AuthRule>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const typeRule = readDirective(schema, type, type.name);
    if (typeRule && (typeRule.ownUser || typeRule.actingUser)) throw new Error(`@auth on type ${type.name}: ownUser and actingUser belong on fields`);
    typeRules.set(type.name, typeRule ? { ...typeRule, from: 'type' } : DENY);
    for (const name of Object.keys(type.getFields())) rules.set(`${type.name}.${name}`, authRuleOf(schema, type, name) ?? DENY);
  }
  const reach = reachRoles(schema, rules, typeRules);
  const subscriptionType = schema.getSubscriptionType()?.name;

  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      const coordinate = `${typeName}.${fieldName}`;
      const rule = rules.get(coordinate) ?? DENY;
      const reachedBy = reach.get(typeName);
      const guarded = reachedBy !== undefined && roleAtLeast(reachedBy, rule.requires) && !rule.ownUser && !rule.actingUser;
      if (guarded) return config;
      if (typeName === subscriptionType && config.subscribe) return { ...config, subscribe: checked(config.subscribe, rule, coordinate) };
      return { ...config, resolve: checked(config.resolve ?? defaultFieldResolver, rule, coordinate) };
    },
    [MapperKind.ABSTRACT_TYPE]: (type) => {
      const resolveType = checkedType(type.resolveType ?? defaultTypeResolver, typeRules);
      return isInterfaceType(type) ? new GraphQLInterfaceType({ ...type.toConfig(), resolveType }) : new GraphQLUnionType({ ...type.toConfig(), resolveType });
    },
  });
}

/**
 * Why `principal` may not use the field (an UNAUTHENTICATED error for anonymous callers, FORBIDDEN
 * otherwise), or undefined when it may.
 */
export function authorise(principal: Principal, rule: AuthRule, args: Readonly<Record<string, unknown>>, coordinate: string): GraphQLError | undefined {
  if (!roleAtLeast(principal.role, rule.requires)) {
    return denial(principal, `${coordinate} requires the ${rule.requires} role; this request has the ${principal.role} role.`);
  }
  if (roleAtLeast(principal.role, 'analyst')) return undefined;
  if (rule.ownUser) {
    if (principal.userId === null) return denial(principal, `${coordinate} serves a user's own data, and this ${principal.role} credential acts for no user.`);
    const named = valuesAt(args, rule.ownUser);
    const other = named.findIndex((value) => value !== principal.userId);
    if (named.length === 0 || other >= 0) {
      return denial(principal, `${coordinate} serves only your own user's data: ${rule.ownUser.join('.')} must be "${principal.userId}", ${shown(named[other])}.`);
    }
  }
  if (rule.actingUser && principal.userId !== null) {
    const named = valuesAt(args, rule.actingUser);
    const other = named.findIndex((value) => value !== principal.userId);
    if (other >= 0) {
      return denial(principal, `${coordinate} may act only for your own user: ${rule.actingUser.join('.')} must be "${principal.userId}", ${shown(named[other])}.`);
    }
  }
  return undefined;
}

/**
 * What an answer may depend on besides the request itself: the role, and below analyst the user
 * (ownership rules). Response-cache keys and shared subscriptions are partitioned by it.
 */
export function answerScope(principal: Principal): string {
  return roleAtLeast(principal.role, 'analyst') ? principal.role : `${principal.role}:${principal.userId ?? ''}`;
}

function checked<TArgs>(inner: GraphQLFieldResolver<unknown, unknown, TArgs>, rule: AuthRule, coordinate: string): GraphQLFieldResolver<unknown, unknown, TArgs> {
  return (source, args, context, info) => {
    // A context without a principal is treated as anonymous: fail closed.
    const principal = (context as Partial<AuthContext> | undefined)?.principal ?? ANONYMOUS;
    const denied = authorise(principal, rule, args as Record<string, unknown>, coordinate);
    if (denied) throw denied;
    return inner(source, args, context, info);
  };
}

/** A type resolver that refuses a concrete type whose own rule the principal does not meet. */
function checkedType(inner: GraphQLTypeResolver<unknown, unknown>, typeRules: ReadonlyMap<string, AuthRule>): GraphQLTypeResolver<unknown, unknown> {
  const check = (name: string | undefined, context: unknown): string | undefined => {
    if (name === undefined) return name;
    const principal = (context as Partial<AuthContext> | undefined)?.principal ?? ANONYMOUS;
    const denied = authorise(principal, typeRules.get(name) ?? DENY, {}, name);
    if (denied) throw denied;
    return name;
  };
  return (value, context, info, abstractType) => {
    const name = inner(value, context, info, abstractType);
    return name instanceof Promise ? name.then((resolved) => check(resolved, context)) : check(name, context);
  };
}

const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: 'anonymous:unknown', role: 'public', userId: null });

function denial(principal: Principal, message: string): GraphQLError {
  if (principal.kind === 'anonymous') {
    return new GraphQLError(`${message} Authenticate with an API key (x-api-key) or a bearer token.`, { extensions: { code: 'UNAUTHENTICATED' } });
  }
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}

/**
 * Every value at `path` in the arguments, descending through lists (`inputs.userId`: one value per
 * input); an absent or null value counts as `undefined`, so it never passes for a user.
 */
function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  if (Array.isArray(value)) return value.flatMap((item: unknown) => valuesAt(item, path));
  const [head, ...rest] = path;
  if (head === undefined) return [value ?? undefined];
  if (typeof value !== 'object' || value === null) return [undefined];
  return valuesAt((value as Record<string, unknown>)[head], rest);
}

function shown(value: unknown): string {
  return value === undefined ? 'and it is not set' : `not ${JSON.stringify(value)}`;
}

/**
 * For each object type, the least role with which a query can obtain an object of it: public for
 * the root types, then along every field, the higher of the parent's role and the field's rule
 * (through an interface or union, also of the concrete type's own rule, which `checkedType` enforces).
 */
function reachRoles(schema: GraphQLSchema, rules: ReadonlyMap<string, AuthRule>, typeRules: ReadonlyMap<string, AuthRule>): Map<string, Role> {
  const reach = new Map<string, Role>();
  const pending: GraphQLObjectType[] = [];
  const lower = (type: GraphQLObjectType, role: Role) => {
    const known = reach.get(type.name);
    if (known === undefined || ROLES.indexOf(role) < ROLES.indexOf(known)) {
      reach.set(type.name, role);
      pending.push(type);
    }
  };
  for (const root of rootTypes(schema)) lower(root, 'public');
  for (let type = pending.pop(); type; type = pending.pop()) {
    const parentRole = reach.get(type.name) ?? 'public';
    for (const field of Object.values(type.getFields())) {
      const rule = rules.get(`${type.name}.${field.name}`) ?? DENY;
      const role = roleAtLeast(parentRole, rule.requires) ? parentRole : rule.requires;
      const named = getNamedType(field.type);
      if (isObjectType(named)) lower(named, role);
      if (!isAbstractType(named)) continue;
      for (const target of schema.getPossibleTypes(named)) {
        const own = (typeRules.get(target.name) ?? DENY).requires;
        lower(target, roleAtLeast(role, own) ? role : own);
      }
    }
  }
  return reach;
}

function rootTypes(schema: GraphQLSchema): GraphQLObjectType[] {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter((t): t is GraphQLObjectType => t != null);
}

function isRootType(schema: GraphQLSchema, type: GraphQLObjectType): boolean {
  return rootTypes(schema).some((root) => root.name === type.name);
}

type Annotated = GraphQLObjectType | GraphQLField<unknown, unknown> | GraphQLFieldConfig<unknown, unknown>;

function readDirective(schema: GraphQLSchema, node: Annotated, where: string): Omit<AuthRule, 'from'> | undefined {
  const directive = getDirective(schema, node, DIRECTIVE)?.[0];
  if (!directive) return undefined;
  const requires = String(directive['requires']).toLowerCase();
  if (!(ROLES as readonly string[]).includes(requires)) throw new Error(`@auth on ${where}: unknown role ${String(directive['requires'])}`);
  const path = (name: string): readonly string[] | undefined => {
    const value: unknown = directive[name];
    return typeof value === 'string' && value !== '' ? Object.freeze(value.split('.')) : undefined;
  };
  return { requires: requires as Role, ownUser: path('ownUser'), actingUser: path('actingUser') };
}

/** An ownership path must start at an argument of its field: a typo would otherwise deny every call. */
function checkPaths(field: GraphQLField<unknown, unknown>, rule: Omit<AuthRule, 'from'>, coordinate: string): void {
  for (const path of [rule.ownUser, rule.actingUser]) {
    const head = path?.[0];
    if (head !== undefined && !field.args.some((arg) => arg.name === head)) {
      throw new Error(`@auth on ${coordinate}: "${path?.join('.')}" names no argument of the field (${field.args.map((a) => a.name).join(', ') || 'none'})`);
    }
  }
}
