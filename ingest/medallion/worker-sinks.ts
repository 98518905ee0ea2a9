import type { ClickHouseEngine } from '../../src/backends/clickhouse/engine.ts';
import { createPromotedEventsSink } from '../../src/backends/clickhouse/sink.ts';
import type { Backends } from '../../src/backends/index.ts';
import type { Config } from '../../src/config.ts';
import type { MedallionOptions } from './runner.ts';

/**
 * The downstream copies the worker keeps current after each pass that promoted events: with
 * CLICKHOUSE_URL, ClickHouse's events, read from the lakehouse's silver through its SQL port
 * (the search event index is fed from the landed records, in worker.ts).
 */
export function workerSinks(options: { config: Config; backends: Backends; afterInsert?: () => Promise<void> }): NonNullable<MedallionOptions['sinks']> {
  const { config, backends } = options;
  if (!config.clickhouseUrl) return [];
  const clickhouse = backends.analytics as ClickHouseEngine;
  return [{ name: 'clickhouse', ...createPromotedEventsSink({ lakehouse: backends.lakehouse, clickhouse, ...(options.afterInsert ? { afterInsert: options.afterInsert } : {}) }) }];
}
