/**
 * GraphiQL sidebar plugin "Chart": draws the active tab's latest result (lines over time, bars
 * per category, a table otherwise; see chart-spec.ts). The panel's `data-*` attributes state
 * what it shows (kind, source, series), for people reading the DOM and for the browser test.
 */
import './chart-panel.css';
import { useGraphiQL, type GraphiQLPlugin } from '@graphiql/react';
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { drawChart } from './chart-draw.ts';
import { chartSpecFromResponse, type ChartSpec, type PlotSpec, type Row, type TableSpec } from './chart-spec.ts';

/** Rows beyond this are left out of the table (the response editor still has them all). */
const MAX_TABLE_ROWS = 200;

function ChartPanel(): ReactNode {
  const response = useGraphiQL((state) => state.tabs[state.activeTabIndex]?.response ?? null);
  const isFetching = useGraphiQL((state) => state.isFetching);
  const spec = useMemo(() => chartSpecFromResponse(response), [response]);
  const plotted = spec.kind === 'line' || spec.kind === 'bar' ? spec : undefined;

  return (
    <section
      className="nexus-chart-panel"
      aria-label="Chart of the last result"
      data-chart-kind={spec.kind}
      data-source={spec.kind === 'none' ? undefined : spec.source}
      data-series={plotted?.series.map((series) => series.label).join(',')}
      data-measures={plotted?.measures.join(',')}
      data-categories={plotted?.categories.join(',')}
    >
      <div className="graphiql-doc-explorer-title">Chart</div>
      {isFetching ? <p className="nexus-chart-message">Running…</p> : <SpecView spec={spec} />}
    </section>
  );
}

function SpecView({ spec }: { spec: ChartSpec }): ReactNode {
  switch (spec.kind) {
    case 'line':
    case 'bar':
      return <PlotView spec={spec} />;
    case 'table':
      return <TableView spec={spec} />;
    case 'none':
      return <p className="nexus-chart-message">{spec.reason}</p>;
    default: {
      const unknown: never = spec;
      throw new Error(`chart panel: unknown spec ${JSON.stringify(unknown)}`);
    }
  }
}

function PlotView({ spec }: { spec: PlotSpec }): ReactNode {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [drawn, setDrawn] = useState(false);

  useEffect(() => {
    if (!canvas.current) return undefined;
    setDrawn(false);
    const chart = drawChart(canvas.current, spec, { onRendered: () => setDrawn(true) });
    return () => chart.destroy();
  }, [spec]);

  return (
    <figure className="nexus-chart-figure" data-drawn={drawn}>
      <figcaption>
        {spec.kind === 'line' ? 'Lines' : 'Bars'} from <code>{spec.source}</code>
      </figcaption>
      {/* Chart.js sizes the canvas to this box (responsive), so the box needs a definite height. */}
      <div className="nexus-chart-canvas">
        <canvas ref={canvas} role="img" aria-label={`${spec.kind} chart of ${spec.series.map((s) => s.label).join(', ')}`} />
      </div>
      {spec.note ? <p className="nexus-chart-message">{spec.note}</p> : null}
    </figure>
  );
}

function TableView({ spec }: { spec: TableSpec }): ReactNode {
  const shown = spec.rows.slice(0, MAX_TABLE_ROWS);
  return (
    <figure className="nexus-chart-figure">
      <figcaption>
        Table of <code>{spec.source}</code>: no time or category column with numbers to chart
      </figcaption>
      <div className="nexus-chart-table">
        <table>
          <thead>
            <tr>
              {spec.columns.map((column) => (
                <th key={column}>{column}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row, index) => (
              <tr key={index}>
                {spec.columns.map((column) => (
                  <td key={column}>{cellText(row, column)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {spec.rows.length > shown.length ? (
        <p className="nexus-chart-message">
          Showing {shown.length} of {spec.rows.length} rows.
        </p>
      ) : null}
    </figure>
  );
}

function cellText(row: Row, column: string): string {
  const value = row[column];
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function ChartIcon(): ReactNode {
  return (
    <svg height="1em" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={1.5} aria-hidden="true">
      <path strokeLinecap="round" d="M3 3v18h18" />
      <path strokeLinecap="round" strokeLinejoin="round" d="m7 15 4-5 3 3 5-7" />
    </svg>
  );
}

/** The plugin object; pass it to `<GraphiQL plugins>` (it must stay the same object across renders). */
export const chartPlugin: GraphiQLPlugin = {
  title: 'Chart',
  icon: ChartIcon,
  content: ChartPanel,
};
