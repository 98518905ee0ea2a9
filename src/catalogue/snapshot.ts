import type { DestinationRow, TourRow } from '../domain.ts';
import {
  idKeyset,
  sliced,
  type DestinationFilterInput,
  type IdSlice,
  type Keyset,
  type Page,
  type TourFilterInput,
} from '../backends/lakehouse/queries.ts';

/** The whole catalogue: every tour and destination. */
export interface CatalogueRows {
  tours: readonly TourRow[];
  destinations: readonly DestinationRow[];
}

/**
 * One version of the catalogue tables (`silver.tours`, `silver.destinations`) held in memory, and
 * the catalogue reads answered from it. Every read gives exactly what the same read gives in SQL
 * (`src/backends/lakehouse/queries.ts`) on the lakehouse holding these rows: the same rows, order,
 * page flags and counts, with SQL's NULL semantics (a NULL rating matches no `minRating`, a tour
 * without destination no `destinationId`). The catalogue contract suite holds both to that.
 *
 * A snapshot never changes: a refresh builds a new one and swaps it in, so a read in progress
 * sees one version throughout. Rows are frozen, since every request shares them.
 */
export class CatalogueSnapshot {
  /** Tours in `tour_id` order. */
  private readonly tours: readonly TourRow[];
  private readonly tourIndex: ReadonlyMap<string, TourRow>;
  /** Each destination's tours, in `tour_id` order. */
  private readonly toursOfDestination: ReadonlyMap<string, readonly TourRow[]>;
  /** Destinations in `destination_id` order. */
  private readonly destinations: readonly DestinationRow[];
  private readonly destinationIndex: ReadonlyMap<string, DestinationRow>;
  /** Totals of filters already counted in this snapshot. */
  private readonly counts = new Map<string, number>();

  constructor(tours: readonly TourRow[], destinations: readonly DestinationRow[]) {
    this.tours = [...tours].sort((a, b) => compareText(a.id, b.id)).map(freezeTour);
    this.destinations = [...destinations].sort((a, b) => compareText(a.id, b.id)).map((d) => (Object.isFrozen(d) ? d : Object.freeze({ ...d })));
    this.tourIndex = new Map(this.tours.map((t) => [t.id, t]));
    this.destinationIndex = new Map(this.destinations.map((d) => [d.id, d]));
    const byDestination = new Map<string, TourRow[]>();
    for (const tour of this.tours) {
      if (tour.destinationId === null) continue;
      let own = byDestination.get(tour.destinationId);
      if (!own) byDestination.set(tour.destinationId, (own = []));
      own.push(tour);
    }
    this.toursOfDestination = byDestination;
  }

  /** The same snapshot with other tours (a refresh of `silver.tours` alone). */
  withTours(tours: readonly TourRow[]): CatalogueSnapshot {
    return new CatalogueSnapshot(tours, this.destinations);
  }

  /** The same snapshot with other destinations. */
  withDestinations(destinations: readonly DestinationRow[]): CatalogueSnapshot {
    return new CatalogueSnapshot(this.tours, destinations);
  }

  /** Every row held, in key order (what a tour index is built from). */
  rows(): CatalogueRows {
    return { tours: this.tours, destinations: this.destinations };
  }

  /** Rows held: tours plus destinations. */
  get size(): number {
    return this.tours.length + this.destinations.length;
  }

  toursPage(args: IdSlice & { filter?: TourFilterInput | null; withTotal?: boolean }): Page<TourRow> {
    const matches = tourMatcher(args.filter);
    const page = keysetPage(this.tours, (t) => t.id, matches, idKeyset(args));
    return (args.withTotal ?? true) ? { ...page, totalCount: this.total('tours', this.tours, args.filter, matches) } : page;
  }

  toursByIds(ids: readonly string[]): TourRow[] {
    return rowsOf(this.tourIndex, ids);
  }

  /**
   * As the SQL read: per destination (ascending), its tours on the slice's side of the cursor,
   * nearest the cursor first, one look-ahead row past the slice; `totals` counts each destination's
   * rows on that side (destinations without any are absent).
   */
  toursByDestinations(args: IdSlice & { destinationIds: readonly string[] }): { rows: TourRow[]; totals: Map<string, number> } {
    const keyset = idKeyset(args);
    const rows: TourRow[] = [];
    const totals = new Map<string, number>();
    for (const destinationId of [...new Set(args.destinationIds)].sort(compareText)) {
      const own = this.toursOfDestination.get(destinationId) ?? [];
      const side = keyset.cursor === null ? own : own.filter((t) => (keyset.backward ? compareText(t.id, keyset.cursor!) < 0 : compareText(t.id, keyset.cursor!) > 0));
      if (side.length === 0) continue;
      totals.set(destinationId, side.length);
      const nearest = keyset.backward ? side.slice(-(keyset.size + 1)).reverse() : side.slice(0, keyset.size + 1);
      rows.push(...nearest);
    }
    return { rows, totals };
  }

  destinationsPage(args: IdSlice & { filter?: DestinationFilterInput | null; withTotal?: boolean }): Page<DestinationRow> {
    const matches = destinationMatcher(args.filter);
    const page = keysetPage(this.destinations, (d) => d.id, matches, idKeyset(args));
    return (args.withTotal ?? true) ? { ...page, totalCount: this.total('destinations', this.destinations, args.filter, matches) } : page;
  }

  /**
   * How many rows match a filter: counted once per snapshot and filter (a catalogue page's count
   * is asked again with every page of it), at most {@link COUNTS_KEPT} filters kept.
   */
  private total<R>(list: string, rows: readonly R[], filter: object | null | undefined, matches: ((row: R) => boolean) | undefined): number {
    if (!matches) return rows.length;
    const key = `${list}:${JSON.stringify(filter)}`;
    let count = this.counts.get(key);
    if (count === undefined) {
      count = 0;
      for (const row of rows) if (matches(row)) count += 1;
      if (this.counts.size >= COUNTS_KEPT) this.counts.clear();
      this.counts.set(key, count);
    }
    return count;
  }

  destinationsByIds(ids: readonly string[]): DestinationRow[] {
    return rowsOf(this.destinationIndex, ids);
  }
}

/** Filters whose totals a snapshot keeps (then it starts over). */
const COUNTS_KEPT = 1_000;

/**
 * SQL's order of text: by code point (DuckDB and Trino compare UTF-8 bytes, which is the same).
 * JavaScript's `<` compares UTF-16 units instead, which puts U+E000–U+FFFF after characters beyond
 * U+FFFF; the units are shifted here so surrogates sort last.
 */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointUnit(x) - codePointUnit(y);
  }
  return a.length - b.length;
}

function codePointUnit(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** A frozen copy of a row read from the lakehouse; a row of an earlier snapshot (frozen already) is kept as it is. */
function freezeTour(tour: TourRow): TourRow {
  return Object.isFrozen(tour) ? tour : Object.freeze({ ...tour, tags: Object.freeze([...tour.tags]) as string[] });
}

/** The rows of `ids` that exist, each once (as `WHERE id IN (...)`). */
function rowsOf<R>(index: ReadonlyMap<string, R>, ids: readonly string[]): R[] {
  const rows: R[] = [];
  for (const id of new Set(ids)) {
    const row = index.get(id);
    if (row !== undefined) rows.push(row);
  }
  return rows;
}

/** The tour filter as the SQL WHERE clause reads it (an empty list filters nothing), as one function. */
function tourMatcher(filter: TourFilterInput | null | undefined): ((tour: TourRow) => boolean) | undefined {
  if (!filter) return undefined;
  const regions = setOf(filter.regions);
  const categories = setOf(filter.categories);
  const destinationId = filter.destinationId ?? null;
  const minPrice = filter.minPrice ?? null;
  const maxPrice = filter.maxPrice ?? null;
  const minRating = filter.minRating ?? null;
  const tags = filter.tags ?? [];
  if (!regions && !categories && destinationId === null && minPrice === null && maxPrice === null && minRating === null && tags.length === 0) return undefined;
  return (t) =>
    (regions === undefined || regions.has(t.region)) &&
    (categories === undefined || categories.has(t.category)) &&
    (destinationId === null || t.destinationId === destinationId) &&
    (minPrice === null || t.price >= minPrice) &&
    (maxPrice === null || t.price <= maxPrice) &&
    (minRating === null || (t.rating !== null && t.rating >= minRating)) &&
    (tags.length === 0 || tags.every((tag) => t.tags.includes(tag)));
}

function destinationMatcher(filter: DestinationFilterInput | null | undefined): ((destination: DestinationRow) => boolean) | undefined {
  if (!filter) return undefined;
  const countries = setOf(filter.countryCodes);
  const minRating = filter.minRating ?? null;
  if (!countries && minRating === null) return undefined;
  return (d) => (countries === undefined || countries.has(d.countryCode)) && (minRating === null || (d.rating !== null && d.rating >= minRating));
}

function setOf(values: readonly string[] | null | undefined): Set<string> | undefined {
  return values && values.length > 0 ? new Set(values) : undefined;
}

/**
 * A keyset page of `rows` (sorted by key): up to `size + 1` matching rows past the cursor, nearest
 * first, then as `sliced` reads them; without its total (NaN).
 */
function keysetPage<R>(rows: readonly R[], key: (row: R) => string, matches: ((row: R) => boolean) | undefined, keyset: Keyset<string>): Page<R> {
  const wanted = keyset.size + 1;
  const found: R[] = [];
  if (keyset.backward) {
    const end = keyset.cursor === null ? rows.length : lowerBound(rows, key, keyset.cursor);
    for (let i = end - 1; i >= 0 && found.length < wanted; i -= 1) if (!matches || matches(rows[i]!)) found.push(rows[i]!);
  } else {
    const start = keyset.cursor === null ? 0 : upperBound(rows, key, keyset.cursor);
    for (let i = start; i < rows.length && found.length < wanted; i += 1) if (!matches || matches(rows[i]!)) found.push(rows[i]!);
  }
  return { ...sliced(found, keyset), totalCount: Number.NaN };
}

/** Index of the first row whose key is not below `cursor`. */
function lowerBound<R>(rows: readonly R[], key: (row: R) => string, cursor: string): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareText(key(rows[mid]!), cursor) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first row whose key is above `cursor`. */
function upperBound<R>(rows: readonly R[], key: (row: R) => string, cursor: string): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareText(key(rows[mid]!), cursor) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
