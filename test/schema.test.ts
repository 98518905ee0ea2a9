import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { describe, expect, it } from 'vitest';
import config from '../codegen.ts';
import { buildSchema, rootCachePolicies } from '../src/schema.ts';

describe('schema contract', () => {
  it('matches the checked-in snapshot (update on purpose with `npx vitest run test/schema.test.ts --update`)', async () => {
    // With directives, so a changed `@cached` policy is a contract change too.
    await expect(printSchemaWithDirectives(buildSchema())).toMatchFileSnapshot('./__snapshots__/schema.graphql');
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
