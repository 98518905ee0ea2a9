import { randomUUID } from 'node:crypto';
import type { ErrorObject } from 'ajv';
import type { BusPort, PublishAck } from '../src/backends/bus/port.ts';
import type { EventTypeName } from '../src/domain.ts';
import type { SourceRegistry } from './registry.ts';

/** An event as a client sends it (GraphQL `EventInput`, event type in lower case). */
export interface EventSubmission {
  eventType: EventTypeName;
  userId: string;
  tourId?: string | null;
  region?: string | null;
  amount?: number | null;
  currency?: string | null;
  occurredAt?: Date | null;
  source?: string | null;
  payload?: unknown;
}

/** Why a submission was refused: the failing field's path inside the input. */
export interface Rejection {
  code: 'BAD_USER_INPUT';
  message: string;
  path: string[];
}

export type IngestOutcome = { ok: true; ack: PublishAck } | { ok: false; rejection: Rejection };

/** The record published for an accepted event: the submission, enriched. */
export interface PublishedEvent {
  eventId: string;
  eventType: EventTypeName;
  userId: string;
  tourId: string | null;
  region: string | null;
  amount: number | null;
  currency: string | null;
  occurredAt: string;
  source: string;
  payload: unknown;
  ingestedAt: string;
  contractVersion: number;
}

/** Options of the publisher. */
export interface PublisherOptions {
  bus: BusPort;
  registry: SourceRegistry;
  /** Allowed clock skew for `occurredAt` in the future, in ms. Default 5 minutes. */
  maxFutureSkewMs?: number;
}

/**
 * Validates submissions against their topic's contract, enriches them (event id, ingestion time,
 * contract version), routes them by event type and publishes them. Invalid submissions are
 * rejected one by one and never reach the bus; valid ones are acknowledged only after the bus
 * made them durable.
 */
export interface Publisher {
  ingest(submissions: readonly EventSubmission[], idempotencyKeys: readonly (string | null)[]): Promise<IngestOutcome[]>;
}

export function createPublisher(options: PublisherOptions): Publisher {
  const maxSkew = options.maxFutureSkewMs ?? 5 * 60_000;
  return {
    async ingest(submissions, idempotencyKeys) {
      const outcomes: (IngestOutcome | undefined)[] = new Array(submissions.length);
      const accepted: { index: number; event: PublishedEvent; topic: string }[] = [];
      const now = new Date();
      submissions.forEach((submission, index) => {
        const result = prepare(submission, now, maxSkew, options.registry);
        if ('rejection' in result) outcomes[index] = { ok: false, rejection: result.rejection };
        else accepted.push({ index, event: result.event, topic: result.topic });
      });
      if (accepted.length > 0) {
        const acks = await options.bus.publish(
          accepted.map(({ index, event, topic }) => ({
            topic,
            key: event.userId,
            eventId: event.eventId,
            value: JSON.stringify(event),
            idempotencyKey: idempotencyKeys[index] ?? null,
          })),
        );
        accepted.forEach(({ index }, i) => {
          const ack = acks[i];
          if (!ack) throw new Error(`the bus acknowledged ${acks.length} of ${accepted.length} records`);
          outcomes[index] = { ok: true, ack };
        });
      }
      return outcomes.map((outcome) => {
        if (!outcome) throw new Error('an ingest outcome is missing');
        return outcome;
      });
    },
  };
}

function prepare(
  submission: EventSubmission,
  now: Date,
  maxSkew: number,
  registry: SourceRegistry,
): { event: PublishedEvent; topic: string } | { rejection: Rejection } {
  const source = registry.routeOf(submission.eventType);
  if (!source) {
    return { rejection: { code: 'BAD_USER_INPUT', message: `No enabled source takes "${submission.eventType}" events.`, path: ['eventType'] } };
  }
  const occurredAt = submission.occurredAt ?? now;
  if (occurredAt.getTime() > now.getTime() + maxSkew) {
    return {
      rejection: {
        code: 'BAD_USER_INPUT',
        message: `occurredAt ${occurredAt.toISOString()} is in the future (now is ${now.toISOString()}).`,
        path: ['occurredAt'],
      },
    };
  }
  const payload = submission.payload === undefined ? null : submission.payload;
  const event: PublishedEvent = {
    eventId: randomUUID(),
    eventType: submission.eventType,
    userId: submission.userId,
    tourId: submission.tourId ?? null,
    region: submission.region ?? null,
    amount: submission.amount ?? null,
    currency: submission.currency ?? null,
    occurredAt: occurredAt.toISOString(),
    source: submission.source ?? 'gateway',
    payload,
    ingestedAt: now.toISOString(),
    contractVersion: source.contractVersion,
  };
  // Optional fields the contract does not list as nullable are dropped rather than sent as null.
  const candidate = Object.fromEntries(Object.entries(event).filter(([, value]) => value !== null));
  if (!source.validate(candidate)) {
    return { rejection: rejectionOf(source.validate.errors ?? [], source.topic) };
  }
  return { event, topic: source.topic };
}

/** The most specific contract violation, phrased for the client, with the input path. */
function rejectionOf(errors: readonly ErrorObject[], topic: string): Rejection {
  // `if/then` wrappers report a generic "must match then schema"; prefer the concrete error.
  const concrete = errors.filter((e) => e.keyword !== 'if');
  const error = concrete[0] ?? errors[0];
  if (!error) return { code: 'BAD_USER_INPUT', message: `The event does not satisfy the ${topic} contract.`, path: [] };
  const path = error.instancePath.split('/').filter(Boolean);
  if (error.keyword === 'required') path.push((error.params as { missingProperty: string }).missingProperty);
  if (error.keyword === 'additionalProperties') path.push((error.params as { additionalProperty: string }).additionalProperty);
  const field = path.length > 0 ? path.join('.') : 'event';
  const detail =
    error.keyword === 'required'
      ? 'is required'
      : error.keyword === 'pattern'
        ? `must match ${(error.params as { pattern: string }).pattern}`
        : (error.message ?? 'is invalid');
  return { code: 'BAD_USER_INPUT', message: `${field} ${detail} (contract of ${topic}).`, path };
}
