/**
 * The REST mapping (`routes.yaml`): each route of the platform's REST API is one GraphQL
 * operation. Loaded and checked once at start-up: the file's structure, each operation against
 * the schema, each parameter against the operation's variables, each body selector against the
 * operation's selection. Any problem fails start-up with a message naming the route.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import {
  getNamedType,
  isInputObjectType,
  isNonNullType,
  Kind,
  parse,
  print,
  typeFromAST,
  validate,
  visit,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { parse as parseYaml } from 'yaml';
import { describeEntryErrors } from '../../../ingest/registry.ts';
import { bodyShape, shapeOf, type BodySelector, type Shape } from './shape.ts';

/** Where a parameter is read from. */
export type ParameterLocation = 'path' | 'query' | 'header' | 'body';

/** One REST input and the operation variable it becomes. */
export interface RestParameter {
  name: string;
  in: ParameterLocation;
  variable: string;
  /** The variable's GraphQL type: how the raw value is parsed, and its OpenAPI schema. */
  type: GraphQLInputType;
  /** Non-null without a default: the request fails without it. */
  required: boolean;
  description: string | undefined;
}

/** A route, ready to serve. */
export interface RestRoute {
  /** operationId in the OpenAPI document. */
  name: string;
  method: 'GET' | 'POST';
  /** As written, e.g. `/api/v1/tours/{id}`. */
  path: string;
  summary: string | undefined;
  tags: readonly string[];
  operationName: string;
  operationType: 'query' | 'mutation';
  /** The operation with the fragments it spreads: what is sent to the GraphQL pipeline. */
  document: string;
  parameters: readonly RestParameter[];
  /** Status of a successful answer. */
  status: number;
  body: BodySelector;
  /** The 404 message when the body selects null (`{param}` replaced); absent: null is answered as is. */
  notFound: string | undefined;
  /** Shape of the operation's `data`. */
  data: Shape;
  /** Shape of the REST body. */
  bodyShape: Shape;
  /** The path parameters' values when `pathname` is this route's path, else undefined. */
  match(pathname: string): Record<string, string> | undefined;
}

/** The mapping shipped with the gateway: the routes of the platform's apps. */
export const DEFAULT_ROUTES_FILE = fileURLToPath(new URL('./routes.yaml', import.meta.url));

const NAME = '^[a-z][A-Za-z0-9]*$';
const ROUTE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'method', 'path', 'operation', 'response'],
  properties: {
    name: { type: 'string', pattern: NAME },
    method: { enum: ['GET', 'POST'] },
    path: { type: 'string', pattern: '^(/([A-Za-z0-9._-]+|\\{[A-Za-z_][A-Za-z0-9_]*\\}))+$' },
    summary: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    operation: { type: 'string', minLength: 1 },
    parameters: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'in'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]*$' },
          in: { enum: ['path', 'query', 'header', 'body'] },
          variable: { type: 'string', pattern: '^[_A-Za-z][_0-9A-Za-z]*$' },
          description: { type: 'string' },
        },
      },
    },
    response: {
      type: 'object',
      additionalProperties: false,
      required: ['body'],
      properties: {
        status: { type: 'integer', minimum: 200, maximum: 299 },
        body: {
          oneOf: [{ type: 'string', minLength: 1 }, { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, minProperties: 1 }],
        },
        notFound: { type: 'string', minLength: 1 },
      },
    },
  },
} as const;

/** Loads `file` and checks every route against `schema`. */
export async function loadRestRoutes(schema: GraphQLSchema, file: string = DEFAULT_ROUTES_FILE): Promise<RestRoute[]> {
  let document: { routes?: unknown; fragments?: unknown } | null;
  try {
    document = parseYaml(await readFile(file, 'utf8')) as typeof document;
  } catch (error) {
    throw new Error(`${file}: cannot read the REST routes: ${(error as Error).message}`);
  }
  if (!document || !Array.isArray(document.routes)) throw new Error(`${file}: expected a top-level "routes" list`);
  if (document.fragments !== undefined && typeof document.fragments !== 'string') throw new Error(`${file}: "fragments" must be GraphQL text`);
  return compileRestRoutes(schema, document.routes, document.fragments ?? '', file);
}

/** Checks and compiles parsed routes (the YAML's `routes` and `fragments`); `origin` names them in errors. */
export function compileRestRoutes(schema: GraphQLSchema, entries: readonly unknown[], fragmentsText: string, origin: string): RestRoute[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  if (fragmentsText.trim() !== '') {
    let parsed: DocumentNode;
    try {
      parsed = parse(fragmentsText);
    } catch (error) {
      throw new Error(`${origin}: fragments: ${(error as Error).message}`);
    }
    for (const definition of parsed.definitions) {
      if (definition.kind !== Kind.FRAGMENT_DEFINITION) throw new Error(`${origin}: fragments: only fragment definitions belong there`);
      fragments.set(definition.name.value, definition);
    }
  }
  const checkEntry = new Ajv({ allErrors: true, strict: false }).compile(ROUTE_SCHEMA);
  const routes: RestRoute[] = [];
  for (const [i, raw] of entries.entries()) {
    const named = raw !== null && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string' ? ` (${(raw as { name: string }).name})` : '';
    const label = `${origin}: routes[${i}]${named}`;
    if (!checkEntry(raw)) throw new Error(`${label}: ${describeEntryErrors(checkEntry.errors ?? [])}`);
    const route = compileRoute(schema, raw as unknown as RouteEntry, fragments, label);
    const twin = routes.find((r) => r.name === route.name || (r.method === route.method && samePath(r.path, route.path)));
    if (twin) throw new Error(`${label}: ${twin.name === route.name ? `the name "${route.name}" is taken` : `${route.method} ${route.path} is already served by ${twin.name}`}`);
    routes.push(route);
  }
  return routes;
}

interface RouteEntry {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  summary?: string;
  tags?: string[];
  operation: string;
  parameters?: { name: string; in: ParameterLocation; variable?: string; description?: string }[];
  response: { status?: number; body: BodySelector; notFound?: string };
}

function compileRoute(schema: GraphQLSchema, entry: RouteEntry, fragments: ReadonlyMap<string, FragmentDefinitionNode>, label: string): RestRoute {
  const fail = (message: string): never => {
    throw new Error(`${label}: ${message}`);
  };
  let parsed: DocumentNode;
  try {
    parsed = parse(entry.operation);
  } catch (error) {
    return fail(`field "operation": ${(error as Error).message}`);
  }
  const operations = parsed.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const [operation] = operations;
  if (operations.length !== 1 || !operation || parsed.definitions.length !== 1) return fail('field "operation" must hold exactly one operation (shared fragments go under "fragments")');
  if (!operation.name) return fail('field "operation": the operation needs a name');
  if (operation.operation === 'subscription') return fail('field "operation": a subscription cannot answer a REST request');
  if (operation.operation === 'mutation' && entry.method !== 'POST') return fail('field "method": a mutation is served by POST only');
  const spread = spreadFragments(operation, fragments, fail);
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [operation, ...spread] };
  const problems = validate(schema, document);
  if (problems.length > 0) return fail(`field "operation": ${problems.map((p) => p.message).join('; ')}`);
  const rootType = operation.operation === 'query' ? schema.getQueryType() : schema.getMutationType();
  if (!rootType) return fail(`the schema has no ${operation.operation} type`);
  const fragmentMap = new Map(spread.map((f) => [f.name.value, f]));
  const data = shapeOf(rootType, operation.selectionSet, fragmentMap);

  const variables = new Map((operation.variableDefinitions ?? []).map((d) => [d.variable.name.value, d]));
  const parameters: RestParameter[] = [];
  for (const parameter of entry.parameters ?? []) {
    const variable = parameter.variable ?? parameter.name;
    const definition = variables.get(variable);
    if (!definition) fail(`parameter "${parameter.name}": the operation declares no $${variable}`);
    if (parameters.some((p) => p.in === parameter.in && p.name.toLowerCase() === parameter.name.toLowerCase())) fail(`parameter "${parameter.name}" is listed twice`);
    if (parameter.in === 'body' && entry.method !== 'POST') fail(`parameter "${parameter.name}": a ${entry.method} request has no body`);
    const type = typeFromAST(schema, definition!.type) as GraphQLInputType | undefined;
    if (!type) return fail(`parameter "${parameter.name}": unknown type of $${variable}`);
    if (parameter.in !== 'body' && !acceptsText(type)) fail(`parameter "${parameter.name}": $${variable} takes an input object, which only a body parameter can carry`);
    parameters.push({
      name: parameter.name,
      in: parameter.in,
      variable,
      type,
      required: isNonNullType(type) && definition!.defaultValue === undefined,
      description: parameter.description,
    });
  }
  for (const [name, definition] of variables) {
    if (definition.type.kind === Kind.NON_NULL_TYPE && definition.defaultValue === undefined && !parameters.some((p) => p.variable === name)) {
      fail(`$${name} is required by the operation but no parameter sets it`);
    }
  }
  const placeholders = [...entry.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
  for (const name of placeholders) {
    const parameter = parameters.find((p) => p.name === name && p.in === 'path');
    if (!parameter) fail(`path "{${name}}" has no parameter with "in: path"`);
    else parameter.required = true;
  }
  for (const parameter of parameters) {
    if (parameter.in === 'path' && !placeholders.includes(parameter.name)) fail(`parameter "${parameter.name}" is "in: path" but the path has no {${parameter.name}}`);
  }
  let shape: Shape;
  try {
    shape = bodyShape(data, entry.response.body);
  } catch (error) {
    return fail(`field "response.body": ${(error as Error).message}`);
  }
  if (entry.response.notFound !== undefined && typeof entry.response.body !== 'string') fail('field "response.notFound" needs a body that selects one value');

  const pattern = new RegExp(`^${entry.path.replace(/[.]/g, '\\.').replace(/\{([^}]+)\}/g, (_, name: string) => `(?<${name}>[^/]+)`)}$`);
  return {
    name: entry.name,
    method: entry.method,
    path: entry.path,
    summary: entry.summary,
    tags: entry.tags ?? [],
    operationName: operation.name.value,
    operationType: operation.operation,
    document: [entry.operation.trim(), ...spread.map((f) => print(f))].join('\n'),
    parameters,
    status: entry.response.status ?? 200,
    body: entry.response.body,
    notFound: entry.response.notFound,
    data,
    bodyShape: shape,
    match(pathname) {
      const found = pattern.exec(pathname);
      return found ? { ...found.groups } : undefined;
    },
  };
}

/** The fragments an operation spreads, directly or through other fragments. */
function spreadFragments(operation: OperationDefinitionNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, fail: (message: string) => never): FragmentDefinitionNode[] {
  const used = new Map<string, FragmentDefinitionNode>();
  const pending: (OperationDefinitionNode | FragmentDefinitionNode)[] = [operation];
  while (pending.length > 0) {
    visit(pending.pop()!, {
      FragmentSpread(node) {
        const name = node.name.value;
        if (used.has(name)) return;
        const fragment = fragments.get(name);
        if (!fragment) fail(`field "operation": no fragment "${name}" under "fragments"`);
        used.set(name, fragment!);
        pending.push(fragment!);
      },
    });
  }
  return [...used.values()];
}

/** Whether a value of `type` can be written as text (a path, query or header value). */
function acceptsText(type: GraphQLInputType): boolean {
  return !isInputObjectType(getNamedType(type));
}

function samePath(a: string, b: string): boolean {
  return a.replace(/\{[^}]+\}/g, '{}') === b.replace(/\{[^}]+\}/g, '{}');
}
