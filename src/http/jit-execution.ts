import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway'];

/** What a document compiles to, per operation name: the compiled query, or `false` where graphql-js runs it. */
type Compiled = Map<string | null, CompiledQuery | false>;

/**
 * Query execution with graphql-jit inside Apollo Server's request pipeline. Apollo still parses,
 * validates (the query limits included), runs every plugin hook and formats errors; only the
 * execution step is swapped, through Apollo's executor interface (`gateway`, which is how Apollo
 * lets a server bring its own executor). graphql-jit compiles each validated document once into a
 * function of its own, so a list of fifty tours costs a fraction of graphql-js's field-by-field
 * walk; the compiled form is kept beside Apollo's parsed document and goes when it goes.
 *
 * Mutations keep graphql-js (their fields run one after the other, and they are few); so do
 * introspection and anything graphql-jit declines to compile. Subscriptions never come here (the
 * subscription transports execute them).
 *
 * One difference from graphql-js to write resolvers for: in a list whose items are promises,
 * graphql-jit drops an item whose promise rejects before an earlier item's resolves, where
 * graphql-js answers `null` there with the error. A list resolver that may fail per item returns
 * one promise of the list, its failed items as `Error` values (both executors then answer `null`
 * and the error at that item), as `Query.nodes` does. The federation subgraph's `_entities` (a
 * library's list of promises) keeps graphql-js: the gateway does not compile with it.
 */
export function jitExecution(schema: GraphQLSchema): NonNullable<Gateway> {
  const compiled = new WeakMap<DocumentNode, Compiled>();
  const compiledFor = (document: DocumentNode, operationName: string | null): CompiledQuery | false => {
    let byName = compiled.get(document);
    if (!byName) compiled.set(document, (byName = new Map()));
    let query = byName.get(operationName);
    if (query === undefined) {
      const result = introspects(document) ? undefined : compileQuery(schema, document, operationName ?? undefined, { disablingCapturingStackErrors: true });
      query = result !== undefined && isCompiledQuery(result) ? result : false;
      byName.set(operationName, query);
    }
    return query;
  };
  return {
    async load() {
      return {
        async executor(request) {
          const { document, operation, context } = request;
          // The name the client asked for (the context's `operationName` is the resolved one's: null when none was found).
          const operationName = request.request.operationName ?? null;
          const variables = request.request.variables ?? {};
          // No operation resolved (several in the document, none named): graphql-js words Apollo's error.
          const query = operation?.operation === 'query' ? compiledFor(document, operationName) : false;
          const viaGraphqlJs = () => execute({ schema, document, operationName, contextValue: context, variableValues: variables });
          if (!query) return viaGraphqlJs();
          const result = (await query.query(undefined, context, variables)) as ExecutionResult;
          // No data at all: the variables were refused before anything ran. graphql-js words those
          // errors as Apollo expects (a 400 with BAD_USER_INPUT naming the variable).
          if (result.data === undefined && result.errors?.length) return viaGraphqlJs();
          return result.errors ? { ...result, errors: result.errors.map((error) => asGraphQLError(error, document)) } : result;
        },
      };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    async stop() {},
  };
}

/** Whether a document reads the schema itself (`__schema`, `__type`): graphql-js answers those. */
function introspects(document: DocumentNode): boolean {
  const source = document.loc?.source.body;
  return source === undefined || /\b__(?:schema|type)\b/.test(source);
}

/**
 * graphql-jit reports field errors as objects shaped only partly like graphql-js's GraphQLError;
 * Apollo's plugins and the gateway's error normalisation (backend failures, masking) expect the
 * whole thing. The same error built by graphql-js:
 * message, path, the resolver's original error (its extensions come with it), and the locations
 * (graphql-js keeps them as offsets into the document's source).
 */
function asGraphQLError(error: unknown, document: DocumentNode): GraphQLError {
  // Its errors pass `instanceof GraphQLError` but lack what the constructor sets (`extensions`, ...): rebuilt, always.
  const e = error as { message: string; path?: readonly (string | number)[]; locations?: readonly { line: number; column: number }[]; originalError?: Error; extensions?: Record<string, unknown> };
  const source = document.loc?.source;
  const positions = source && e.locations?.map(({ line, column }) => offsetOf(source.body, line, column));
  return new GraphQLError(e.message, {
    ...(source && positions ? { source, positions } : {}),
    ...(e.path ? { path: e.path } : {}),
    ...(e.originalError ? { originalError: e.originalError } : {}),
    ...(e.extensions ? { extensions: e.extensions } : {}),
  });
}

/** The offset of 1-based `line`, `column` in `text`. */
function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let current = 1; current < line; current += 1) {
    const next = text.indexOf('\n', offset);
    if (next < 0) break;
    offset = next + 1;
  }
  return offset + column - 1;
}
