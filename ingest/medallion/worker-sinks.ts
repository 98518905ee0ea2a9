import type { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import type { ClickHouseEngine } from '../../src/backends/clickhouse/engine.ts';
import { createClickHouseEventSink } from '../../src/backends/clickhouse/sink.ts';
import type { Backends } from '../../src/backends/index.ts';
import type { Config } from '../../src/config.ts';
import type { Logger } from '../../src/logger.ts';
import type { MedallionOptions } from './runner.ts';

/** The downstream copies the worker keeps current after each pass that promoted events. */
export function workerSinks(options: { config: Config; backends: Backends; database: DuckDbDatabase; logger: Logger }): NonNullable<MedallionOptions['sinks']> {
  const { config, backends, database } = options;
  if (!config.clickhouseUrl) return [];
  return [{ name: 'clickhouse', ...createClickHouseEventSink({ database, lakehouse: backends.lakehouse, clickhouse: backends.analytics as ClickHouseEngine }) }];
}
