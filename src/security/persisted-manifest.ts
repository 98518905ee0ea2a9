import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  Kind,
  parse,
  print,
  validate,
  visit,
  type DefinitionNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

/**
 * Persisted-query manifests in Apollo's format (what `@apollo/generate-persisted-query-manifest`
 * writes and Apollo's clients read), and a small builder for them:
 *
 *   npx node src/security/persisted-manifest.ts <directories or .graphql files…> > manifest.json
 *
 * Every named operation in the files becomes one entry whose body is the operation followed by
 * the fragments it uses (printed by graphql-js); each body is validated against the gateway's
 * schema, and `id` is the SHA-256 of the body, hex, the hash clients send as
 * `extensions.persistedQuery.sha256Hash`.
 */

export type OperationType = 'query' | 'mutation' | 'subscription';

/** One registered operation. */
export interface ManifestOperation {
  /** SHA-256 of `body`, lowercase hex. */
  id: string;
  name: string;
  type: OperationType;
  body: string;
}

/** `{ format: "apollo-persisted-query-manifest", version: 1, operations }`. */
export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: ManifestOperation[];
}

/** SHA-256 of a query text, lowercase hex: Apollo's persisted-query hash. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const OPERATION_TYPES: readonly string[] = ['query', 'mutation', 'subscription'];

/**
 * Checks a parsed manifest: its format and version, and every operation's fields, with each `id`
 * equal to the hash of its `body` (a mismatch would list one text and run another). Throws one
 * error naming `source` and every problem.
 */
export function parseManifest(value: unknown, source: string): PersistedQueryManifest {
  const problems: string[] = [];
  const manifest = value as Partial<PersistedQueryManifest> | null;
  if (typeof manifest !== 'object' || manifest === null) throw new Error(`${source}: expected a JSON object, got ${JSON.stringify(value)?.slice(0, 80)}`);
  if (manifest.format !== 'apollo-persisted-query-manifest') problems.push(`format: expected "apollo-persisted-query-manifest", got ${JSON.stringify(manifest.format)}`);
  if (manifest.version !== 1) problems.push(`version: expected 1, got ${JSON.stringify(manifest.version)}`);
  if (!Array.isArray(manifest.operations)) problems.push(`operations: expected an array, got ${JSON.stringify(manifest.operations)?.slice(0, 80)}`);
  const operations: ManifestOperation[] = [];
  for (const [index, entry] of (Array.isArray(manifest.operations) ? manifest.operations : []).entries()) {
    const op = entry as Partial<ManifestOperation> | null;
    const at = `operations[${index}]`;
    if (typeof op !== 'object' || op === null) {
      problems.push(`${at}: expected an object`);
      continue;
    }
    if (typeof op.body !== 'string' || op.body === '') problems.push(`${at}.body: expected the operation's text`);
    if (typeof op.name !== 'string') problems.push(`${at}.name: expected a string`);
    if (typeof op.type !== 'string' || !OPERATION_TYPES.includes(op.type)) problems.push(`${at}.type: expected query, mutation or subscription, got ${JSON.stringify(op.type)}`);
    if (typeof op.id !== 'string' || !/^[0-9a-f]{64}$/.test(op.id)) problems.push(`${at}.id: expected a lowercase hex SHA-256, got ${JSON.stringify(op.id)}`);
    else if (typeof op.body === 'string' && sha256Hex(op.body) !== op.id) problems.push(`${at}.id: is not the SHA-256 of its body (${op.name ?? 'unnamed'})`);
    if (typeof op.body === 'string' && typeof op.name === 'string' && typeof op.type === 'string' && typeof op.id === 'string') {
      operations.push({ id: op.id, name: op.name, type: op.type as OperationType, body: op.body });
    }
  }
  if (problems.length > 0) throw new Error(`${source}: not a valid persisted-query manifest:\n  ${problems.join('\n  ')}`);
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

/** Reads and checks a manifest file (`PERSISTED_QUERIES_FILE`). */
export function readManifest(file: string): PersistedQueryManifest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${file}: cannot read the persisted-query manifest (${(error as Error).message})`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: the persisted-query manifest is not JSON (${(error as Error).message})`, { cause: error });
  }
  return parseManifest(value, file);
}

/** A source of operations for `buildManifest`. */
export interface OperationSource {
  /** Where the text came from (for messages). */
  name: string;
  text: string;
}

/**
 * Builds a manifest from GraphQL documents: every named operation, with the fragments it uses
 * (fragments may live in any of the sources). With `schema`, each body must validate against it.
 * Throws one error listing every problem (syntax, anonymous or duplicate operations, unknown
 * fragments, validation).
 */
export function buildManifest(sources: readonly OperationSource[], schema?: GraphQLSchema): PersistedQueryManifest {
  const problems: string[] = [];
  const operations: { node: OperationDefinitionNode; source: string }[] = [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const source of sources) {
    let definitions: readonly DefinitionNode[];
    try {
      definitions = parse(source.text).definitions;
    } catch (error) {
      problems.push(`${source.name}: ${(error as Error).message}`);
      continue;
    }
    for (const definition of definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION) operations.push({ node: definition, source: source.name });
      else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        if (fragments.has(definition.name.value)) problems.push(`${source.name}: fragment ${definition.name.value} is defined twice`);
        fragments.set(definition.name.value, definition);
      } else problems.push(`${source.name}: only operations and fragments belong in operation files, found a ${definition.kind}`);
    }
  }
  const names = new Set<string>();
  const entries: ManifestOperation[] = [];
  for (const { node, source } of operations) {
    const name = node.name?.value;
    if (!name) {
      problems.push(`${source}: every operation needs a name (the manifest lists operations by name)`);
      continue;
    }
    if (names.has(name)) problems.push(`${source}: operation ${name} is defined twice`);
    names.add(name);
    const used = usedFragments(node, fragments, (missing) => problems.push(`${source}: operation ${name} uses unknown fragment ${missing}`));
    const document = { kind: Kind.DOCUMENT, definitions: [node, ...used] } as const;
    if (schema) {
      for (const error of validate(schema, document)) problems.push(`${source}: operation ${name}: ${error.message}`);
    }
    const body = print(document);
    entries.push({ id: sha256Hex(body), name, type: node.operation as OperationType, body });
  }
  if (problems.length > 0) throw new Error(`cannot build the persisted-query manifest:\n  ${problems.join('\n  ')}`);
  entries.sort((a, b) => a.name.localeCompare(b.name));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations: entries };
}

/** The fragments `node` spreads, directly or through other fragments, sorted by name. */
function usedFragments(
  node: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  onMissing: (name: string) => void,
): FragmentDefinitionNode[] {
  const found = new Map<string, FragmentDefinitionNode>();
  const pending: (OperationDefinitionNode | FragmentDefinitionNode)[] = [node];
  while (pending.length > 0) {
    visit(pending.pop()!, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        if (found.has(name)) return;
        const fragment = fragments.get(name);
        if (!fragment) {
          onMissing(name);
          return;
        }
        found.set(name, fragment);
        pending.push(fragment);
      },
    });
  }
  return [...found.values()].sort((a, b) => a.name.value.localeCompare(b.name.value));
}

/** `.graphql` / `.gql` files under the given paths (directories recursively), in a stable order. */
export function operationFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const entry of paths) {
    if (statSync(entry).isDirectory()) {
      const inside = readdirSync(entry, { recursive: true, encoding: 'utf8' })
        .filter((file) => /\.(graphql|gql)$/.test(file))
        .map((file) => path.join(entry, file))
        .sort();
      files.push(...inside);
    } else {
      files.push(entry);
    }
  }
  return files;
}

async function main(args: readonly string[]): Promise<number> {
  if (args.length === 0 || args.includes('--help')) {
    process.stderr.write('usage: node src/security/persisted-manifest.ts <directories or .graphql files…> > manifest.json\n');
    return args.length === 0 ? 2 : 0;
  }
  try {
    const files = operationFiles(args);
    if (files.length === 0) throw new Error(`no .graphql or .gql files under ${args.join(', ')}`);
    // Loaded here, not at the top: parsing a manifest (the gateway's use) must not build a schema.
    const { buildSchema } = await import('../schema.ts');
    const manifest = buildManifest(
      files.map((file) => ({ name: file, text: readFileSync(file, 'utf8') })),
      buildSchema(),
    );
    process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
    process.stderr.write(`${manifest.operations.length} operations from ${files.length} files\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
