import { decodeCursor, encodeCursor } from '../src/pagination.ts';
import type { EventPosition } from '../src/backends/lakehouse/queries.ts';
import type { EventRow } from '../src/domain.ts';

/** Relay connection of rows keyed by a string id (tours, destinations). */
export function idConnection<T extends { id: string }>(page: { rows: T[]; hasNextPage: boolean; totalCount: number }, after: string | null | undefined) {
  const edges = page.rows.map((node) => ({ cursor: encodeCursor([node.id]), node }));
  return {
    edges,
    totalCount: page.totalCount,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

/** The id after which an id-ordered page starts, from an `after` cursor. */
export function afterId(after: string | null | undefined): string | null {
  return after == null ? null : decodeCursor(after, ['string'] as const)[0];
}

/** Relay connection of events (newest first; cursor = occurrence time and id). */
export function eventConnection(page: { rows: EventRow[]; hasNextPage: boolean; totalCount?: number }, after: string | null | undefined) {
  const edges = page.rows.map((node) => ({ cursor: encodeCursor([node.occurredAt.getTime(), node.id]), node }));
  return {
    edges,
    total: page.totalCount ?? edges.length,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

export function eventPosition(after: string | null | undefined): EventPosition | null {
  if (after == null) return null;
  const [occurredAtMs, id] = decodeCursor(after, ['number', 'string'] as const);
  return { occurredAtMs, id };
}
