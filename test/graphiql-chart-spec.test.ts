/**
 * How the GraphiQL chart panel reads a result: which list it charts, and whether as lines, bars
 * or a table, with the series an analyst will see in the legend.
 */
import { describe, expect, it } from 'vitest';
import {
  chartSpec,
  chartSpecFromResponse,
  MAX_LINE_CATEGORIES,
  PALETTE,
  timeLabels,
  type ChartSpec,
  type PlotSpec,
} from '../web/graphiql/chart-spec.ts';

function plot(spec: ChartSpec): PlotSpec {
  if (spec.kind !== 'line' && spec.kind !== 'bar') throw new Error(`expected a chart, got ${JSON.stringify(spec)}`);
  return spec;
}

const month = (m: number) => `2026-${String(m).padStart(2, '0')}-01T00:00:00.000Z`;

describe('time series become line charts', () => {
  it('charts revenueSeries as one line per measure over monthly buckets, in time order', () => {
    const spec = plot(
      chartSpec({
        revenueSeries: [
          { bucket: month(2), bookings: 124, revenue: 115266.74 },
          { bucket: month(1), bookings: 116, revenue: 105886.97 },
          { bucket: month(3), bookings: 110, revenue: 80203.84 },
        ],
      }),
    );
    expect(spec).toMatchObject({ kind: 'line', source: 'data.revenueSeries', xTitle: 'bucket', categories: [] });
    expect(spec.labels).toEqual(['2026-01', '2026-02', '2026-03']);
    expect(spec.series.map((s) => [s.label, s.values, s.color, s.dashed])).toEqual([
      ['bookings', [116, 124, 110], PALETTE[0], false],
      ['revenue', [105886.97, 115266.74, 80203.84], PALETTE[1], false],
    ]);
    // Revenue is a thousand times bookings: on one axis bookings would lie flat on zero.
    expect(spec.axes).toEqual({ y: ['bookings'], y1: ['revenue'] });
    expect(spec.series.map((s) => s.axis)).toEqual(['y', 'y1']);
  });

  it('charts the analytics rows of "bookings and revenue by destination country per month" as a line per country and measure', () => {
    const rows = [
      { time: month(1), destinationCountry: 'VN', bookings: 40, revenue: 36000 },
      { time: month(1), destinationCountry: 'JP', bookings: 30, revenue: 51000 },
      { time: month(2), destinationCountry: 'VN', bookings: 45, revenue: 39000 },
      // JP has no bookings in February: a gap, not a zero the query never returned.
      { time: month(3), destinationCountry: 'JP', bookings: 28, revenue: 47000 },
      { time: month(3), destinationCountry: 'VN', bookings: 41, revenue: 35500 },
    ];
    const spec = plot(chartSpec({ analytics: { rows } }));
    expect(spec).toMatchObject({ kind: 'line', source: 'data.analytics.rows', xTitle: 'time' });
    expect(spec.labels).toEqual(['2026-01', '2026-02', '2026-03']);
    expect(spec.measures).toEqual(['bookings', 'revenue']);
    expect(spec.categories).toEqual(['VN', 'JP']);
    expect(spec.series.map((s) => ({ label: s.label, values: s.values, color: s.color, dashed: s.dashed, axis: s.axis }))).toEqual([
      { label: 'VN bookings', values: [40, 45, 41], color: PALETTE[0], dashed: false, axis: 'y' },
      { label: 'VN revenue', values: [36000, 39000, 35500], color: PALETTE[0], dashed: true, axis: 'y1' },
      { label: 'JP bookings', values: [30, null, 28], color: PALETTE[1], dashed: false, axis: 'y' },
      { label: 'JP revenue', values: [51000, null, 47000], color: PALETTE[1], dashed: true, axis: 'y1' },
    ]);
  });

  it('names a line by its category alone when there is one measure', () => {
    const spec = plot(
      chartSpec({
        analytics: {
          rows: [
            { time: month(1), destinationCountry: 'VN', bookings: 40 },
            { time: month(1), destinationCountry: 'TH', bookings: 22 },
          ],
        },
      }),
    );
    expect(spec.series.map((s) => s.label)).toEqual(['VN', 'TH']);
  });

  it('recognises ISO date-times under any field name, and sums rows that share a time', () => {
    const spec = plot(
      chartSpec({
        events: [
          { occurredAt: '2026-03-01T10:15:00Z', amount: 10 },
          { occurredAt: '2026-03-01T10:15:00Z', amount: 5 },
          { occurredAt: '2026-03-01T11:00:00Z', amount: 7 },
        ],
      }),
    );
    expect(spec).toMatchObject({ kind: 'line', xTitle: 'occurredAt', labels: ['2026-03-01 10:15', '2026-03-01 11:00'] });
    expect(spec.series.map((s) => s.values)).toEqual([[15, 7]]);
  });

  it('keeps measures of similar size on one axis', () => {
    const spec = plot(chartSpec({ series: [{ time: month(1), views: 900, clicks: 120 }] }));
    expect(spec.axes).toEqual({ y: ['views', 'clicks'], y1: [] });
  });

  it(`draws at most ${MAX_LINE_CATEGORIES} categories and says what it left out`, () => {
    const rows = Array.from({ length: MAX_LINE_CATEGORIES + 5 }, (_, i) => ({ time: month(1), city: `city ${i}`, bookings: i }));
    const spec = plot(chartSpec({ analytics: { rows } }));
    expect(spec.series).toHaveLength(MAX_LINE_CATEGORIES);
    expect(spec.note).toBe(`Showing the first ${MAX_LINE_CATEGORIES} of ${MAX_LINE_CATEGORIES + 5} city values.`);
  });
});

describe('categories with numbers become bar charts', () => {
  it('charts regionalStats as bars per region, one series per numeric field, in result order', () => {
    const spec = plot(
      chartSpec({
        regionalStats: [
          { region: 'VN', bookings: 235, revenue: 176194.19 },
          { region: 'JP', bookings: 209, revenue: 334456.12 },
          { region: 'TH', bookings: 170, revenue: 99052.1 },
        ],
      }),
    );
    expect(spec).toMatchObject({ kind: 'bar', source: 'data.regionalStats', xTitle: 'region', labels: ['VN', 'JP', 'TH'] });
    expect(spec.series.map((s) => [s.label, s.values, s.color, s.axis])).toEqual([
      ['bookings', [235, 209, 170], PALETTE[0], 'y'],
      ['revenue', [176194.19, 334456.12, 99052.1], PALETTE[1], 'y1'],
    ]);
  });

  it('labels bars by every category column and flattens nested objects', () => {
    const spec = plot(
      chartSpec({
        tourPopularity: [
          { tour: { name: 'Ha Long Bay cruise' }, region: 'VN', bookings: 12 },
          { tour: { name: 'Kyoto temples' }, region: 'JP', bookings: 9 },
        ],
      }),
    );
    expect(spec).toMatchObject({ kind: 'bar', xTitle: 'tour.name · region', labels: ['Ha Long Bay cruise · VN', 'Kyoto temples · JP'] });
  });
});

describe('anything else is a table, or nothing', () => {
  it('shows rows without numbers as a table, Relay cursors and nested nodes included', () => {
    const spec = chartSpec({
      tours: { edges: [{ cursor: 'YQ==', node: { id: 'T1', name: 'Ha Long Bay cruise', tags: ['sea', 'boat'] } }] },
    });
    expect(spec).toEqual({
      kind: 'table',
      source: 'data.tours.edges',
      columns: ['cursor', 'node.id', 'node.name', 'node.tags'],
      rows: [{ cursor: 'YQ==', 'node.id': 'T1', 'node.name': 'Ha Long Bay cruise', 'node.tags': ['sea', 'boat'] }],
    });
  });

  it('shows numbers without a time or category column as a table', () => {
    expect(chartSpec({ totals: [{ bookings: 3, revenue: 10.5 }] })).toMatchObject({ kind: 'table', columns: ['bookings', 'revenue'] });
  });

  it('skips lists of scalars and finds the first list of objects, depth first', () => {
    expect(chartSpec({ tour: { tags: ['a'], reviews: [{ author: 'Mai', stars: 5 }] } })).toMatchObject({
      kind: 'bar',
      source: 'data.tour.reviews',
    });
  });

  it('says why when there is nothing to chart', () => {
    expect(chartSpec({ health: { status: 'OK' } })).toEqual({ kind: 'none', reason: 'The result has no list of rows to chart.' });
    expect(chartSpec({ regionalStats: [] })).toEqual({ kind: 'none', reason: 'data.regionalStats has no rows.' });
  });
});

describe('chartSpecFromResponse', () => {
  it('reads the response text GraphiQL shows', () => {
    const text = JSON.stringify({ data: { regionalStats: [{ region: 'VN', bookings: 1 }] } }, null, 2);
    expect(chartSpecFromResponse(text)).toMatchObject({ kind: 'bar', labels: ['VN'] });
  });

  it('explains empty, unparsable and data-less responses', () => {
    expect(chartSpecFromResponse('')).toEqual({ kind: 'none', reason: 'Run a query to chart its result.' });
    expect(chartSpecFromResponse(null)).toEqual({ kind: 'none', reason: 'Run a query to chart its result.' });
    expect(chartSpecFromResponse('{"da')).toEqual({ kind: 'none', reason: 'The response is not JSON, so there is nothing to chart.' });
    expect(chartSpecFromResponse('{"errors":[{"message":"Cannot query field"}]}')).toEqual({
      kind: 'none',
      reason: 'The last response has no data to chart.',
    });
  });
});

describe('timeLabels', () => {
  it('shortens buckets to the precision they have', () => {
    expect(timeLabels([month(1), month(2)])).toEqual(['2026-01', '2026-02']);
    expect(timeLabels(['2026-01-05T00:00:00.000Z', '2026-01-06T00:00:00.000Z'])).toEqual(['2026-01-05', '2026-01-06']);
    expect(timeLabels(['2026-01-05T13:00:00.000Z'])).toEqual(['2026-01-05 13:00']);
  });
});
