import { execute, getOperationAST, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { GatewayContext } from '../context.ts';
import { freshnessOf } from './extension.ts';
import type { GatewayFreshness } from './gateway-freshness.ts';
import { readAfterOf } from './read-after.ts';
import type { WaitOutcome } from './watermark-tracker.ts';

/**
 * Executes a query or mutation that arrived over graphql-ws or GraphQL over SSE the way Apollo's
 * plugin does for HTTP: `@readAfter` waits first (a refused position is the only error, nothing
 * executes), and the result carries `extensions.freshness` for the roles it read.
 */
export async function executeWithFreshness(args: ExecutionArgs, freshness: GatewayFreshness): Promise<ExecutionResult> {
  const operation = getOperationAST(args.document, args.operationName);
  let readAfter: WaitOutcome | undefined;
  if (operation) {
    let asked;
    try {
      asked = readAfterOf(args.schema, operation, args.variableValues ?? undefined, freshness.readAfterMaxWaitMs);
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      throw error;
    }
    if (asked) readAfter = await freshness.tracker.waitFor(asked.position, asked.maxWaitMs);
  }
  const result = await execute(args);
  const context = args.contextValue as GatewayContext | undefined;
  const extension = freshnessOf(Object.keys(context?.calls.summary() ?? {}), freshness.tracker);
  if (readAfter) extension.readAfter = readAfter;
  return Object.keys(extension).length > 0 ? { ...result, extensions: { ...result.extensions, freshness: extension } } : result;
}
