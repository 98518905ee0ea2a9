/** Summary of a sample of latencies in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `values` (which it sorts in place); zeros for an empty sample. */
export function summarise(values: number[] | Float64Array): LatencySummary {
  const sorted = values instanceof Float64Array ? values.sort() : values.sort((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? 0 : round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0));
  return { count: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: at(100) };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
