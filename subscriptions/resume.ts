/**
 * Resuming `eventIngested` across transports: each result of it carries the bus position of its
 * event (a symbol property: never serialised, so graphql-ws frames are unchanged), which the SSE
 * transport writes as the event's `id:`; a reconnecting `EventSource` sends it back as
 * `Last-Event-ID`, which becomes the field's `fromOffset`.
 */
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
} from 'graphql';
import type { EventRow } from '../src/domain.ts';

/** The resumable subscription field and the argument that takes a position to resume after. */
export const RESUMABLE_FIELD = 'eventIngested';
export const RESUME_ARGUMENT = 'fromOffset';

/** Where the position of a result's event is kept on the result object. */
const POSITION = Symbol('busPosition');

/** The bus position of the event a subscription result was produced from; undefined for other results. */
export function positionOf(result: ExecutionResult): string | undefined {
  return (result as { [POSITION]?: string })[POSITION];
}

/**
 * graphql-js's `subscribe` (source stream, then `execute` per event with the event as root value:
 * https://spec.graphql.org/October2021/#MapSourceToResponseEvent), tagging each result of the
 * resumable field with its event's bus position.
 */
export async function subscribeWithPositions(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source;
  const events = source[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  const resumable = rootFieldsOf(args.document, args.operationName).includes(RESUMABLE_FIELD);
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const step = await events.next();
      if (step.done) return { done: true, value: undefined };
      const result = await execute({ ...args, rootValue: step.value });
      const offset = resumable ? (step.value as EventRow).offset : null;
      return { done: false, value: offset ? Object.assign(result, { [POSITION]: offset }) : result };
    },
    return: async () => {
      await events.return?.();
      return { done: true, value: undefined };
    },
    throw: async (error: unknown) => {
      await events.return?.();
      throw error;
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/**
 * The document with `fromOffset: "<position>"` on its resumable root field (replacing any given),
 * or the document itself when it does not subscribe to that field.
 */
export function resumedAt(document: DocumentNode, position: string): DocumentNode {
  return visit(document, {
    OperationDefinition(operation) {
      if (operation.operation !== 'subscription') return false;
      return {
        ...operation,
        selectionSet: {
          ...operation.selectionSet,
          selections: operation.selectionSet.selections.map((selection) =>
            selection.kind === Kind.FIELD && selection.name.value === RESUMABLE_FIELD ? withPosition(selection, position) : selection,
          ),
        },
      };
    },
  });
}

function withPosition(field: FieldNode, position: string): FieldNode {
  const others = (field.arguments ?? []).filter((argument) => argument.name.value !== RESUME_ARGUMENT);
  return {
    ...field,
    arguments: [...others, { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: RESUME_ARGUMENT }, value: { kind: Kind.STRING, value: position } }],
  };
}

function rootFieldsOf(document: DocumentNode, operationName: string | null | undefined): string[] {
  const operation = getOperationAST(document, operationName);
  return (operation?.selectionSet.selections ?? []).flatMap((selection) => (selection.kind === Kind.FIELD ? [selection.name.value] : []));
}
