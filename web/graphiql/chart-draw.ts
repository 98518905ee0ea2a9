/**
 * Draws a {@link PlotSpec} on a canvas with Chart.js. Only the pieces a line or bar chart needs
 * are registered, so the rest of Chart.js stays out of the offline bundle. Chart.js sets canvas
 * sizes through the CSSOM (`canvas.style.width = …`), which the page's CSP does not restrict, and
 * evaluates no strings, so it needs nothing beyond `default-src 'self'`.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type Plugin,
} from 'chart.js';
import type { PlotSpec } from './chart-spec.ts';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

/** Options of {@link drawChart}. */
export interface DrawOptions {
  /** Called after every completed render (first draw, resize), so the panel can say the chart is on screen. */
  onRendered?: () => void;
}

/** Draws `spec` on `canvas` and returns the chart; call `destroy()` on it before drawing another. */
export function drawChart(canvas: HTMLCanvasElement, spec: PlotSpec, options: DrawOptions = {}): Chart {
  const rendered: Plugin = { id: 'nexusRendered', afterRender: () => options.onRendered?.() };
  return new Chart(canvas, { ...chartConfig(spec), plugins: [rendered] });
}

/** The Chart.js configuration for a spec (no DOM needed). */
export function chartConfig(spec: PlotSpec): ChartConfiguration<'line' | 'bar', (number | null)[], string> {
  const twoAxes = spec.axes.y1.length > 0;
  return {
    type: spec.kind,
    data: {
      labels: spec.labels,
      datasets: spec.series.map((series) => ({
        label: series.label,
        data: series.values,
        borderColor: series.color,
        backgroundColor: series.color,
        borderWidth: spec.kind === 'line' ? 2 : 0,
        borderDash: series.dashed ? [6, 4] : [],
        pointRadius: spec.kind === 'line' ? 3 : 0,
        // A missing bucket is drawn as a gap: the query returned no row there.
        spanGaps: false,
        yAxisID: series.axis,
      })),
    },
    options: {
      // Drawn at once: the analyst asked a question, and the test reads the finished picture.
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { position: 'bottom' } },
      scales: {
        // Every category gets its label (a bar without one is unreadable); time labels may thin out.
        x: { title: { display: true, text: spec.xTitle }, ticks: { autoSkip: spec.kind === 'line' } },
        y: { position: 'left', beginAtZero: true, title: { display: true, text: spec.axes.y.join(', ') } },
        ...(twoAxes
          ? {
              y1: {
                position: 'right',
                beginAtZero: true,
                title: { display: true, text: spec.axes.y1.join(', ') },
                // One grid is enough; two would cross each other.
                grid: { drawOnChartArea: false },
              },
            }
          : {}),
      },
    },
  };
}
