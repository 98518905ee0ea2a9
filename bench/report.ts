import { landingLines } from './landing-report.ts';
import type { LatencySummary } from './stats.ts';
import type { Comparison, FanoutRun, HttpRun, ScenarioResult, ServerLog } from './results.ts';
import type { SoakRun } from './soak.ts';

/** A scenario as a readable block of text: one table row per server, then the comparisons. */
export function formatScenario(scenario: ScenarioResult): string {
  const lines = [`\n▶ ${scenario.title}`, `  ${scenario.description}`];
  if (scenario.http.length > 0) lines.push(...httpTable(scenario.http));
  for (const run of scenario.fanout ?? []) lines.push(...fanoutLines(run, (scenario.fanout?.length ?? 0) > 1));
  if (scenario.landing) lines.push(...landingLines(scenario.landing));
  if (scenario.soak) lines.push(...soakLines(scenario.soak));
  for (const comparison of scenario.comparisons) lines.push(`  → ${formatComparison(comparison)}`);
  for (const note of scenario.notes) lines.push(`  ! ${note}`);
  return lines.join('\n');
}

/** Every checked target of the run, one line each. */
export function formatSummary(scenarios: readonly ScenarioResult[]): string {
  const checked = scenarios.flatMap((s) => s.comparisons.filter((c) => c.target).map((c) => ({ scenario: s.id, c })));
  if (checked.length === 0) return '';
  const lines = ['\nTargets (DESIGN.md "Performance targets"):'];
  for (const { scenario, c } of checked) lines.push(`  ${c.pass ? 'PASS' : 'FAIL'}  ${scenario.padEnd(20)} ${formatComparison(c)}`);
  return lines.join('\n');
}

export function formatComparison(c: Comparison): string {
  const value = formatValue(c.value, c.unit, false);
  if (!c.target) return `${c.label}: ${value} (informational)`;
  const target = formatValue(c.target.value, c.unit, true);
  return `${c.label}: ${value} (target ${c.target.op} ${target}) ${c.pass ? 'PASS' : 'FAIL'}`;
}

function formatValue(value: number, unit: Comparison['unit'], isTarget: boolean): string {
  switch (unit) {
    case 'x':
      return isTarget ? `${Number(value.toFixed(3))}×` : `${value.toFixed(2)}×`;
    case 'ms':
      // Sub-10 ms figures (CPU per request, fast deliveries) need the second decimal.
      return isTarget ? `${value} ms` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
    case 'KiB':
      return isTarget ? `${value} KiB` : `${value.toFixed(1)} KiB`;
    case 'events/s':
      return `${(isTarget ? value : Math.round(value)).toLocaleString('en-US')} events/s`;
  }
}

const COLUMNS = [
  ['server', 22],
  ['req/s', 9],
  ['p50', 5],
  ['p90', 5],
  ['p99', 5],
  ['max', 6],
  ['errors', 7],
  ['non2xx', 7],
  ['bad body', 9],
  ['RSS MiB', 8],
  ['x-cache', 8],
] as const;

function httpTable(runs: readonly HttpRun[]): string[] {
  const row = (cells: readonly string[]) =>
    `  ${cells.map((cell, i) => (i === 0 ? cell.padEnd(COLUMNS[i]![1]) : cell.padStart(COLUMNS[i]![1]))).join(' ')}`;
  const lines = [row(COLUMNS.map(([name]) => name)) + '   (latency in ms)'];
  for (const run of runs) {
    if (!run.load) {
      lines.push(row([run.server]) + `   FAILED: ${firstLine(run.error ?? 'no figures')}`);
      continue;
    }
    const { load } = run;
    lines.push(
      row([
        run.server,
        Math.round(load.requestsPerSec).toLocaleString('en-US'),
        String(load.latencyMs.p50),
        String(load.latencyMs.p90),
        String(load.latencyMs.p99),
        String(load.latencyMs.max),
        String(load.errors),
        String(load.non2xx),
        String(load.mismatches),
        run.rssMiB === undefined ? '-' : run.rssMiB.toFixed(1),
        run.cache ?? '-',
      ]),
    );
  }
  for (const run of runs) {
    if (run.rounds) lines.push(`    ${run.server} in ${run.rounds.length} interleaved rounds; req/s per round: ${run.rounds.map((round) => Math.round(round.requestsPerSec)).join(', ')}`);
    const warmup = run.rounds?.[0]?.warmup ?? run.load?.warmup;
    if (warmup) {
      const settled = warmup.steady ? 'until its throughput was steady' : 'without settling (stopped at the limit)';
      lines.push(`    ${run.server} warmed up ${warmup.seconds} s ${settled}; req/s per window: ${warmup.windows.join(', ')}`);
    }
  }
  for (const run of runs) lines.push(...logLines(run.server, run.serverLog));
  return lines;
}

function fanoutLines(run: FanoutRun, named: boolean): string[] {
  const heading = named ? [`  ${run.server}:`] : [];
  if (!run.result) return [...heading, `  FAILED: ${firstLine(run.error ?? 'no figures')}`];
  const r = run.result;
  const memory =
    run.rssBeforeMiB === undefined || run.rssSubscribedMiB === undefined
      ? []
      : [`  RSS ${run.rssBeforeMiB.toFixed(1)} MiB before connecting, ${run.rssSubscribedMiB.toFixed(1)} MiB with ${r.live} subscribers live and idle`];
  const lines = [
    ...heading,
    `  subscribers ${r.subscribers} (connected ${r.connected}, live ${r.live}, connect ${r.connectMs} ms), events ${r.events}, deliveries ${r.deliveries}, missed ${r.missed}` +
      (run.gatewayRssMiB === undefined ? '' : `, ${named ? 'server' : 'gateway'} RSS ${run.gatewayRssMiB.toFixed(1)} MiB with all connected`),
    ...memory,
    `  ${'latency (ms)'.padEnd(26)}${['n', 'p50', 'p90', 'p99', 'max'].map((h) => h.padStart(8)).join('')}`,
    summaryRow('every delivery', r.delivery),
    summaryRow('to last subscriber/event', r.toLastSubscriber),
    summaryRow('to first subscriber/event', r.toFirstSubscriber),
    summaryRow('ingestEvent ack', r.mutationAck),
  ];
  for (const error of r.errors.slice(0, 5)) lines.push(`  error: ${error.slice(0, 300)}`);
  lines.push(...logLines(run.server, run.serverLog));
  return lines;
}

function soakLines(run: SoakRun): string[] {
  const mib = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(1)).padStart(10);
  const lines = [`  ${'gateway RSS (MiB)'.padEnd(60)}${['peak', 'after'].map((h) => h.padStart(10)).join('')}`, `  ${'baseline (after warm-up)'.padEnd(60)}${mib(run.baselineMiB)}${mib(run.baselineMiB)}`];
  for (const phase of run.phases) {
    lines.push(`  ${phase.label.padEnd(60)}${mib(phase.peakMiB)}${mib(phase.afterMiB)}`);
    if (phase.error) lines.push(`    FAILED: ${firstLine(phase.error)}`);
    if (phase.client && phase.client.failed > 0) lines.push(`    ${phase.client.failed} queries failed, first: ${(phase.client.errors[0] ?? '').slice(0, 200)}`);
    if (phase.client?.phase === 'sockets') lines.push(`    ${phase.client.connected} sockets connected; load took ${phase.client.elapsedMs} ms`);
  }
  if (run.error) lines.push(`  FAILED: ${firstLine(run.error)}`);
  lines.push(...logLines('gateway', run.serverLog));
  return lines;
}

function summaryRow(label: string, s: LatencySummary): string {
  return `  ${label.padEnd(26)}${[s.count, s.p50, s.p90, s.p99, s.max].map((v) => String(v).padStart(8)).join('')}`;
}

/** One line per phase in which the server logged anything, quoting the first message. */
function logLines(server: string, log: ServerLog): string[] {
  const phases = [
    ['during the run', log.duringRun],
    ['while stopping', log.atShutdown],
  ] as const;
  return phases
    .filter(([, lines]) => lines.length > 0)
    .map(([when, lines]) => `    ${server} logged ${lines.length}${lines.length >= 10 ? '+' : ''} line(s) ${when}, first: ${messageOf(lines[0] ?? '').slice(0, 200)}`);
}

/** The message of a pino JSON line (its error's message when it has one), else the line. */
function messageOf(line: string): string {
  try {
    const entry = JSON.parse(line) as { msg?: string; err?: { type?: string; message?: string } };
    return entry.err?.message ? `${entry.err.type ?? 'Error'}: ${entry.err.message}` : (entry.msg ?? line);
  } catch {
    return line;
  }
}

const firstLine = (text: string) => text.split('\n')[0] ?? text;
