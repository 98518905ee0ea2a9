/**
 * Decides how the GraphiQL chart panel shows a GraphQL result: finds the first list of row
 * objects in `data` and picks a line chart (a time-like column), a bar chart (a category column
 * and numbers) or a table. Pure: no DOM, no chart library; chart-draw.ts draws the spec.
 */

/** One row of a result list, nested objects flattened to dotted keys (`tour.name`). */
export type Row = Readonly<Record<string, unknown>>;

/** One line (or set of bars) of a chart. */
export interface Series {
  /** Legend label: the measure, the category, or both (`VN revenue`). */
  label: string;
  /** Column the values come from, e.g. `revenue`. */
  measure: string;
  /** Category value (joined with ` · ` for several category columns); absent without categories. */
  category?: string;
  /** One value per label; null where the result has no row for it. */
  values: (number | null)[];
  /** CSS colour, from {@link PALETTE}. */
  color: string;
  /** Dashed line, to tell measures apart when colours tell categories apart. */
  dashed: boolean;
  /** `y` (left) or `y1` (right): a measure far larger or smaller than the first gets its own axis. */
  axis: 'y' | 'y1';
}

/** A chart of rows: lines over time, or bars per category. */
export interface PlotSpec {
  kind: 'line' | 'bar';
  /** Where the rows are in the result, e.g. `data.revenueSeries`. */
  source: string;
  /** x-axis column(s): the time column, or the category columns joined with ` · `. */
  xTitle: string;
  /** x-axis labels, in order: times ascending, categories as the result ordered them. */
  labels: string[];
  series: Series[];
  /** Numeric columns charted, in result order. */
  measures: string[];
  /** Category values with a line each (line charts with a category column); empty otherwise. */
  categories: string[];
  /** Measures on each y axis; `y1` is empty when one axis serves all. */
  axes: { y: string[]; y1: string[] };
  /** Said under the chart when not everything is drawn. */
  note?: string;
}

/** Rows that are neither a time series nor categories with numbers. */
export interface TableSpec {
  kind: 'table';
  source: string;
  columns: string[];
  rows: Row[];
}

/** Nothing to show, and why. */
export interface NoneSpec {
  kind: 'none';
  reason: string;
}

export type ChartSpec = PlotSpec | TableSpec | NoneSpec;

/** Series colours (Tableau 10): distinct, readable on light and dark backgrounds. */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
] as const;

/** Beyond this many categories a line chart is unreadable; the rest are left out with a note. */
export const MAX_LINE_CATEGORIES = 20;

/** Field names that mark a time bucket even when values are not ISO strings (e.g. epoch numbers). */
const TIME_FIELD_NAMES = new Set(['time', 'bucket']);
/** Relay plumbing, never a category. */
const IGNORED_FIELD_NAMES = new Set(['cursor', '__typename']);
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
/** Two measures whose largest values differ by more than this factor get separate axes. */
const SHARED_AXIS_RATIO = 10;

/**
 * The chart for a response as GraphiQL shows it (its JSON text). Empty text (nothing run yet, or
 * a run in flight), unparsable text, and results without `data` give a `none` spec with a reason.
 */
export function chartSpecFromResponse(text: string | null | undefined): ChartSpec {
  if (!text?.trim()) return { kind: 'none', reason: 'Run a query to chart its result.' };
  let result: unknown;
  try {
    result = JSON.parse(text);
  } catch {
    return { kind: 'none', reason: 'The response is not JSON, so there is nothing to chart.' };
  }
  const data = isRecord(result) ? result['data'] : undefined;
  if (!isRecord(data)) return { kind: 'none', reason: 'The last response has no data to chart.' };
  return chartSpec(data);
}

/** The chart for a result's `data`: the first list of row objects found, depth first in field order. */
export function chartSpec(data: Readonly<Record<string, unknown>>): ChartSpec {
  const found = findRows(data, 'data');
  if (!found) return { kind: 'none', reason: 'The result has no list of rows to chart.' };
  const { source, rows } = found;
  if (rows.length === 0) return { kind: 'none', reason: `${source} has no rows.` };

  const columns = columnsOf(rows);
  const time = columns.find((column) => isTimeColumn(column, rows));
  const measures = columns.filter((column) => column !== time && isNumericColumn(column, rows));
  const categoryColumns = columns.filter(
    (column) => column !== time && !IGNORED_FIELD_NAMES.has(leafName(column)) && isCategoryColumn(column, rows),
  );

  if (time !== undefined && measures.length > 0) return lineSpec(source, rows, time, measures, categoryColumns);
  if (categoryColumns.length > 0 && measures.length > 0) return barSpec(source, rows, categoryColumns, measures);
  return { kind: 'table', source, columns, rows };
}

/** The first array in `value` (depth first) whose items are all objects, with its path; nulls in it are skipped. */
export function findRows(value: unknown, path: string): { source: string; rows: Row[] } | undefined {
  if (Array.isArray(value)) {
    const items = value.filter((item) => item !== null);
    if (items.every(isRecord)) return { source: path, rows: items.map((item) => flatten(item)) };
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const found = findRows(child, `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}

function lineSpec(
  source: string,
  rows: readonly Row[],
  time: string,
  measures: readonly string[],
  categoryColumns: readonly string[],
): PlotSpec {
  const times = unique(rows.map((row) => row[time]).filter((value) => value !== null && value !== undefined)).sort(
    compareTimes,
  );
  const timeIndex = new Map<unknown, number>(times.map((value, index) => [value, index]));
  const allCategories = categoryColumns.length > 0 ? unique(rows.map((row) => categoryOf(row, categoryColumns))) : [];
  const categories = allCategories.slice(0, MAX_LINE_CATEGORIES);
  const axisOf = axisAssignment(rows, measures);

  const series: Series[] = [];
  const groups: (string | undefined)[] = categories.length > 0 ? categories : [undefined];
  groups.forEach((category, groupIndex) => {
    measures.forEach((measure, measureIndex) => {
      const values: (number | null)[] = times.map(() => null);
      for (const row of rows) {
        if (category !== undefined && categoryOf(row, categoryColumns) !== category) continue;
        const index = timeIndex.get(row[time]);
        const value = row[measure];
        if (index === undefined || typeof value !== 'number') continue;
        values[index] = (values[index] ?? 0) + value;
      }
      const label =
        category === undefined ? measure : measures.length > 1 ? `${category} ${measure}` : category;
      series.push({
        label,
        measure,
        ...(category === undefined ? {} : { category }),
        values,
        // Colour tells categories apart when there are any, measures otherwise; dashes then tell measures apart.
        color: colorAt(category === undefined ? measureIndex : groupIndex),
        dashed: category !== undefined && measureIndex > 0,
        axis: axisOf(measure),
      });
    });
  });

  return {
    kind: 'line',
    source,
    xTitle: time,
    labels: timeLabels(times),
    series,
    measures: [...measures],
    categories,
    axes: axesOf(measures, axisOf),
    ...(allCategories.length > categories.length
      ? { note: `Showing the first ${categories.length} of ${allCategories.length} ${categoryColumns.join(' · ')} values.` }
      : {}),
  };
}

function barSpec(source: string, rows: readonly Row[], categoryColumns: readonly string[], measures: readonly string[]): PlotSpec {
  const labels = unique(rows.map((row) => categoryOf(row, categoryColumns)));
  const labelIndex = new Map(labels.map((label, index) => [label, index]));
  const axisOf = axisAssignment(rows, measures);
  const series = measures.map((measure, measureIndex): Series => {
    const values: (number | null)[] = labels.map(() => null);
    for (const row of rows) {
      const index = labelIndex.get(categoryOf(row, categoryColumns));
      const value = row[measure];
      if (index === undefined || typeof value !== 'number') continue;
      values[index] = (values[index] ?? 0) + value;
    }
    return { label: measure, measure, values, color: colorAt(measureIndex), dashed: false, axis: axisOf(measure) };
  });
  return {
    kind: 'bar',
    source,
    xTitle: categoryColumns.join(' · '),
    labels,
    series,
    measures: [...measures],
    categories: [],
    axes: axesOf(measures, axisOf),
  };
}

/**
 * The first measure sets the left axis; another measure joins it when its largest value is
 * within {@link SHARED_AXIS_RATIO} of the first's, else goes right (bookings next to revenue
 * would otherwise be a flat line at zero).
 */
function axisAssignment(rows: readonly Row[], measures: readonly string[]): (measure: string) => 'y' | 'y1' {
  const peak = (measure: string): number =>
    rows.reduce((max, row) => {
      const value = row[measure];
      return typeof value === 'number' ? Math.max(max, Math.abs(value)) : max;
    }, 0);
  const first = measures[0] === undefined ? 0 : peak(measures[0]);
  const axes = new Map(
    measures.map((measure, index): [string, 'y' | 'y1'] => {
      if (index === 0) return [measure, 'y'];
      const own = peak(measure);
      const comparable = first === 0 || own === 0 || (own / first <= SHARED_AXIS_RATIO && first / own <= SHARED_AXIS_RATIO);
      return [measure, comparable ? 'y' : 'y1'];
    }),
  );
  return (measure) => axes.get(measure) ?? 'y';
}

function axesOf(measures: readonly string[], axisOf: (measure: string) => 'y' | 'y1'): PlotSpec['axes'] {
  return {
    y: measures.filter((measure) => axisOf(measure) === 'y'),
    y1: measures.filter((measure) => axisOf(measure) === 'y1'),
  };
}

/**
 * Short labels for time buckets: `2026-01` when every value is the first of a month at
 * midnight UTC, `2026-01-05` when every value is a midnight, else `2026-01-05 13:00`.
 */
export function timeLabels(values: readonly unknown[]): string[] {
  const dates = values.map(toDate);
  if (dates.some((date) => date === undefined)) return values.map(String);
  const defined = dates as Date[];
  const midnight = defined.every((d) => d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0);
  const monthly = midnight && defined.every((d) => d.getUTCDate() === 1);
  return defined.map((d) => {
    const iso = d.toISOString();
    if (monthly) return iso.slice(0, 7);
    if (midnight) return iso.slice(0, 10);
    return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
  });
}

function toDate(value: unknown): Date | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function compareTimes(a: unknown, b: unknown): number {
  const da = toDate(a)?.getTime();
  const db = toDate(b)?.getTime();
  if (da !== undefined && db !== undefined) return da - db;
  return String(a).localeCompare(String(b));
}

function isTimeColumn(column: string, rows: readonly Row[]): boolean {
  const values = presentValues(column, rows);
  if (values.length === 0) return false;
  if (TIME_FIELD_NAMES.has(leafName(column))) return values.every((value) => toDate(value) !== undefined);
  return values.every((value) => typeof value === 'string' && ISO_DATE_TIME.test(value));
}

function isNumericColumn(column: string, rows: readonly Row[]): boolean {
  const values = presentValues(column, rows);
  return values.length > 0 && values.every((value) => typeof value === 'number' && Number.isFinite(value));
}

function isCategoryColumn(column: string, rows: readonly Row[]): boolean {
  const values = presentValues(column, rows);
  return values.length > 0 && values.every((value) => typeof value === 'string' && !ISO_DATE_TIME.test(value));
}

function presentValues(column: string, rows: readonly Row[]): unknown[] {
  return rows.map((row) => row[column]).filter((value) => value !== null && value !== undefined);
}

/** Category key of a row; a missing value reads `(none)` so its rows still form a group. */
function categoryOf(row: Row, categoryColumns: readonly string[]): string {
  return categoryColumns.map((column) => (typeof row[column] === 'string' ? row[column] : '(none)')).join(' · ');
}

function columnsOf(rows: readonly Row[]): string[] {
  return unique(rows.flatMap((row) => Object.keys(row)));
}

/** Nested objects become dotted keys (`tour.name`); arrays and scalars stay as they are. */
function flatten(record: Readonly<Record<string, unknown>>, prefix = '', into: Record<string, unknown> = {}): Row {
  for (const [key, value] of Object.entries(record)) {
    if (isRecord(value)) flatten(value, `${prefix}${key}.`, into);
    else into[`${prefix}${key}`] = value;
  }
  return into;
}

function leafName(column: string): string {
  return column.slice(column.lastIndexOf('.') + 1);
}

function colorAt(index: number): string {
  return PALETTE[index % PALETTE.length] ?? PALETTE[0];
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
