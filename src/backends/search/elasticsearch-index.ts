import { errors, type Client, type TransportRequestOptions } from '@elastic/elasticsearch';
import type { DestinationRow, EventRow, TourRow } from '../../domain.ts';
import {
  DESTINATIONS_INDEX,
  EVENTS_INDEX,
  TOURS_INDEX,
  destinationDocument,
  eventDocument,
  indexNames,
  tourDocument,
  type IndexDefinition,
} from './elasticsearch-mappings.ts';

/**
 * Creating and filling the search role's Elasticsearch indices: used by the adapter (tours, at
 * start-up) and by a bootstrap command (destinations and events, which the platform's pipeline
 * keeps current in production). Functions take the raw client and throw the client's errors; the
 * adapter wraps them as `BackendError`s.
 */

/** Options shared by the indexing functions. */
export interface IndexingOptions {
  /** First part of every index name. Default `'nexus'`. */
  indexPrefix?: string;
  /** Documents per bulk request: large enough to amortise the round trip, small enough to stay far below `http.max_content_length`. Default 1000. */
  batchSize?: number;
  /** Refresh the index at the end, so what was written is searchable when the call returns. Default `true`. */
  refresh?: boolean;
  /** Per-request transport options (timeouts, abort signal); default the client's. */
  transport?: TransportRequestOptions;
}

const DEFAULT_PREFIX = 'nexus';
const DEFAULT_BATCH_SIZE = 1_000;

/**
 * Creates the tours, destinations and events indices under `prefix` with their mappings, leaving
 * existing ones untouched (mappings of an existing index are not changed: a mapping change needs a
 * new index and a re-index). Safe to run concurrently. Returns the names it created.
 */
export async function ensureIndices(
  client: Client,
  prefix: string = DEFAULT_PREFIX,
  options: { only?: readonly ('tours' | 'events' | 'destinations')[]; transport?: TransportRequestOptions } = {},
): Promise<string[]> {
  const names = indexNames(prefix);
  const definitions: Record<keyof typeof names, IndexDefinition> = { tours: TOURS_INDEX, events: EVENTS_INDEX, destinations: DESTINATIONS_INDEX };
  const created: string[] = [];
  for (const role of options.only ?? (['tours', 'destinations', 'events'] as const)) {
    const index = names[role];
    if (await client.indices.exists({ index }, options.transport)) continue;
    try {
      await client.indices.create({ index, ...definitions[role] }, options.transport);
      created.push(index);
    } catch (error) {
      // Another gateway instance created it between our check and our create.
      if (errorType(error) !== 'resource_already_exists_exception') throw error;
    }
  }
  return created;
}

/**
 * Writes every tour (document id = tour id), then removes tours an earlier run wrote that this
 * run did not: the index mirrors the lakehouse. Stale documents are found by `indexed_at` older
 * than this run's start, not by "not written by this run", so two instances re-indexing at once
 * never delete each other's fresh copies (this assumes their clocks agree within a run's length).
 */
export async function replaceTours(
  client: Client,
  tours: readonly TourRow[],
  destinationNames: ReadonlyMap<string, string>,
  options: IndexingOptions & {
    /** This run's `indexed_at`; must be later than the previous run's. Default now. */
    startedAt?: Date;
  } = {},
): Promise<void> {
  const index = indexNames(options.indexPrefix ?? DEFAULT_PREFIX).tours;
  const startedAt = options.startedAt ?? new Date();
  await bulkIndex(client, index, tours.map((tour) => [tour.id, tourDocument(tour, destinationNames, startedAt)]), options);
  // Refresh first: delete_by_query must see the new versions, or it reports conflicts on them.
  await client.indices.refresh({ index }, options.transport);
  await client.deleteByQuery(
    {
      index,
      query: { range: { indexed_at: { lt: startedAt.toISOString() } } },
      conflicts: 'proceed',
      refresh: options.refresh ?? true,
    },
    options.transport,
  );
}

/** Bulk-indexes events (document id = event id, so a re-run overwrites instead of duplicating). */
export async function indexEvents(client: Client, events: readonly EventRow[], options: IndexingOptions = {}): Promise<void> {
  const index = indexNames(options.indexPrefix ?? DEFAULT_PREFIX).events;
  await bulkIndex(client, index, events.map((event) => [event.id, eventDocument(event)]), { batchSize: 5_000, ...options });
  if (options.refresh ?? true) await client.indices.refresh({ index }, options.transport);
}

/** Bulk-indexes destinations (document id = destination id). */
export async function indexDestinations(client: Client, destinations: readonly DestinationRow[], options: IndexingOptions = {}): Promise<void> {
  const index = indexNames(options.indexPrefix ?? DEFAULT_PREFIX).destinations;
  await bulkIndex(client, index, destinations.map((d) => [d.id, destinationDocument(d)]), options);
  if (options.refresh ?? true) await client.indices.refresh({ index }, options.transport);
}

/**
 * Sends `documents` in bulk requests of `batchSize`. A bulk request answers 200 even when some
 * items failed (https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html,
 * response body: `errors`, per-item `status`/`error`), so the items are checked and any failure
 * throws naming the first few.
 */
async function bulkIndex(client: Client, index: string, documents: readonly [string, object][], options: IndexingOptions): Promise<void> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  for (let start = 0; start < documents.length; start += batchSize) {
    const batch = documents.slice(start, start + batchSize);
    const response = await client.bulk(
      { operations: batch.flatMap(([id, document]) => [{ index: { _index: index, _id: id } }, document]) },
      options.transport,
    );
    if (!response.errors) continue;
    const failures = response.items
      .map((item) => item.index)
      .filter((result) => result?.error)
      .map((result) => `${result?._id}: ${result?.error?.type}: ${result?.error?.reason}`);
    throw new Error(`bulk indexing into ${index} failed for ${failures.length} of ${batch.length} documents (${failures.slice(0, 3).join('; ')})`);
  }
}

/** The `error.type` of an Elasticsearch error response, if `error` is one. */
export function errorType(error: unknown): string | undefined {
  if (!(error instanceof errors.ResponseError)) return undefined;
  const body: unknown = error.meta.body;
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const detail: unknown = body.error;
  return typeof detail === 'object' && detail !== null && 'type' in detail && typeof detail.type === 'string' ? detail.type : undefined;
}
