import { Client } from '@elastic/elasticsearch';
import { createBackends, type Backends } from '../src/backends/index.ts';
import { copyEventsToClickHouse } from '../src/backends/clickhouse/load.ts';
import { markClickHouseCopied } from '../src/backends/clickhouse/sink.ts';
import { migrateAnalytics } from '../src/backends/clickhouse/migrations.ts';
import type { ClickHouseEngine } from '../src/backends/clickhouse/engine.ts';
import { DuckDbDatabase } from '../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../src/backends/duckdb/ddl.ts';
import { destinationsPage, eventsPage, toursPage, type EventPosition } from '../src/backends/lakehouse/queries.ts';
import { ensureIndices, indexDestinations, indexEvents, replaceTours } from '../src/backends/search/elasticsearch-index.ts';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { lakehouseDdl, lakehouseTables } from '../src/backends/trino/iceberg-ddl.ts';
import { copyTableToIceberg, embeddedRowSource, type IcebergTableCopy } from '../src/backends/trino/iceberg-load.ts';
import { ConfigError, loadConfig, type Config } from '../src/config.ts';
import { ensureDemoData } from '../ingest/demo/generate.ts';
import { ensureBronzeTables } from '../ingest/medallion/bronze.ts';
import { refreshGold } from '../ingest/medallion/gold.ts';
import { DUCKDB_DIALECT } from '../ingest/medallion/dialect.ts';
import { createDuckDbWriter } from '../src/backends/duckdb/writer.ts';
import { gatewayBusTopics, loadSourceRegistry, type SourceRegistry } from '../ingest/registry.ts';

/** Budget of each bootstrap statement on Trino: an Iceberg commit to object storage can take seconds. */
const TRINO_STATEMENT_TIMEOUT_MS = 120_000;

/** What a bootstrap did, per engine. */
export interface BootstrapReport {
  lakehouse: string;
  /** With `TRINO_URL`: the statements that created the Iceberg schemas, tables and views, and each table's demo load. */
  iceberg?: { statements: readonly string[]; tables: readonly IcebergTableCopy[] };
  analytics?: { created: readonly string[]; events: number };
  search?: { tours: number; destinations: number; events: number };
  bus?: string;
}

/**
 * Prepares the configured production engines (`npm run bootstrap`): the lakehouse's Iceberg
 * schemas, tables and view through Trino with the demo data, the ClickHouse analytics schema and
 * its events, the Elasticsearch indexes and their documents, the Kafka topics. The data comes
 * from the lakehouse — the embedded demo lakehouse when `TRINO_URL` is unset (built here if
 * needed), else Trino's tables, loaded first. Idempotent: a second run replaces rather than
 * duplicates.
 */
export async function bootstrap(config: Config, log: (line: string) => void = console.log): Promise<BootstrapReport> {
  const registry = await loadSourceRegistry(config.sourcesFile);
  // The topics a gateway reads: opening the bus creates them where the cluster allows CreateTopics.
  const eventTopics = gatewayBusTopics(registry);
  const backends = await createBackends(config, { eventTopics });
  try {
    const report: BootstrapReport = { lakehouse: backends.lakehouse.adapter };
    if (config.trinoUrl) {
      report.iceberg = await bootstrapIceberg(backends.lakehouse, registry, config, log);
    } else if (backends.embedded) {
      const demo = await ensureDemoData(backends.embedded, { seed: config.demoSeed, scale: config.demoScale, ...(config.demoAnchor ? { anchor: config.demoAnchor } : {}) });
      log(`lakehouse: demo data ${demo.reused ? 'present' : 'built'} (${demo.tours} tours, ${demo.events} events)`);
    }
    if (config.clickhouseUrl) report.analytics = await bootstrapAnalytics(backends, log);
    if (config.elasticsearchUrl) report.search = await bootstrapSearch(backends, config.elasticsearchUrl, log);
    if (config.kafkaBrokers) {
      report.bus = `topics ${eventTopics.join(', ')}`;
      log(`bus: kafka ready for ${eventTopics.join(', ')}`);
    }
    return report;
  } finally {
    await backends.close();
  }
}

/**
 * Creates the lakehouse in Trino's catalog (the session catalog of the lakehouse engine, `iceberg`)
 * and, unless `DEMO_DATA=false`, loads the demo data into it: built for the configured seed,
 * scale and anchor in a throw-away embedded database, gold refreshed there as the embedded
 * medallion's first run would, then copied table by table (`copyTableToIceberg`: a table that
 * already holds the demo's row count is left alone, one holding another count is replaced).
 */
async function bootstrapIceberg(trino: SqlEngine, registry: SourceRegistry, config: Config, log: (line: string) => void) {
  const tables = lakehouseTables(registry.sources.filter((s) => s.enabled).map((s) => s.bronzeTable));
  const statements = lakehouseDdl(tables);
  for (const sql of statements) await trino.query(sql, [], { timeoutMs: TRINO_STATEMENT_TIMEOUT_MS });
  log(`lakehouse: ${tables.length} Iceberg tables ready in Trino (${statements.length} statements)`);
  if (!config.demoData) {
    log('lakehouse: DEMO_DATA=false, no demo rows loaded');
    return { statements, tables: [] };
  }

  const demo = await DuckDbDatabase.open({ file: ':memory:', readConnections: 1 });
  try {
    await demo.exec(LAKEHOUSE_DDL);
    const writer = createDuckDbWriter(demo);
    await ensureBronzeTables(writer, DUCKDB_DIALECT, registry);
    const summary = await ensureDemoData(demo, { seed: config.demoSeed, scale: config.demoScale, ...(config.demoAnchor ? { anchor: config.demoAnchor } : {}) });
    await writer.transaction((w) => refreshGold(w, DUCKDB_DIALECT, new Date(), { full: true }));
    log(`lakehouse: demo data built (${summary.tours} tours, ${summary.events} events), copying into Trino`);
    const source = embeddedRowSource(demo);
    const copies: IcebergTableCopy[] = [];
    for (const table of tables) {
      const copy = await copyTableToIceberg(trino, table, source, { timeoutMs: TRINO_STATEMENT_TIMEOUT_MS });
      copies.push(copy);
      log(`lakehouse: ${copy.table} ${copy.outcome} (${copy.rows} rows${copy.inserts > 0 ? `, ${copy.inserts} inserts` : ''})`);
    }
    return { statements, tables: copies };
  } finally {
    await demo.close();
  }
}

async function bootstrapAnalytics(backends: Backends, log: (line: string) => void) {
  const clickhouse = backends.analytics as ClickHouseEngine;
  const migration = await migrateAnalytics(clickhouse);
  const copy = await copyEventsToClickHouse(backends.lakehouse, clickhouse);
  // The medallion's sink then feeds ClickHouse from where this copy ended (its watermark is in the lakehouse).
  await markClickHouseCopied(backends.lakehouseWrites.writer, backends.lakehouse);
  log(`analytics: clickhouse schema ready, ${copy.events} events copied`);
  return { created: migration.statements, events: copy.events };
}

async function bootstrapSearch(backends: Backends, node: string, log: (line: string) => void) {
  const client = new Client({ node });
  try {
    await ensureIndices(client);
    const destinations = (await destinationsPage(backends.lakehouse, { first: 100_000, withTotal: false })).rows;
    const tours = (await toursPage(backends.lakehouse, { first: 1_000_000, withTotal: false })).rows;
    await indexDestinations(client, destinations);
    await replaceTours(client, tours, new Map(destinations.map((d) => [d.id, d.name])));
    let events = 0;
    let after: EventPosition | null = null;
    for (;;) {
      const page = await eventsPage(backends.lakehouse, { first: 5_000, after });
      if (page.rows.length > 0) await indexEvents(client, page.rows);
      events += page.rows.length;
      const last = page.rows[page.rows.length - 1];
      if (!page.hasNextPage || !last) break;
      after = { occurredAtMs: last.occurredAt.getTime(), id: last.id };
    }
    log(`search: elasticsearch indexes ready (${tours.length} tours, ${destinations.length} destinations, ${events} events)`);
    return { tours: tours.length, destinations: destinations.length, events };
  } finally {
    await client.close();
  }
}

if (import.meta.main) {
  try {
    await bootstrap(loadConfig());
  } catch (error) {
    process.stderr.write(`bootstrap failed: ${error instanceof ConfigError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
}
