import type { FanoutResult } from './fanout-client.ts';
import type { LoadResult } from './http-load.ts';
import type { LandingResult } from './landing.ts';
import type { ScenarioId } from './options.ts';
import type { SoakRun } from './soak.ts';

/** One server measured under HTTP load. */
export interface HttpRun {
  /** Which server, e.g. `raw node:http`, `plain Apollo`, `gateway`. */
  server: string;
  /** What was sent, e.g. `POST { tours(first: 50) … }`. */
  operation: string;
  load?: LoadResult;
  /** When measured in interleaved rounds: each round's own figures (`load` is them together). */
  rounds?: LoadResult[];
  /** Resident memory of the server process right after the measurement. */
  rssMiB?: number;
  /** CPU time of the watched processes during the measurement, by label, in ms (null where unknown). */
  cpuMs?: Record<string, number | null>;
  /** `x-cache` of the second of two identical check requests (`none` when absent). */
  cache?: string;
  /** Why the run produced no figures. */
  error?: string;
  serverLog: ServerLog;
}

/** What a server printed (warnings, errors; first lines only), split at the end of the measurement. */
export interface ServerLog {
  duringRun: string[];
  /** Printed while it was being stopped (e.g. about requests the load generator hung up on). */
  atShutdown: string[];
}

/** A ratio or figure checked against its target from DESIGN.md (or informational). */
export interface Comparison {
  label: string;
  value: number;
  unit: 'x' | 'ms' | 'events/s' | 'KiB';
  /** Absent: informational. */
  target?: { op: '>=' | '<' | '<='; value: number };
  pass?: boolean;
}

/** The fan-out scenario's figures. */
export interface FanoutRun {
  /** Which server, e.g. `gateway`, `bare ws broadcast`. */
  server: string;
  result?: Omit<FanoutResult, 'benchReady'>;
  /** Resident memory of the server with every subscriber still connected, after the measurement. */
  gatewayRssMiB?: number;
  /** Resident memory of the server before any subscriber connected (runs that measure idle memory). */
  rssBeforeMiB?: number;
  /** … and with every subscription live and idle, before the measured events. */
  rssSubscribedMiB?: number;
  error?: string;
  serverLog: ServerLog;
}

export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  description: string;
  http: HttpRun[];
  /** Fan-out runs, one per server. */
  fanout?: FanoutRun[];
  /** The medallion landing scenario's runs. */
  landing?: LandingResult;
  /** The soak scenario's memory figures. */
  soak?: SoakRun;
  comparisons: Comparison[];
  notes: string[];
}

/** Compares `value` with an optional target. */
export function compare(label: string, value: number, unit: Comparison['unit'], target?: Comparison['target']): Comparison {
  if (!target) return { label, value, unit };
  const pass = target.op === '>=' ? value >= target.value : target.op === '<=' ? value <= target.value : value < target.value;
  return { label, value, unit, target, pass };
}

/**
 * For runs measured in interleaved rounds: `numerator / denominator` of req/s round by round, as
 * one informational line (each round's ratio, the lowest as its figure); none otherwise.
 */
export function perRoundRatios(numerator: HttpRun | undefined, denominator: HttpRun | undefined): Comparison[] {
  const top = numerator?.rounds;
  const bottom = denominator?.rounds;
  if (!top || !bottom || top.length !== bottom.length || top.length === 0) return [];
  const ratios = top.map((round, i) => round.requestsPerSec / bottom[i]!.requestsPerSec);
  return [compare(`  the same per round (${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}), lowest`, Math.min(...ratios), 'x')];
}

/** `numerator / denominator` of two runs' req/s, or undefined when either has no figures. */
export function throughputRatio(numerator: HttpRun | undefined, denominator: HttpRun | undefined): number | undefined {
  const top = numerator?.load?.requestsPerSec;
  const bottom = denominator?.load?.requestsPerSec;
  return top !== undefined && bottom !== undefined && bottom > 0 ? top / bottom : undefined;
}
