/**
 * REST inputs → operation variables, typed by each variable's GraphQL type: text values (path,
 * query, header) are parsed (Int, Float, Boolean, enums case-insensitively, lists from repeated or
 * comma-separated values); body values pass as JSON, enums matched case-insensitively. What GraphQL
 * checks itself (DateTime, ID, nullability of body values) is left to it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isEnumType, isListType, isNonNullType, type GraphQLEnumType, type GraphQLInputType } from 'graphql';
import type { ParameterLocation, RestParameter, RestRoute } from './routes.ts';

/** A parameter that is missing or malformed: a 400 naming it (`loc` as FastAPI reports it). */
export class ParameterError extends Error {
  readonly loc: readonly [ParameterLocation, string];

  constructor(message: string, loc: readonly [ParameterLocation, string]) {
    super(message);
    this.name = 'ParameterError';
    this.loc = loc;
  }
}

/** What one REST request carries. */
export interface RestInput {
  path: Readonly<Record<string, string>>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body of a POST; undefined without one. */
  body: Readonly<Record<string, unknown>> | undefined;
}

const LABELS: Readonly<Record<ParameterLocation, string>> = { path: 'Path parameter', query: 'Query parameter', header: 'Header', body: 'Body field' };

/** The operation's variables for `input`; throws {@link ParameterError} for the first bad parameter. */
export function variablesOf(route: RestRoute, input: RestInput): Record<string, unknown> {
  if (input.body) {
    for (const field of Object.keys(input.body)) {
      if (!route.parameters.some((p) => p.in === 'body' && p.name === field)) {
        const known = route.parameters.filter((p) => p.in === 'body').map((p) => p.name);
        throw new ParameterError(`${LABELS.body} "${field}" is not accepted here; expected ${known.length > 0 ? `one of ${known.join(', ')}` : 'no body'}.`, ['body', field]);
      }
    }
  }
  const variables: Record<string, unknown> = {};
  for (const parameter of route.parameters) {
    const value = valueOf(parameter, input);
    if (value === undefined) {
      if (parameter.required) throw new ParameterError(`${LABELS[parameter.in]} "${parameter.name}" is required.`, [parameter.in, parameter.name]);
      continue;
    }
    variables[parameter.variable] = value;
  }
  return variables;
}

/**
 * Speaks of the REST parameters in a GraphQL message: `Variable "$first"`, and `Argument "first"`
 * where a variable is passed to the argument of its name (as the mapping's operations do).
 */
export function inParameterTerms(message: string, route: RestRoute): string {
  let out = message;
  for (const parameter of route.parameters) {
    const label = `${LABELS[parameter.in]} "${parameter.name}"`;
    out = out.replaceAll(`Variable "$${parameter.variable}"`, label).replaceAll(`Argument "${parameter.variable}"`, label);
  }
  return out;
}

function valueOf(parameter: RestParameter, input: RestInput): unknown {
  switch (parameter.in) {
    case 'path': {
      const raw = input.path[parameter.name];
      return raw === undefined ? undefined : fromText(parameter, [decodeURIComponent(raw)]);
    }
    case 'query': {
      const values = input.query.getAll(parameter.name).filter((v) => v !== '');
      return values.length === 0 ? undefined : fromText(parameter, values);
    }
    case 'header': {
      const raw = input.headers[parameter.name.toLowerCase()];
      const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((v) => v !== '');
      return values.length === 0 ? undefined : fromText(parameter, values);
    }
    case 'body': {
      const raw = input.body?.[parameter.name];
      return raw === undefined ? undefined : fromJson(parameter, parameter.type, raw);
    }
  }
}

function fromText(parameter: RestParameter, values: readonly string[]): unknown {
  const type = isNonNullType(parameter.type) ? parameter.type.ofType : parameter.type;
  if (isListType(type)) {
    const items = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
    return items.map((item) => scalarFromText(parameter, type.ofType as GraphQLInputType, item));
  }
  if (values.length > 1) throw new ParameterError(`${LABELS[parameter.in]} "${parameter.name}" was given ${values.length} times; it takes one value.`, [parameter.in, parameter.name]);
  return scalarFromText(parameter, type, values[0] as string);
}

function scalarFromText(parameter: RestParameter, type: GraphQLInputType, text: string): unknown {
  const inner = isNonNullType(type) ? type.ofType : type;
  const bad = (expected: string): never => {
    throw new ParameterError(`${LABELS[parameter.in]} "${parameter.name}" must be ${expected}, got ${JSON.stringify(text)}.`, [parameter.in, parameter.name]);
  };
  if (isEnumType(inner)) return enumValue(parameter, inner, text);
  switch ('name' in inner ? inner.name : '') {
    case 'Int': {
      const n = Number(text);
      return /^[+-]?\d+$/.test(text) && Number.isSafeInteger(n) ? n : bad('an integer');
    }
    case 'Float': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? n : bad('a number');
    }
    case 'Boolean':
      return text === 'true' ? true : text === 'false' ? false : bad('true or false');
    default:
      return text;
  }
}

function fromJson(parameter: RestParameter, type: GraphQLInputType, value: unknown): unknown {
  const inner = isNonNullType(type) ? type.ofType : type;
  if (value === null) return null;
  if (isListType(inner)) {
    // A single value where a list is expected is a list of one, as GraphQL coerces it.
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => fromJson(parameter, inner.ofType as GraphQLInputType, item));
  }
  if (isEnumType(inner) && typeof value === 'string') return enumValue(parameter, inner, value);
  return value;
}

function enumValue(parameter: RestParameter, type: GraphQLEnumType, text: string): string {
  const found = type.getValues().find((v) => v.name.toLowerCase() === text.toLowerCase());
  if (found) return found.name;
  const allowed = type.getValues().map((v) => v.name.toLowerCase()).join(', ');
  throw new ParameterError(`${LABELS[parameter.in]} "${parameter.name}" must be one of ${allowed}, got ${JSON.stringify(text)}.`, [parameter.in, parameter.name]);
}
