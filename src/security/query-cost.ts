import {
  GraphQLError,
  Kind,
  TypeInfo,
  ValidationContext,
  getNamedType,
  getOperationAST,
  isObjectType,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import { createComplexityRule, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE } from '../pagination.ts';
import { queryTooComplex, type QueryLimits } from './limits.ts';

/**
 * Cost estimate of an operation: every field costs 1; a field with a `first` argument (a page, or a
 * top-N list) multiplies the cost of its children by `first` (or `last`, paging backward) — the
 * value sent, else the argument's default in the schema, else `DEFAULT_PAGE_SIZE` for a connection
 * that pages both ways (its resolver's default), else `MAX_PAGE_SIZE` — and a connection without
 * `first` (a type with `edges`) multiplies by `MAX_PAGE_SIZE`, and `nodes(ids:)` by the number of ids. A `first` above `MAX_PAGE_SIZE` counts as
 * `MAX_PAGE_SIZE`: the resolver refuses it with BAD_USER_INPUT before fetching anything. Other
 * lists (a connection's `edges`, the regions of `regionalStats`, a health report's backends)
 * count once: their size is set by a `first` above them or is small and fixed. A federation
 * subgraph's `_entities` multiplies by the number of `representations` it is sent (uncapped: only
 * `maxCost` bounds it).
 */
export function pageCostEstimator(maxPageSize: number): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    const fieldArgs = (field as GraphQLField<unknown, unknown>).args;
    const first = fieldArgs.find((arg) => arg.name === 'first');
    let multiplier = 1;
    const representations: unknown = args['representations'];
    if (field.name === '_entities' && Array.isArray(representations)) return 1 + representations.length * childComplexity;
    if (first) {
      const sent: unknown = args['first'] ?? args['last'];
      const bidirectional = fieldArgs.some((arg) => arg.name === 'last');
      const fallback = typeof first.defaultValue === 'number' ? first.defaultValue : bidirectional ? DEFAULT_PAGE_SIZE : maxPageSize;
      multiplier = typeof sent === 'number' ? sent : fallback;
    } else if (isConnection(field.type)) {
      multiplier = maxPageSize;
    } else if (Array.isArray(args['ids'])) {
      // `nodes(ids:)`: one object per id.
      multiplier = args['ids'].length;
    }
    return 1 + Math.min(Math.max(multiplier, 0), maxPageSize) * childComplexity;
  };
}

function isConnection(type: GraphQLOutputType): boolean {
  const named = getNamedType(type);
  return isObjectType(named) && 'edges' in named.getFields();
}

const COST_ARGUMENTS = new Set(['first', 'last', 'ids', 'if', 'representations']);

/** Measured costs of one document: which variables can change the cost, and the costs seen. */
interface DocumentCosts {
  costVariables: readonly string[];
  costs: Map<string, number>;
}

/** Costs remembered per document and cost-relevant variables; a document's entries past this are dropped. */
const COSTS_PER_DOCUMENT = 64;

/**
 * Measures operations against `maxCost` (and the fragment fan-out guard). Costs are remembered
 * per parsed document (Apollo reuses one document object per query text) and per the values of
 * the variables that can change them (`first`, `@include`/`@skip`), so a repeated query is
 * measured once.
 */
export class QueryCostMeter {
  readonly #schema: GraphQLSchema;
  readonly #limits: QueryLimits;
  readonly #estimators: ComplexityEstimator[];
  readonly #documents = new WeakMap<DocumentNode, DocumentCosts>();

  constructor(schema: GraphQLSchema, limits: QueryLimits) {
    this.#schema = schema;
    this.#limits = limits;
    this.#estimators = [pageCostEstimator(limits.maxPageSize)];
  }

  /** The refusal of a valid document's operation when it costs too much; undefined when it may run. */
  check(document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown> | undefined): GraphQLError | undefined {
    const operation = getOperationAST(document, operationName);
    // No operation to run (several and no name, or a name not in the document): execution refuses it.
    if (!operation) return undefined;
    const name = operation.name?.value;
    let known = this.#documents.get(document);
    if (!known) {
      known = { costVariables: costVariablesOf(document), costs: new Map() };
      this.#documents.set(document, known);
    }
    // A list (an `_entities` request's representations) counts by its length.
    const costOf = (value: unknown) => (Array.isArray(value) ? value.length : (value ?? null));
    const key = `${name ?? ''}\n${known.costVariables.length === 0 ? '' : JSON.stringify(known.costVariables.map((v) => costOf(variables?.[v])))}`;
    let cost = known.costs.get(key);
    if (cost === undefined) {
      const measured = this.#measure(document, name, variables);
      if (measured instanceof GraphQLError) return measured;
      cost = measured.cost;
      if (measured.complete) {
        if (known.costs.size >= COSTS_PER_DOCUMENT) known.costs.clear();
        known.costs.set(key, cost);
      }
    }
    return cost > this.#limits.maxCost ? queryTooComplex('cost', cost, this.#limits.maxCost, { nodes: operation }) : undefined;
  }

  /**
   * The operation's cost, or the fan-out refusal. `complete` is false when a variable or argument
   * did not coerce: execution refuses those itself (the operation, or the field, does not run), so
   * the estimate counts what can still run, and is not remembered (other variables of the same
   * cost key may coerce).
   */
  #measure(document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown> | undefined): { cost: number; complete: boolean } | GraphQLError {
    // Not getComplexity(): it throws the first argument error it met instead of the estimate.
    let complete = true;
    const typeInfo = new TypeInfo(this.#schema);
    const context = new ValidationContext(this.#schema, document, typeInfo, () => {
      complete = false;
    });
    // Bounds the work of the estimate itself: fragments spread many times over are evaluated at
    // every spread. Without fragments an operation has fewer selections than tokens; a field
    // costs at least 1, a fragment spread or @skip-ped selection nothing, hence twice the budget.
    const maxSelections = Math.max(2 * this.#limits.maxCost, 10_000);
    const visitor = createComplexityRule({
      maximumComplexity: Number.POSITIVE_INFINITY,
      estimators: this.#estimators,
      ...(variables ? { variables } : {}),
      ...(operationName === undefined ? {} : { operationName }),
      maxQueryNodes: maxSelections + 1,
    })(context);
    try {
      visit(document, visitWithTypeInfo(typeInfo, visitor));
    } catch (error) {
      // The only error the visitor throws (rather than reports) is its selection guard.
      if (error instanceof GraphQLError) return queryTooComplex('selections', maxSelections + 1, maxSelections);
      throw error;
    }
    return { cost: visitor.complexity, complete };
  }
}

/** Names of the variables that can change a document's cost: those given to `first`, `last`, `ids`, `representations` or a directive's `if`. */
function costVariablesOf(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if (COST_ARGUMENTS.has(node.name.value) && node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
    },
  });
  return [...names].sort();
}
