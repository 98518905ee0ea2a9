/**
 * The OpenAPI 3.1 document of the REST routes, generated from the mapping: parameters typed by
 * their GraphQL variables, response bodies by the operations' selections.
 */
import { schemaOfInput, schemaOfShape, type JsonSchema } from './shape.ts';
import type { RestRoute } from './routes.ts';
import { NOT_FOUND } from './status.ts';
import { ERROR_CODES } from '../../errors.ts';

/** Where the document is served. */
export const OPENAPI_PATH = '/openapi.json';

const ERROR_RESPONSES: Readonly<Record<string, string>> = {
  '400': 'A parameter is missing or malformed (`BAD_USER_INPUT`), or the request exceeds the query limits (`QUERY_TOO_COMPLEX`).',
  '401': 'Credentials are missing or refused (`UNAUTHENTICATED`).',
  '403': "The caller's role may not read this, or not this user's data (`FORBIDDEN`).",
  '429': 'Over the rate limit (`RATE_LIMITED`); `Retry-After` says when to retry.',
  '500': 'Internal error (`INTERNAL`), logged by the gateway.',
  '503': 'A backend is unavailable (`BACKEND_UNAVAILABLE`).',
  '504': 'A backend did not answer in time (`BACKEND_TIMEOUT`).',
};

/** Builds the document (a plain JSON value). */
export function openApiDocument(routes: readonly RestRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters = route.parameters
      .filter((p) => p.in !== 'body')
      .map((p) => ({
        name: p.name,
        in: p.in,
        required: p.required,
        ...(p.description ? { description: p.description } : {}),
        schema: nonNull(schemaOfInput(p.type)),
        // Lists: `?region=VN&region=TH`; `?region=VN,TH` is accepted too.
        ...(p.in === 'query' && nonNull(schemaOfInput(p.type))['type'] === 'array' ? { style: 'form', explode: true } : {}),
      }));
    const bodyParameters = route.parameters.filter((p) => p.in === 'body');
    const requestBody = route.method === 'POST'
      ? {
          required: bodyParameters.some((p) => p.required),
          content: {
            'application/json': {
              schema: {
                type: 'object',
                additionalProperties: false,
                properties: Object.fromEntries(bodyParameters.map((p) => [p.name, { ...schemaOfInput(p.type), ...(p.description ? { description: p.description } : {}) }])),
                required: bodyParameters.filter((p) => p.required).map((p) => p.name),
              },
            },
          },
        }
      : undefined;
    const responses: Record<string, unknown> = {
      [String(route.status)]: { description: route.summary ?? 'The answer.', content: { 'application/json': { schema: schemaOfShape(route.bodyShape) } } },
    };
    if (route.notFound !== undefined) responses['404'] = { $ref: '#/components/responses/NotFound' };
    for (const status of Object.keys(ERROR_RESPONSES)) responses[status] = { $ref: `#/components/responses/Error${status}` };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.name,
      ...(route.summary ? { summary: route.summary } : {}),
      description: `Served by the GraphQL ${route.operationType} \`${route.operationName}\`:\n\n\`\`\`graphql\n${route.document}\n\`\`\``,
      tags: route.tags,
      parameters,
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }
  const errorSchema: JsonSchema = {
    type: 'object',
    required: ['detail', 'code'],
    properties: {
      detail: { type: 'string', description: 'What was expected and what arrived.' },
      code: { type: 'string', enum: [...ERROR_CODES, NOT_FOUND] },
      loc: { type: 'array', items: { type: 'string' }, description: 'Where the bad parameter is, e.g. `["query", "limit"]`.' },
      errors: {
        type: 'array',
        description: 'Every error, when there were several.',
        items: { type: 'object', required: ['message', 'code'], properties: { message: { type: 'string' }, code: { type: 'string' }, path: { type: 'array', items: { type: ['string', 'integer'] } } } },
      },
    },
  };
  const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Nexus Gateway REST API',
      version: '1',
      description: 'The platform\'s REST routes, each served by a GraphQL operation of the gateway (`/graphql`). Errors answer `{"detail", "code"}`; the status follows the code.',
    },
    paths,
    components: {
      schemas: { Error: errorSchema },
      responses: {
        NotFound: errorResponse('No entity has this id (`NOT_FOUND`).'),
        ...Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([status, description]) => [`Error${status}`, errorResponse(description)])),
      },
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
    // Anonymous callers have the public role: tours and destinations need no credentials.
    security: [{}, { apiKey: [] }, { bearer: [] }],
  };
}

/** A parameter's own schema: whether it may be omitted is `required`, not `null`. */
function nonNull(schema: JsonSchema): JsonSchema {
  const type = schema['type'];
  if (Array.isArray(type)) return { ...schema, type: type.find((t) => t !== 'null') };
  return schema;
}
