import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, type ASTNode, type OperationDefinitionNode, type Source, type ValidationContext, type ValidationRule } from 'graphql';
import type { Config } from '../config.ts';

/**
 * Limits an operation must stay within before anything executes. Every refusal is a GraphQL
 * error with `extensions.code = 'QUERY_TOO_COMPLEX'` and the figures that caused it.
 */
export interface QueryLimits {
  /**
   * Deepest field nesting (`{ a { b } }` is 2; fragments add no level of their own; `__schema`
   * introspection is not counted). `MAX_QUERY_DEPTH`, default 10.
   */
  readonly maxDepth: number;
  /** Aliased fields per operation, fragments included (`__typename` is free). `MAX_QUERY_ALIASES`, default 30. */
  readonly maxAliases: number;
  /** Estimated cost (see `query-cost.ts`). `MAX_QUERY_COST`, default 10000. */
  readonly maxCost: number;
  /** Lexical tokens in the document; the parser stops at the first token over it. `MAX_QUERY_TOKENS`, default 5000. */
  readonly maxTokens: number;
  /** Largest `first` a connection serves (`MAX_PAGE_SIZE`); the cost estimate never multiplies by more. */
  readonly maxPageSize: number;
}

/** Which limit refused the operation. `selections` guards the cost estimate itself against fragment fan-out. */
export type LimitName = 'depth' | 'aliases' | 'cost' | 'tokens' | 'selections';

/** The query limits of a gateway configuration. */
export function queryLimitsOf(config: Config): QueryLimits {
  return {
    maxDepth: config.maxQueryDepth,
    maxAliases: config.maxQueryAliases,
    maxCost: config.maxQueryCost,
    maxTokens: config.maxQueryTokens,
    maxPageSize: config.maxPageSize,
  };
}

const DESCRIBE: Record<LimitName, (measured: number, maximum: number) => string> = {
  depth: (measured, maximum) => `The operation nests fields ${measured} levels deep; at most ${maximum} are allowed.`,
  aliases: (measured, maximum) => `The operation uses ${measured} aliases; at most ${maximum} are allowed.`,
  cost: (measured, maximum) =>
    `The operation's estimated cost is ${measured} (1 per field, children multiplied by each list's \`first\`); at most ${maximum} is allowed.`,
  tokens: (_measured, maximum) => `The operation has more than ${maximum} tokens; at most ${maximum} are allowed.`,
  selections: (_measured, maximum) =>
    `The operation expands to more than ${maximum} field selections once its fragments are inlined; at most ${maximum} are evaluated.`,
};

/** The refusal of an operation by one limit: `extensions { code, limit, measured, maximum }`. */
export function queryTooComplex(
  limit: LimitName,
  measured: number,
  maximum: number,
  location: { nodes?: ASTNode | readonly ASTNode[]; source?: Source; positions?: readonly number[] } = {},
): GraphQLError {
  return new GraphQLError(DESCRIBE[limit](measured, maximum), {
    ...location,
    extensions: { code: 'QUERY_TOO_COMPLEX', limit, measured, maximum },
  });
}

/** A graphql-armor visitor: it measures one operation on entering it. */
interface ArmorVisitor {
  OperationDefinition: { enter: (this: ArmorVisitor, node: OperationDefinitionNode) => void };
}
type ArmorRule = (options: { n: number; flattenFragments?: boolean; onAccept: ((context: ValidationContext | null, details: { n: number }) => void)[] }) => (context: ValidationContext) => unknown;

/**
 * A graphql-armor rule used as a measuring instrument: given no ceiling it always "accepts" and
 * reports what it measured, and we refuse with our own error shape (armor's own refusal is a bare
 * "Syntax Error" without a code or figures, thrown rather than reported).
 */
function measuredBy(armorRule: ArmorRule, limit: LimitName, maximum: number): ValidationRule {
  return (context) => {
    let operation: OperationDefinitionNode | undefined;
    const inner = armorRule({
      n: Number.POSITIVE_INFINITY,
      // A fragment spread is not a level of the response: `{ ...F }` is as deep as F's fields.
      flattenFragments: true,
      onAccept: [
        (_context, { n }) => {
          if (n > maximum) context.reportError(queryTooComplex(limit, n, maximum, operation ? { nodes: operation } : {}));
        },
      ],
    })(context) as ArmorVisitor;
    return {
      OperationDefinition(node) {
        operation = node;
        inner.OperationDefinition.enter.call(inner, node);
      },
    };
  };
}

/** Validation rules for the document-only limits (depth, aliases); their verdict is cached with the document. */
export function queryLimitRules(limits: QueryLimits): ValidationRule[] {
  return [measuredBy(maxDepthRule as ArmorRule, 'depth', limits.maxDepth), measuredBy(maxAliasesRule as ArmorRule, 'aliases', limits.maxAliases)];
}

/**
 * graphql-js's own parser guard (`parse(source, { maxTokens })`) refuses with this syntax error
 * ("more that" is graphql-js's spelling). graphql-armor-max-tokens does the same by swapping the
 * parse function, which Apollo Server does not allow; the built-in option needs no second parse.
 */
const TOKEN_LIMIT_MESSAGE = /^Syntax Error: Document contains more (?:that|than) (\d+) tokens\. Parsing aborted\.$/;

/** The refusal hidden in a parser error, when the parser stopped at the token limit. */
export function tokenLimitRefusal(error: GraphQLError): GraphQLError | undefined {
  const match = TOKEN_LIMIT_MESSAGE.exec(error.message);
  if (!match) return undefined;
  const maximum = Number(match[1]);
  return queryTooComplex('tokens', maximum + 1, maximum, {
    ...(error.source ? { source: error.source } : {}),
    ...(error.positions ? { positions: error.positions } : {}),
  });
}

/**
 * The client-facing refusal inside an error Apollo raised before execution, if it is one: Apollo
 * wraps validation-rule errors as GRAPHQL_VALIDATION_FAILED and parser errors as
 * GRAPHQL_PARSE_FAILED, keeping ours as `originalError`.
 */
export function queryLimitRefusal(error: GraphQLError): GraphQLError | undefined {
  const original = error.originalError;
  if (!(original instanceof GraphQLError)) return undefined;
  if (original.extensions['code'] === 'QUERY_TOO_COMPLEX') return original;
  return tokenLimitRefusal(original);
}
