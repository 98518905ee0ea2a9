import { getDirectiveValues, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { userInputError } from '../errors.ts';
import { parseReceiptPosition, type ReceiptPosition } from './receipt-position.ts';

/** The executable directive of read-your-writes (schema/freshness.graphql). */
export const READ_AFTER_DIRECTIVE = 'readAfter';

/** What an operation's `@readAfter` asks for. */
export interface ReadAfterRequest {
  position: ReceiptPosition;
  /** The wait granted: the client's `maxWaitMs`, never above the gateway's ceiling. */
  maxWaitMs: number;
}

/**
 * The operation's `@readAfter(position, maxWaitMs)`, or undefined when it has none. A position
 * the gateway did not make, or a negative wait, is refused with BAD_USER_INPUT naming the
 * argument, before anything executes. `ceilingMs` is READ_AFTER_MAX_WAIT_MS: a client may lower
 * the wait, not raise it.
 */
export function readAfterOf(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  ceilingMs: number,
): ReadAfterRequest | undefined {
  if (!operation.directives?.some((d) => d.name.value === READ_AFTER_DIRECTIVE)) return undefined;
  const directive = schema.getDirective(READ_AFTER_DIRECTIVE);
  if (!directive) return undefined;
  const values = getDirectiveValues(directive, operation, variables ?? {});
  if (!values) return undefined;
  const token = values['position'];
  const position = typeof token === 'string' ? parseReceiptPosition(token) : undefined;
  if (!position) {
    throw userInputError('@readAfter(position:) expects the `position` of an IngestReceipt from this gateway; the value given is not one.', {
      argumentName: 'position',
    });
  }
  const asked = values['maxWaitMs'];
  if (typeof asked === 'number' && asked < 0) {
    throw userInputError(`@readAfter(maxWaitMs:) must be 0 or more, got ${asked}.`, { argumentName: 'maxWaitMs' });
  }
  return { position, maxWaitMs: typeof asked === 'number' ? Math.min(asked, ceilingMs) : ceilingMs };
}
