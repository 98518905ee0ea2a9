/**
 * Introspection (`__schema`, `__type`) follows the role: analysts and admins may introspect,
 * anyone else gets the whole operation refused (401 UNAUTHENTICATED without credentials, 403
 * FORBIDDEN with them). In open mode every caller is admin, so introspection stays available.
 * `__typename` is not introspection of the schema and is always allowed. Below analyst, errors
 * also lose graphql-js's "Did you mean …" suggestions, which name fields, arguments, types and
 * enum values a caller may not introspect (schema-recovery tools harvest them).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { BREAK, GraphQLError, Kind, visit, type DocumentNode } from 'graphql';
import type { AuthContext } from './auth-directive.ts';
import { roleAtLeast, type Principal } from './principal.ts';

const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);
// Apollo and graphql-ws keep parsed documents, so each distinct document is walked once.
const introspecting = new WeakMap<DocumentNode, boolean>();

/** Whether any operation or fragment of the document selects `__schema` or `__type`. */
export function selectsIntrospection(document: DocumentNode): boolean {
  let known = introspecting.get(document);
  if (known === undefined) {
    known = false;
    visit(document, {
      [Kind.FIELD](node) {
        if (!INTROSPECTION_FIELDS.has(node.name.value)) return undefined;
        known = true;
        return BREAK;
      },
    });
    introspecting.set(document, known);
  }
  return known;
}

/** Whether this principal may learn the schema: introspection and suggestions of names. */
export function maySeeSchema(principal: Principal | undefined): boolean {
  return principal !== undefined && roleAtLeast(principal.role, 'analyst');
}

// graphql-js appends its suggestions last: "… Did you mean "name"?", "… Did you mean the enum
// value "BOOKING"?", "… Did you mean to use an inline fragment on "Tour"?".
const SUGGESTION = / Did you mean [\s\S]*$/;

/** The errors as this principal may see them: without name suggestions below analyst. */
export function withSchemaHintsFor<E extends { readonly message: string }>(errors: readonly E[], principal: Principal | undefined): E[] {
  if (maySeeSchema(principal)) return [...errors];
  return errors.map((error) => (SUGGESTION.test(error.message) ? { ...error, message: error.message.replace(SUGGESTION, '') } : error));
}

/** The error refusing this document to this principal, or undefined when it may run. */
export function introspectionDenial(document: DocumentNode, principal: Principal): GraphQLError | undefined {
  if (maySeeSchema(principal) || !selectsIntrospection(document)) return undefined;
  if (principal.kind === 'anonymous') {
    return new GraphQLError('Introspection requires the analyst role. Authenticate with an API key (x-api-key) or a bearer token.', {
      extensions: { code: 'UNAUTHENTICATED' },
    });
  }
  return new GraphQLError(`Introspection requires the analyst role; this request has the ${principal.role} role.`, { extensions: { code: 'FORBIDDEN' } });
}

/** Options of {@link introspectionPlugin}. */
export interface IntrospectionPluginOptions {
  /** `WWW-Authenticate` value of the 401 answer (the schemes the gateway accepts). */
  challenge: string;
}

/** Apollo plugin refusing introspection below analyst, before execution, with 401 or 403, and hiding suggestions. */
export function introspectionPlugin(options: IntrospectionPluginOptions): ApolloServerPlugin<AuthContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          const body = response.body;
          if (body.kind === 'single' && body.singleResult.errors) body.singleResult.errors = withSchemaHintsFor(body.singleResult.errors, contextValue.principal);
        },
        async didResolveOperation(requestContext) {
          const denied = introspectionDenial(requestContext.document, requestContext.contextValue.principal);
          if (!denied) return;
          // Set on the response head directly: `extensions.http` on the error would also reach
          // the client through the gateway's error formatting.
          const anonymous = denied.extensions['code'] === 'UNAUTHENTICATED';
          requestContext.response.http.status = anonymous ? 401 : 403;
          if (anonymous) requestContext.response.http.headers.set('www-authenticate', options.challenge);
          throw denied;
        },
      };
    },
  };
}
