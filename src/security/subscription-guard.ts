import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type ExecutionArgs, type GraphQLSchema, type ValidationRule } from 'graphql';
import { LRUCache } from 'lru-cache';
import { queryLimitRules, tokenLimitRefusal, type QueryLimits } from './limits.ts';
import type { QueryCostMeter } from './query-cost.ts';

/** What a graphql-ws `subscribe` message carries. */
export interface SubscribeRequest {
  readonly query: string;
  readonly operationName?: string | null;
  readonly variables?: Record<string, unknown> | null;
}

/**
 * The graphql-ws `onSubscribe` step for query limits: parses with the token limit, validates with
 * the depth and alias limits, measures the cost, and answers either the execution arguments
 * (graphql-ws adds the context) or the errors, which graphql-ws sends as an `error` message
 * instead of starting a stream. Parse and validation errors carry BAD_USER_INPUT, as over HTTP
 * (without this step a syntax error would close the whole socket with 4500).
 */
export function createSubscriptionGuard(options: { schema: GraphQLSchema; limits: QueryLimits; meter: QueryCostMeter }): (request: SubscribeRequest) => ExecutionArgs | GraphQLError[] {
  const { schema, meter } = options;
  const rules: readonly ValidationRule[] = [...specifiedRules, ...queryLimitRules(options.limits)];
  const maxTokens = options.limits.maxTokens;
  // Valid documents by query text. Thousands of clients subscribe with the same text: one parse
  // and validation, and one document held for all of them instead of an AST (with its token list)
  // per subscription; the shared executor keys its groups by document, so it prints it once too.
  const valid = new LRUCache<string, DocumentNode>({ max: VALID_DOCUMENTS });
  return (request) => {
    let document = valid.get(request.query);
    if (!document) {
      try {
        document = parse(request.query, { maxTokens });
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        return [tokenLimitRefusal(error) ?? asUserInputError(error)];
      }
      const errors = validate(schema, document, rules);
      if (errors.length > 0) return errors.map(asUserInputError);
      valid.set(request.query, document);
    }
    const operationName = request.operationName ?? undefined;
    const variables = request.variables ?? undefined;
    const refusal = meter.check(document, operationName, variables);
    if (refusal) return [refusal];
    return { schema, document, operationName, variableValues: variables };
  };
}

/** Distinct subscription documents kept parsed and validated (a few per client application). */
const VALID_DOCUMENTS = 500;

/** A parse or validation error with BAD_USER_INPUT unless it has a code already. */
function asUserInputError(error: GraphQLError): GraphQLError {
  if (typeof error.extensions['code'] === 'string') return error;
  return new GraphQLError(error.message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    ...(error.source ? { source: error.source } : {}),
    ...(error.positions ? { positions: error.positions } : {}),
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
  });
}
