import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Kind, parse, validate, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../src/schema.ts';

const README = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');

/** Every GraphQL document the README shows: its ```graphql blocks and the queries of its curl lines. */
function readmeDocuments(): { where: string; document: DocumentNode }[] {
  const blocks = [...README.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match, i) => ({ where: `graphql block ${i + 1}`, text: match[1]! }));
  const curls = [...README.matchAll(/curl '[^']*[?&]query=([^'&]+)/g)].map((match, i) => ({ where: `curl example ${i + 1}`, text: decodeURIComponent(match[1]!) }));
  return [...blocks, ...curls].map(({ where, text }) => ({ where, document: parse(text) }));
}

describe('README examples', () => {
  const documents = readmeDocuments();

  it('shows examples', () => {
    expect(documents.length).toBeGreaterThanOrEqual(3);
  });

  it('names every operation (client code generators, e.g. the codegen client preset, skip anonymous ones)', () => {
    const anonymous = documents.flatMap(({ where, document }) =>
      document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION && !d.name).map((d) => `${where}: ${d.kind === Kind.OPERATION_DEFINITION ? d.operation : ''}`),
    );
    expect(anonymous).toEqual([]);
  });

  it('shows only operations the schema accepts', () => {
    const schema = buildSchema();
    for (const { where, document } of documents) expect(validate(schema, document).map((e) => e.message), where).toEqual([]);
  });
});
