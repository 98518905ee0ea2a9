import { decodeCursor, encodeCursor, type PageWindow } from '../src/pagination.ts';
import type { EventPosition, EventSlice, IdSlice } from '../src/backends/lakehouse/queries.ts';
import type { EventRow } from '../src/domain.ts';

/** What a page read tells a connection: its rows in list order and whether more lie on each side. */
interface PageRead<T> {
  rows: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

function connection<T>(page: PageRead<T>, cursorOf: (node: T) => string) {
  const edges = page.rows.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

/** Relay connection of rows keyed by a string id (tours, destinations). */
export function idConnection<T extends { id: string }>(page: PageRead<T> & { totalCount: number }) {
  return { ...connection(page, (node) => encodeCursor([node.id])), totalCount: page.totalCount };
}

/** The id-ordered slice a window asks for (its cursor holds the id it starts next to). */
export function idSlice(window: PageWindow): IdSlice {
  const id = window.cursor === null ? null : decodeCursor(window.cursor, ['string'] as const, window.cursorArgument)[0];
  return window.backward ? { last: window.size, beforeId: id } : { first: window.size, afterId: id };
}

/** Relay connection of events (newest first; cursor = occurrence time and id). */
export function eventConnection(page: PageRead<EventRow> & { totalCount?: number }) {
  const built = connection(page, (node) => encodeCursor([node.occurredAt.getTime(), node.id]));
  return { ...built, total: page.totalCount ?? built.edges.length };
}

/** The keyset position an event cursor holds. */
export function eventPosition(cursor: string | null | undefined, argument: 'after' | 'before' = 'after'): EventPosition | null {
  if (cursor == null) return null;
  const [occurredAtMs, id] = decodeCursor(cursor, ['number', 'string'] as const, argument);
  return { occurredAtMs, id };
}

/** The slice of the newest-first event list a window asks for. */
export function eventSlice(window: PageWindow): EventSlice {
  const position = eventPosition(window.cursor, window.cursorArgument);
  return window.backward ? { last: window.size, before: position } : { first: window.size, after: position };
}
