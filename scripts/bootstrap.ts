import { Client } from '@elastic/elasticsearch';
import { createBackends, type Backends } from '../src/backends/index.ts';
import { copyEventsToClickHouse } from '../src/backends/clickhouse/load.ts';
import { migrateAnalytics } from '../src/backends/clickhouse/migrations.ts';
import type { ClickHouseEngine } from '../src/backends/clickhouse/engine.ts';
import { destinationsPage, eventsPage, toursPage, type EventPosition } from '../src/backends/lakehouse/queries.ts';
import { ensureIndices, indexDestinations, indexEvents, replaceTours } from '../src/backends/search/elasticsearch-index.ts';
import { ConfigError, loadConfig, type Config } from '../src/config.ts';
import { ensureDemoData } from '../ingest/demo/generate.ts';
import { loadSourceRegistry } from '../ingest/registry.ts';

/** What a bootstrap did, per engine. */
export interface BootstrapReport {
  lakehouse: string;
  analytics?: { created: readonly string[]; events: number };
  search?: { tours: number; destinations: number; events: number };
  bus?: string;
}

/**
 * Prepares the configured production engines (`npm run bootstrap`): the ClickHouse analytics
 * schema and its events, the Elasticsearch indexes and their documents, the Kafka topics. The
 * data comes from the lakehouse — the embedded demo lakehouse when `TRINO_URL` is unset (built
 * here if needed), or Trino's tables, which the platform's own jobs create (see
 * deploy/README.md). Idempotent: a second run replaces rather than duplicates.
 */
export async function bootstrap(config: Config, log: (line: string) => void = console.log): Promise<BootstrapReport> {
  const registry = await loadSourceRegistry();
  const eventTopics = [...new Set(registry.sources.map((s) => s.topic))];
  // Opening the bus creates its topics where the cluster allows CreateTopics.
  const backends = await createBackends(config, { eventTopics });
  try {
    const report: BootstrapReport = { lakehouse: backends.lakehouse.adapter };
    if (!config.trinoUrl && backends.embedded) {
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

async function bootstrapAnalytics(backends: Backends, log: (line: string) => void) {
  const clickhouse = backends.analytics as ClickHouseEngine;
  const migration = await migrateAnalytics(clickhouse);
  const copy = await copyEventsToClickHouse(backends.lakehouse, clickhouse);
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
