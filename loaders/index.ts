import type { Tracer } from '@opentelemetry/api';
import DataLoader from 'dataloader';
import type { DestinationRow, EventRow, RecommendationRow, TourRow, TourStatsRow, UserProfileRow } from '../src/domain.ts';
import { tourStats } from '../src/backends/analytics/queries.ts';
import { userProfilesFromGold } from '../src/backends/lakehouse/gold.ts';
import { executionsOfRuns, latestExecutionsOfSources, pipelineRunsByIds, type SourceExecutionRow } from '../src/platform/metadata-reads.ts';
import type { PipelineRunRecord } from '../src/platform/metadata.ts';
import { bookingsByUsers, childPage, eventsByIds, existingUsers, type EventSlice, type IdSlice } from '../src/backends/lakehouse/queries.ts';
import type { CatalogueReads } from '../src/catalogue/reads.ts';
import { recommendTours } from '../src/backends/lakehouse/recommendations.ts';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { tracedBatch } from '../src/observability/tracing.ts';
import { withSharedCache, type RowCodec, type SharedRowCache } from './shared-cache.ts';

/** What the loaders read from: the request's (instrumented) SQL roles, and the shared row cache. */
export interface LoaderSources {
  lakehouse: SqlEngine;
  analytics: SqlEngine;
  /** Tours and destinations (the catalogue replica while it is current, else the lakehouse). */
  catalogue: CatalogueReads;
  /** Cross-request cache of reference rows (tours, destinations); absent: every request reads the backend. */
  shared?: SharedRowCache;
  /** The gateway's tracer, when it traces: each batch then runs in a span of its own. */
  tracer?: Tracer | undefined;
}

const TOURS: RowCodec<TourRow> = {
  namespace: 'tour',
  tables: ['silver.tours'],
  encode: (row) => JSON.stringify(row),
  decode: (text) => {
    const row = JSON.parse(text) as TourRow;
    return { ...row, updatedAt: new Date(row.updatedAt) };
  },
};
const DESTINATIONS: RowCodec<DestinationRow> = {
  namespace: 'destination',
  tables: ['silver.destinations'],
  encode: (row) => JSON.stringify(row),
  decode: (text) => JSON.parse(text) as DestinationRow,
};

/** A page of rows that belong to one parent (a destination's tours, a user's bookings). */
export interface ChildPage<T> {
  rows: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: number;
}

/** Loader key of a parent's page: every key of a batch with the same slice shares a statement. */
interface PageKey<S> {
  parentId: string;
  slice: S;
}

const EMPTY_PAGE = Object.freeze({ rows: [], hasNextPage: false, hasPreviousPage: false, totalCount: 0 });

/**
 * The request's DataLoaders. Built fresh for every request (never shared between users):
 * each batches the keys of one request level into one backend statement and caches per request.
 */
export interface Loaders {
  tourById: DataLoader<string, TourRow | null>;
  destinationById: DataLoader<string, DestinationRow | null>;
  eventById: DataLoader<string, EventRow | null>;
  pipelineRunById: DataLoader<string, PipelineRunRecord | null>;
  tourStatsById: DataLoader<string, TourStatsRow>;
  userProfileById: DataLoader<string, UserProfileRow | null>;
  userExists: DataLoader<string, boolean>;
  toursOfDestination: DataLoader<PageKey<IdSlice>, ChildPage<TourRow>, string>;
  bookingsOfUser: DataLoader<PageKey<EventSlice>, ChildPage<EventRow>, string>;
  recommendationsOfUser: DataLoader<{ userId: string; first: number }, RecommendationRow[], string>;
  sourceExecutionsOfRun: DataLoader<string, SourceExecutionRow[]>;
  executionsOfSource: DataLoader<{ sourceId: string; first: number }, SourceExecutionRow[], string>;
}

/** Orders `rows` by `keys`, with `fallback(key)` where a key has no row. */
function byKey<K, R, V>(keys: readonly K[], rows: readonly R[], rowKey: (row: R) => K, fallback: (key: K) => V, map: (row: R) => V): V[] {
  const found = new Map<K, R>();
  for (const row of rows) found.set(rowKey(row), row);
  return keys.map((key) => {
    const row = found.get(key);
    return row === undefined ? fallback(key) : map(row);
  });
}

/** Groups keys by their slice, so each group is one statement. */
function groupByPage<K extends PageKey<unknown>>(keys: readonly K[]): Map<string, K[]> {
  const groups = new Map<string, K[]>();
  for (const key of keys) {
    const group = JSON.stringify(key.slice);
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  return groups;
}

const pageKey = (key: PageKey<unknown>) => `${key.parentId}\u0000${JSON.stringify(key.slice)}`;

export function createLoaders(sources: LoaderSources): Loaders {
  const { lakehouse, analytics, catalogue } = sources;
  // The row cache is for rows read from the lakehouse; the in-process catalogue answers faster than it.
  const catalogueRows = <T>(codec: RowCodec<T>, load: (ids: readonly string[]) => Promise<(T | null)[]>) => {
    const cached = withSharedCache(sources.shared, codec, load);
    return (ids: readonly string[]) => (catalogue.inProcess ? load(ids) : cached(ids));
  };
  // One span per batch when tracing (the batch function itself otherwise).
  const traced = <K, V>(name: string, batch: DataLoader.BatchLoadFn<K, V>) => tracedBatch(sources.tracer, name, batch);
  return {
    tourById: new DataLoader(
      traced('tourById', catalogueRows(TOURS, async (ids) => byKey(ids, await catalogue.toursByIds(ids), (t) => t.id, () => null, (t) => t))),
    ),
    destinationById: new DataLoader(
      traced(
        'destinationById',
        catalogueRows(DESTINATIONS, async (ids) => byKey(ids, await catalogue.destinationsByIds(ids), (d) => d.id, () => null, (d) => d)),
      ),
    ),
    eventById: new DataLoader(traced('eventById', async (ids) => byKey(ids, await eventsByIds(lakehouse, ids), (e) => e.id, () => null, (e) => e))),
    pipelineRunById: new DataLoader(
      traced('pipelineRunById', async (ids) => byKey(ids, await pipelineRunsByIds(lakehouse, ids), (r) => r.id, () => null, (r) => r)),
    ),
    tourStatsById: new DataLoader(
      traced('tourStatsById', async (ids) =>
        byKey(
          ids,
          await tourStats(analytics, ids),
          (s) => s.tourId,
          (tourId) => ({ tourId, bookings: 0, revenue: 0, views: 0 }),
          (s) => s,
        ),
      ),
    ),
    // User 360 is a gold table of the lakehouse, refreshed by every medallion run.
    userProfileById: new DataLoader(
      traced('userProfileById', async (ids) => byKey(ids, await userProfilesFromGold(lakehouse, ids), (p) => p.userId, () => null, (p) => p)),
    ),
    sourceExecutionsOfRun: new DataLoader(
      traced('sourceExecutionsOfRun', async (runIds) => {
        const rows = await executionsOfRuns(lakehouse, runIds);
        return runIds.map((id) => rows.filter((r) => r.runId === id));
      }),
    ),
    executionsOfSource: new DataLoader<{ sourceId: string; first: number }, SourceExecutionRow[], string>(
      traced('executionsOfSource', async (keys) => {
        // One statement per distinct page size (one, in practice), for every source asking for it.
        const byFirst = new Map<number, SourceExecutionRow[]>();
        for (const first of new Set(keys.map((k) => k.first))) {
          const sourceIds = [...new Set(keys.filter((k) => k.first === first).map((k) => k.sourceId))];
          byFirst.set(first, await latestExecutionsOfSources(lakehouse, sourceIds, first));
        }
        return keys.map((key) => (byFirst.get(key.first) ?? []).filter((r) => r.sourceId === key.sourceId));
      }),
      { cacheKeyFn: (key) => `${key.sourceId}\u0000${key.first}` },
    ),
    userExists: new DataLoader(
      traced('userExists', async (ids) => {
        const existing = await existingUsers(lakehouse, ids);
        return ids.map((id) => existing.has(id));
      }),
    ),
    toursOfDestination: new DataLoader<PageKey<IdSlice>, ChildPage<TourRow>, string>(
      traced('toursOfDestination', async (keys) => {
        const pages = new Map<string, ChildPage<TourRow>>();
        for (const group of groupByPage(keys).values()) {
          const { slice } = group[0]!;
          const { rows, totals } = await catalogue.toursByDestinations({ ...slice, destinationIds: group.map((k) => k.parentId) });
          for (const key of group) {
            const own = rows.filter((t) => t.destinationId === key.parentId);
            pages.set(pageKey(key), { ...childPage(own, slice), totalCount: totals.get(key.parentId) ?? 0 });
          }
        }
        return keys.map((key) => pages.get(pageKey(key)) ?? EMPTY_PAGE);
      }),
      { cacheKeyFn: pageKey },
    ),
    bookingsOfUser: new DataLoader<PageKey<EventSlice>, ChildPage<EventRow>, string>(
      traced('bookingsOfUser', async (keys) => {
        const pages = new Map<string, ChildPage<EventRow>>();
        for (const group of groupByPage(keys).values()) {
          const { slice } = group[0]!;
          const rows = await bookingsByUsers(lakehouse, { ...slice, userIds: group.map((k) => k.parentId) });
          for (const key of group) {
            const own = rows.filter((e) => e.userId === key.parentId);
            pages.set(pageKey(key), { ...childPage(own, slice), totalCount: own.length });
          }
        }
        return keys.map((key) => pages.get(pageKey(key)) ?? EMPTY_PAGE);
      }),
      { cacheKeyFn: pageKey },
    ),
    recommendationsOfUser: new DataLoader(
      traced('recommendationsOfUser', async (keys) => {
        const first = Math.max(...keys.map((k) => k.first));
        const ranked = await recommendTours(lakehouse, [...new Set(keys.map((k) => k.userId))], first);
        return keys.map((key) => (ranked.get(key.userId) ?? []).slice(0, key.first));
      }),
      { cacheKeyFn: (key) => `${key.userId}\u0000${key.first}` },
    ),
  };
}
