import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { buildClientSchema, getIntrospectionQuery, Kind, printSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../codegen.ts';
import { buildSchema, loadTypeDefs, rootCachePolicies } from '../src/schema.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
let served: IntrospectionQuery;
beforeAll(async () => {
  gw = await startTestGateway();
  const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
  const { body } = await gw.request<IntrospectionQuery>(query);
  expect(body.errors).toBeUndefined();
  served = body.data!;
}, 60_000);
afterAll(async () => {
  await gw?.close();
});

describe('schema contract', () => {
  it('serves by introspection the checked-in client schema, directive definitions included (update on purpose with `npx vitest run test/schema.test.ts --update`)', async () => {
    // What clients and their code generators see: the contract.
    await expect(printSchema(buildClientSchema(served))).toMatchFileSnapshot('./__snapshots__/schema.graphql');
  });

  it('keeps the server-side schema, applied @auth and @cached included, in its snapshot', async () => {
    // Introspection does not carry applied directives: access rules and cache policies are guarded here.
    await expect(printSchemaWithDirectives(buildSchema())).toMatchFileSnapshot('./__snapshots__/schema.server.graphql');
  });

  it('describes every type to clients as the SDL in schema/ does (scalar implementations included)', () => {
    const sdl = new Map<string, string | undefined>();
    for (const document of loadTypeDefs()) {
      for (const definition of document.definitions) {
        if ('name' in definition && definition.name && 'description' in definition && definition.kind !== Kind.DIRECTIVE_DEFINITION) {
          sdl.set(definition.name.value, definition.description?.value);
        }
      }
    }
    const described = served.__schema.types.filter((type) => sdl.has(type.name)).map((type) => [type.name, type.description ?? undefined]);
    expect(described).toEqual(described.map(([name]) => [name, sdl.get(name!)]));
    expect(described.map(([name]) => name)).toEqual(expect.arrayContaining(['DateTime', 'JSON']));
  });

  it('keeps the generated resolver types in step with schema/ (`npm run codegen`)', async () => {
    const outputs = (await generate({ ...config, silent: true }, false)) as { filename: string; content: string }[];
    const generated = outputs.find((o) => o.filename.endsWith('src/generated/graphql.ts'));
    expect(generated, 'codegen produced src/generated/graphql.ts').toBeDefined();
    const committed = readFileSync(path.join(import.meta.dirname, '..', 'src/generated/graphql.ts'), 'utf8');
    expect(committed.trim()).toBe(generated!.content.trim());
  }, 60_000);

  it('gives every cacheable root field a cache policy and none to live data', () => {
    const policies = rootCachePolicies(buildSchema());
    expect(policies.get('tours')).toBeGreaterThan(0);
    expect(policies.has('health')).toBe(false);
    expect(policies.has('platform')).toBe(false);
  });
});
