import type { ClickHouseEngine } from '../../src/backends/clickhouse/engine.ts';
import { createPromotedEventsSink } from '../../src/backends/clickhouse/sink.ts';
import type { Backends } from '../../src/backends/index.ts';
import type { MedallionOptions } from './runner.ts';

/**
 * The downstream copies the medallion keeps current after each pass that promoted events,
 * wherever it runs (the gateway's in-process medallion, the worker): with ClickHouse as the
 * analytics role, ClickHouse's events, read from the lakehouse's silver through its SQL port
 * (the worker feeds the search event index from the landed records, in worker.ts).
 */
export function medallionSinks(options: { backends: Backends; afterInsert?: () => Promise<void> }): NonNullable<MedallionOptions['sinks']> {
  const { backends } = options;
  if (backends.analytics.adapter !== 'clickhouse') return [];
  const clickhouse = backends.analytics as ClickHouseEngine;
  return [{ name: 'clickhouse', ...createPromotedEventsSink({ lakehouse: backends.lakehouse, clickhouse, ...(options.afterInsert ? { afterInsert: options.afterInsert } : {}) }) }];
}
