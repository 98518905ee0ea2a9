import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Kind, parse, validate, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../src/schema.ts';
import { configVariables } from './helpers/config-variables.ts';

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

/** The variables the README's tables document: backticked names in every table column headed `variable`. */
function documentedVariables(markdown: string): Set<string> {
  const names = new Set<string>();
  let column = -1;
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      column = -1;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    if (column < 0) {
      column = cells.indexOf('variable');
      continue;
    }
    for (const match of (cells[column] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(match[1]!);
  }
  return names;
}

describe('README configuration tables', () => {
  const documented = documentedVariables(README);
  const read = configVariables();

  it('document every variable src/config.ts reads', () => {
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });

  it('document no variable src/config.ts does not read', () => {
    expect(read.size).toBeGreaterThan(50);
    expect([...documented].filter((name) => !read.has(name)).sort()).toEqual([]);
  });

  it('are found by the table parser, which a table without the variable in it fails', () => {
    expect(documented.has('TRINO_URL')).toBe(true);
    const table = '| variable | default | meaning |\n|---|---|---|\n| `PORT` / `HOST` | `4000` | listener |\n| `NOT_READ_ANYWHERE` | unset | nothing |\n';
    const parsed = documentedVariables(table);
    expect([...parsed].sort()).toEqual(['HOST', 'NOT_READ_ANYWHERE', 'PORT']);
    expect([...parsed].filter((name) => !read.has(name))).toEqual(['NOT_READ_ANYWHERE']);
  });
});
