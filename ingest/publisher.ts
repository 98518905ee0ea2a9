import { randomUUID } from 'node:crypto';
import type { ErrorObject } from 'ajv';
import type { BusPort, PublishAck } from '../src/backends/bus/port.ts';
import type { EventTypeName } from '../src/domain.ts';
import { userInputError } from '../src/errors.ts';
import type { Source, SourceRegistry } from './registry.ts';

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
  sourceId: string;
  contractVersion: number;
}

/** Fields the gateway sets on every published record; a client may not send them. */
export const ENRICHMENT_FIELDS = ['eventId', 'ingestedAt', 'sourceId', 'contractVersion'] as const;

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
  /**
   * Publishes records of any registered source (`ingestRecords`): each record is the source's
   * contract minus the enrichment fields, which the gateway adds. Same guarantees as `ingest`.
   */
  ingestRecords(sourceId: string, records: readonly unknown[], idempotencyKeys: readonly (string | null)[]): Promise<IngestOutcome[]>;
}

/** A validated, enriched record ready for the bus. */
interface Prepared {
  record: Record<string, unknown>;
  source: Source;
}

export function createPublisher(options: PublisherOptions): Publisher {
  const maxSkew = options.maxFutureSkewMs ?? 5 * 60_000;

  /** Publishes the accepted items in one bus call; rejected ones keep their rejection. */
  async function publish(prepared: readonly (Prepared | Rejection)[], idempotencyKeys: readonly (string | null)[]): Promise<IngestOutcome[]> {
    const outcomes: (IngestOutcome | undefined)[] = new Array(prepared.length);
    const accepted: { index: number; item: Prepared }[] = [];
    prepared.forEach((item, index) => {
      if ('code' in item) outcomes[index] = { ok: false, rejection: item };
      else accepted.push({ index, item });
    });
    if (accepted.length > 0) {
      const acks = await options.bus.publish(
        accepted.map(({ index, item }) => {
          const eventId = String(item.record['eventId']);
          const key = item.record[item.source.partitioning];
          return {
            topic: item.source.topic,
            key: typeof key === 'string' || typeof key === 'number' ? String(key) : eventId,
            eventId,
            value: JSON.stringify(item.record),
            idempotencyKey: idempotencyKeys[index] ?? null,
          };
        }),
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
  }

  return {
    ingest(submissions, idempotencyKeys) {
      const now = new Date();
      return publish(
        submissions.map((submission) => prepare(submission, now, maxSkew, options.registry)),
        idempotencyKeys,
      );
    },
    ingestRecords(sourceId, records, idempotencyKeys) {
      const source = options.registry.byId(sourceId);
      if (!source || !source.enabled) {
        const known = options.registry.sources.filter((s) => s.enabled).map((s) => s.sourceId);
        throw userInputError(`"${sourceId}" is not an enabled source (known: ${known.join(', ')}).`, { argumentName: 'source' });
      }
      const now = new Date();
      return publish(
        records.map((record) => prepareRecord(source, record, now)),
        idempotencyKeys,
      );
    },
  };
}

/** A generic record: a JSON object without the enrichment fields, validated after enrichment. */
function prepareRecord(source: Source, record: unknown, now: Date): Prepared | Rejection {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { code: 'BAD_USER_INPUT', message: `A record of ${source.sourceId} must be a JSON object.`, path: [] };
  }
  for (const field of ENRICHMENT_FIELDS) {
    if (field in record) return { code: 'BAD_USER_INPUT', message: `${field} is set by the gateway; leave it out.`, path: [field] };
  }
  const enriched: Record<string, unknown> = {
    ...(record as Record<string, unknown>),
    eventId: randomUUID(),
    ingestedAt: now.toISOString(),
    sourceId: source.sourceId,
    contractVersion: source.contractVersion,
  };
  if (!source.validate(enriched)) return rejectionOf(source.validate.errors ?? [], source.topic);
  return { record: enriched, source };
}

function prepare(submission: EventSubmission, now: Date, maxSkew: number, registry: SourceRegistry): Prepared | Rejection {
  const source = registry.routeOf(submission.eventType);
  if (!source) {
    return { code: 'BAD_USER_INPUT', message: `No enabled source takes "${submission.eventType}" events.`, path: ['eventType'] };
  }
  const occurredAt = submission.occurredAt ?? now;
  if (occurredAt.getTime() > now.getTime() + maxSkew) {
    return {
      code: 'BAD_USER_INPUT',
      message: `occurredAt ${occurredAt.toISOString()} is in the future (now is ${now.toISOString()}).`,
      path: ['occurredAt'],
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
    sourceId: source.sourceId,
    contractVersion: source.contractVersion,
  };
  // Optional fields the contract does not list as nullable are dropped rather than sent as null.
  const candidate = Object.fromEntries(Object.entries(event).filter(([, value]) => value !== null));
  if (!source.validate(candidate)) return rejectionOf(source.validate.errors ?? [], source.topic);
  return { record: event as unknown as Record<string, unknown>, source };
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
