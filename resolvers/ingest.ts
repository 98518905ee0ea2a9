import { GraphQLError } from 'graphql';
import type { EventInput, IngestReceipt, Resolvers } from '../src/generated/graphql.ts';
import { receiptPosition } from '../src/freshness/receipt-position.ts';
import type { EventSubmission, IngestOutcome } from '../ingest/publisher.ts';
import { userInputError } from '../src/errors.ts';

/** Most events one `ingestEvents` call takes. */
export const MAX_BATCH = 1_000;

function submissionOf(input: EventInput): EventSubmission {
  return {
    eventType: input.eventType,
    userId: input.userId,
    tourId: input.tourId ?? null,
    region: input.region ?? null,
    amount: input.amount ?? null,
    currency: input.currency ?? null,
    occurredAt: input.occurredAt ?? null,
    source: input.source ?? null,
    payload: input.payload ?? null,
  };
}

function receiptOf(outcome: Extract<IngestOutcome, { ok: true }>): IngestReceipt {
  const { ack } = outcome;
  return { eventId: ack.eventId, topic: ack.topic, partition: ack.partition, offset: ack.offset, duplicate: ack.duplicate, position: receiptPosition(ack, Date.now()) };
}

/** Per-item results of a batch, with rejection paths from the argument (`inputs`/`records`). */
function batchResult(outcomes: readonly IngestOutcome[], argument: string) {
  const results = outcomes.map((outcome, index) =>
    outcome.ok
      ? { index, receipt: receiptOf(outcome), rejection: null }
      : { index, receipt: null, rejection: { ...outcome.rejection, path: [argument, String(index), ...outcome.rejection.path] } },
  );
  const accepted = results.filter((r) => r.receipt !== null).length;
  return { accepted, rejected: results.length - accepted, results };
}

function checkKey(key: string | null | undefined): void {
  if (key != null && (key.length === 0 || key.length > 200)) {
    throw userInputError('Argument "idempotencyKey" must be 1 to 200 characters.', { argumentName: 'idempotencyKey' });
  }
}

export const ingestResolvers: Resolvers = {
  Mutation: {
    ingestEvent: async (_, args, ctx) => {
      checkKey(args.idempotencyKey);
      const [outcome] = await ctx.services.publisher.ingest([submissionOf(args.input)], [args.idempotencyKey ?? null]);
      if (!outcome) throw new Error('the publisher returned no outcome');
      if (!outcome.ok) {
        throw new GraphQLError(`Invalid event: ${outcome.rejection.message}`, {
          extensions: { code: 'BAD_USER_INPUT', argumentName: 'input', field: ['input', ...outcome.rejection.path].join('.'), fieldPath: ['input', ...outcome.rejection.path] },
        });
      }
      return receiptOf(outcome);
    },
    ingestEvents: async (_, args, ctx) => {
      checkKey(args.idempotencyKey);
      if (args.inputs.length > MAX_BATCH) {
        throw userInputError(`Argument "inputs" holds ${args.inputs.length} events; at most ${MAX_BATCH} are allowed per call.`, {
          argumentName: 'inputs',
        });
      }
      const keys = args.inputs.map((_, i) => (args.idempotencyKey == null ? null : `${args.idempotencyKey}:${i}`));
      const outcomes = await ctx.services.publisher.ingest(args.inputs.map(submissionOf), keys);
      return batchResult(outcomes, 'inputs');
    },
    ingestRecords: async (_, args, ctx) => {
      checkKey(args.idempotencyKey);
      if (args.records.length > MAX_BATCH) {
        throw userInputError(`Argument "records" holds ${args.records.length} records; at most ${MAX_BATCH} are allowed per call.`, {
          argumentName: 'records',
        });
      }
      // Keys are scoped by source, so the same client key used for two sources means two things.
      const keys = args.records.map((_, i) => (args.idempotencyKey == null ? null : `${args.source}:${args.idempotencyKey}:${i}`));
      const outcomes = await ctx.services.publisher.ingestRecords(args.source, args.records as unknown[], keys);
      return batchResult(outcomes, 'records');
    },
  },
  Subscription: {
    eventIngested: {
      subscribe: (_, args, ctx) => ctx.services.fanout.subscribe(args.filter ?? null, args.fromOffset ?? null),
      resolve: (event: unknown) => event as never,
    },
  },
};
