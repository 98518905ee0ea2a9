import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
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
          const { document, operationName, operation, context } = request;
          const variables = request.request.variables ?? {};
          const query = operation.operation === 'query' ? compiledFor(document, operationName) : false;
          if (query) return (await query.query(undefined, context, variables)) as ExecutionResult;
          return execute({ schema, document, operationName, contextValue: context, variableValues: variables });
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
