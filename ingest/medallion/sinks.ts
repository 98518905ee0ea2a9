import { TOURS_DIMENSION } from '../../src/backends/analytics/dimensions.ts';
import type { ClickHouseEngine } from '../../src/backends/clickhouse/engine.ts';
import { copyDimensionToClickHouse } from '../../src/backends/clickhouse/load.ts';
import { createPromotedEventsSink } from '../../src/backends/clickhouse/sink.ts';
import type { Backends } from '../../src/backends/index.ts';
import { indexCatalogue, searchIndexIsLocal } from '../../src/backends/search/catalogue-index.ts';
import { CATALOGUE_TABLES } from '../../src/catalogue/tables.ts';
import type { MedallionSink } from './runner.ts';

/**
 * The downstream copies the medallion keeps current after each pass that changed what they copy,
 * wherever it runs (the gateway's in-process medallion, the worker):
 * - with ClickHouse as the analytics role, ClickHouse's events (after promoted events) and its
 *   tours dimension `analytics.tours` (after catalogue changes), read from the lakehouse's silver
 *   through its SQL port; embedded and on Trino `analytics.tours` is a view and needs nothing;
 * - the search role's tour index, rebuilt from `silver.tours` after catalogue changes: a shared
 *   index (Elasticsearch) wherever the medallion runs, once; an index kept in the process
 *   (MiniSearch) only in a gateway (`localSearch`), whose searches it answers.
 * The search event index is fed from the landed records instead (worker.ts, search-indexer.ts).
 */
export function medallionSinks(options: {
  backends: Backends;
  afterInsert?: () => Promise<void>;
  /** Whether this process answers searches (a gateway): its in-process tour index is then kept current too. Default false. */
  localSearch?: boolean;
}): MedallionSink[] {
  const { backends } = options;
  const sinks: MedallionSink[] = [];
  if (backends.analytics.adapter === 'clickhouse') {
    const clickhouse = backends.analytics as ClickHouseEngine;
    sinks.push(
      { name: 'clickhouse', tables: ['silver.events'], ...createPromotedEventsSink({ lakehouse: backends.lakehouse, clickhouse, ...(options.afterInsert ? { afterInsert: options.afterInsert } : {}) }) },
      // A full copy (one row per tour): also at start, in case a process died between a catalogue change and its copy.
      { name: 'clickhouse-tours', tables: CATALOGUE_TABLES, atStart: true, drain: () => copyDimensionToClickHouse(backends.lakehouse, clickhouse, TOURS_DIMENSION) },
    );
  }
  const local = searchIndexIsLocal(backends.search);
  if (!local || options.localSearch === true) {
    // A gateway builds its index at its start; the worker catches a shared index up at the start of its medallion.
    sinks.push({ name: 'search-tours', tables: CATALOGUE_TABLES, atStart: options.localSearch !== true, drain: () => indexCatalogue(backends.lakehouse, backends.search) });
  }
  return sinks;
}
