import { buildSchema as buildSdl, execute, isObjectType, parse, type GraphQLObjectType } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { describe, expect, it } from 'vitest';
import { applyAuthDirective, authRuleOf, type AuthRule } from '../src/security/auth-directive.ts';
import type { Principal } from '../src/security/principal.ts';
import { buildSchema, loadTypeDefs } from '../src/schema.ts';

const schema = buildSchema();
const rootNames = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].map((t) => t?.name));
const objectTypes = Object.values(schema.getTypeMap()).filter((t): t is GraphQLObjectType => isObjectType(t) && !t.name.startsWith('__'));

function ruleOf(coordinate: string): AuthRule | undefined {
  const [typeName = '', fieldName = ''] = coordinate.split('.');
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
  return authRuleOf(schema, type, fieldName);
}

describe('@auth coverage', () => {
  it('gives every field of every object type an explicit or inherited rule', () => {
    const uncovered = objectTypes.flatMap((type) =>
      Object.keys(type.getFields())
        .filter((field) => authRuleOf(schema, type, field) === undefined)
        .map((field) => `${type.name}.${field}`),
    );
    // Listed by name so the failure says what to annotate: @auth on the field, or on its type.
    expect(uncovered, `fields without an @auth rule (annotate them or their type):\n${uncovered.join('\n')}`).toEqual([]);
  });

  it('gives every root field a rule of its own (root types never pass one on)', () => {
    const inherited = [...objectTypes]
      .filter((type) => rootNames.has(type.name))
      .flatMap((type) => Object.keys(type.getFields()).filter((field) => authRuleOf(schema, type, field)?.from !== 'field').map((field) => `${type.name}.${field}`));
    expect(inherited, `root fields without their own @auth:\n${inherited.join('\n')}`).toEqual([]);
  });

  it('keeps the platform, pipeline runs and ingestion out of public reach', () => {
    expect(ruleOf('Query.platform')?.requires).toBe('analyst');
    expect(ruleOf('Platform.pipelineRuns')?.requires).toBe('analyst');
    expect(ruleOf('Subscription.pipelineRunFinished')?.requires).toBe('analyst');
    expect(ruleOf('Subscription.eventIngested')?.requires).toBe('analyst');
    expect(ruleOf('Mutation.ingestEvent')).toMatchObject({ requires: 'app', actingUser: ['input', 'userId'] });
    expect(ruleOf('Mutation.ingestEvents')).toMatchObject({ requires: 'app', actingUser: ['inputs', 'userId'] });
    expect(ruleOf('Query.user')).toMatchObject({ requires: 'app', ownUser: ['id'] });
    expect(ruleOf('Query.recommendations')).toMatchObject({ requires: 'app', ownUser: ['userId'] });
    expect(ruleOf('Query.events')).toMatchObject({ requires: 'app', ownUser: ['filter', 'userId'] });
    expect(ruleOf('Tour.stats')?.requires).toBe('analyst');
    expect(ruleOf('Tour.name')).toMatchObject({ requires: 'public', from: 'type' });
    const mutations = schema.getMutationType()?.getFields() ?? {};
    if ('runPipeline' in mutations) expect(ruleOf('Mutation.runPipeline')?.requires).toBe('admin');
  });

  it('declares the directive and its roles in the schema itself', () => {
    const common = loadTypeDefs().flatMap((doc) => doc.definitions);
    expect(common.some((d) => d.kind === 'DirectiveDefinition' && d.name.value === 'auth')).toBe(true);
    expect(schema.getDirective('auth')?.args.map((a) => a.name)).toEqual(['requires', 'ownUser', 'actingUser']);
  });
});

/** A small schema to exercise the transform itself. */
const DIRECTIVE_SDL = /* GraphQL */ `
  enum Role { PUBLIC APP ANALYST ADMIN }
  directive @auth(requires: Role!, ownUser: String, actingUser: String) on OBJECT | FIELD_DEFINITION
  type Query {
    open: Thing @auth(requires: PUBLIC)
    secret: Secret @auth(requires: ANALYST)
    mine(id: ID!): Secret @auth(requires: APP, ownUser: "id")
    unannotated: String
  }
  type Mutation {
    act(inputs: [In!]!): Int @auth(requires: APP, actingUser: "inputs.userId")
  }
  input In { userId: ID }
  type Thing @auth(requires: PUBLIC) { name: String, hidden: String @auth(requires: ADMIN), secret: Secret }
  type Secret @auth(requires: APP) { value: String }
`;

describe('@auth transform', () => {
  const thing = { name: 'n', hidden: 'h', secret: { value: 'v' } };
  const guarded = applyAuthDirective(
    makeExecutableSchema({
      typeDefs: DIRECTIVE_SDL,
      resolvers: {
        Query: { open: () => thing, secret: () => ({ value: 's' }), mine: () => ({ value: 'm' }), unannotated: () => 'u' },
        Mutation: { act: (_: unknown, args: { inputs: unknown[] }) => args.inputs.length },
      },
    }),
  );
  const principal = (role: Principal['role'], userId: string | null = null, kind: Principal['kind'] = 'apiKey'): Principal => ({ kind, id: 'test', role, userId });
  const run = async (query: string, who: Principal) => {
    const result = await execute({ schema: guarded, document: parse(query), contextValue: { principal: who } });
    return { data: result.data, errors: (result.errors ?? []).map((e) => ({ code: e.extensions['code'], path: e.path?.join('.') })) };
  };

  it('checks a field reachable with less than its role, at any depth, with the field path', async () => {
    const anonymous = principal('public', null, 'anonymous');
    expect(await run('{ open { name hidden } }', anonymous)).toEqual({ data: { open: { name: 'n', hidden: null } }, errors: [{ code: 'UNAUTHENTICATED', path: 'open.hidden' }] });
    // Thing.secret inherits PUBLIC from Thing; the fields of Secret carry Secret's APP.
    expect((await run('{ open { secret { value } } }', principal('public'))).errors).toEqual([{ code: 'FORBIDDEN', path: 'open.secret.value' }]);
    expect((await run('{ open { secret { value } } }', principal('app'))).errors).toEqual([]);
    expect((await run('{ secret { value } }', principal('app'))).errors).toEqual([{ code: 'FORBIDDEN', path: 'secret' }]);
  });

  it('denies fields without a rule to everyone but admins', async () => {
    expect((await run('{ unannotated }', principal('analyst'))).errors).toEqual([{ code: 'FORBIDDEN', path: 'unannotated' }]);
    expect((await run('{ unannotated }', principal('admin'))).data).toEqual({ unannotated: 'u' });
  });

  it('lets an app principal read only its own user, and analysts any', async () => {
    expect((await run('{ mine(id: "U1") { value } }', principal('app', 'U1'))).errors).toEqual([]);
    expect((await run('{ mine(id: "U2") { value } }', principal('app', 'U1'))).errors).toEqual([{ code: 'FORBIDDEN', path: 'mine' }]);
    expect((await run('{ mine(id: "U2") { value } }', principal('app', null))).errors).toEqual([{ code: 'FORBIDDEN', path: 'mine' }]);
    expect((await run('{ mine(id: "U2") { value } }', principal('analyst'))).errors).toEqual([]);
  });

  it('lets a user-bound principal act only for its user, in every item; a service key for anyone', async () => {
    const act = (ids: (string | null)[]) => `mutation { act(inputs: [${ids.map((id) => (id === null ? '{}' : `{ userId: "${id}" }`)).join(', ')}]) }`;
    expect(await run(act(['U1', 'U1']), principal('app', 'U1'))).toEqual({ data: { act: 2 }, errors: [] });
    expect((await run(act(['U1', 'U2']), principal('app', 'U1'))).errors).toEqual([{ code: 'FORBIDDEN', path: 'act' }]);
    expect((await run(act(['U1', null]), principal('app', 'U1'))).errors).toEqual([{ code: 'FORBIDDEN', path: 'act' }]);
    expect((await run(act(['U7', null]), principal('app', null))).data).toEqual({ act: 2 });
  });

  it('refuses misplaced directives when the schema is built', () => {
    const build = (sdl: string) => () => applyAuthDirective(buildSdl(sdl));
    const base = 'enum Role { PUBLIC APP ANALYST ADMIN }\ndirective @auth(requires: Role!, ownUser: String, actingUser: String) on OBJECT | FIELD_DEFINITION\n';
    expect(build(`${base}type Query @auth(requires: PUBLIC) { a: Int }`)).toThrow(/root type Query/);
    expect(build(`${base}type Query { a(id: ID): Int @auth(requires: APP, ownUser: "userId") }`)).toThrow(/Query.a: "userId" names no argument/);
  });
});

describe('@auth through interfaces and unions', () => {
  // A resolver handing out objects of any type through an abstract field, checking nothing itself.
  const guarded = applyAuthDirective(
    makeExecutableSchema({
      typeDefs: /* GraphQL */ `
        enum Role { PUBLIC APP ANALYST ADMIN }
        directive @auth(requires: Role!, ownUser: String, actingUser: String) on OBJECT | FIELD_DEFINITION
        interface Item { id: ID! }
        type Open implements Item @auth(requires: PUBLIC) { id: ID! }
        type Run implements Item @auth(requires: ANALYST) { id: ID! note: String }
        union Either = Open | Run
        type Query {
          item(kind: String!): Item @auth(requires: PUBLIC)
          either(kind: String!): Either @auth(requires: PUBLIC)
        }
      `,
      resolvers: {
        Query: { item: (_: unknown, args: { kind: string }) => ({ kind: args.kind }), either: (_: unknown, args: { kind: string }) => ({ kind: args.kind }) },
        Item: { __resolveType: (value: { kind: string }) => value.kind },
        Either: { __resolveType: (value: { kind: string }) => value.kind },
        Open: { id: () => 'o' },
        Run: { id: () => 'r', note: () => 'n' },
      },
    }),
  );
  const run = async (query: string, role: Principal['role']) => {
    const result = await execute({ schema: guarded, document: parse(query), contextValue: { principal: { kind: 'apiKey', id: 't', role, userId: null } } });
    return { data: result.data, errors: (result.errors ?? []).map((e) => ({ code: e.extensions['code'], path: e.path?.join('.') })) };
  };

  it('refuses an object whose concrete type the caller may not read, even with no field of it selected', async () => {
    for (const field of ['item', 'either']) {
      expect(await run(`{ ${field}(kind: "Open") { __typename } }`, 'public')).toEqual({ data: { [field]: { __typename: 'Open' } }, errors: [] });
      expect(await run(`{ ${field}(kind: "Run") { __typename } }`, 'public')).toEqual({ data: { [field]: null }, errors: [{ code: 'FORBIDDEN', path: field }] });
      expect(await run(`{ ${field}(kind: "Run") { __typename ... on Run { note } } }`, 'analyst')).toEqual({ data: { [field]: { __typename: 'Run', note: 'n' } }, errors: [] });
    }
  });
});
