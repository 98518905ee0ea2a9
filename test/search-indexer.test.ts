import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher } from '../ingest/publisher.ts';
import { loadSourceRegistry } from '../ingest/registry.ts';
import { EventIndexer } from '../ingest/search-indexer.ts';
import type { BusPort } from '../src/backends/bus/port.ts';
import { createEmbeddedLog } from '../src/backends/bus/embedded-log.ts';
import { DuckDbDatabase } from '../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../src/backends/duckdb/ddl.ts';
import { createElasticsearchSearch } from '../src/backends/search/elasticsearch.ts';
import { ensureIndices } from '../src/backends/search/elasticsearch-index.ts';
import type { SearchPort } from '../src/backends/search/port.ts';
import { fakeElasticsearch } from './helpers/fake-elasticsearch.ts';

describe('event indexer (bus → Elasticsearch events index)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nexus-indexer-'));
  let database: DuckDbDatabase;
  let bus: BusPort;
  beforeAll(async () => {
    database = await DuckDbDatabase.open({ file: path.join(dir, 'indexer.duckdb') });
    await database.exec(LAKEHOUSE_DDL);
    bus = await createEmbeddedLog({ database });
  });
  afterAll(async () => {
    await bus?.close();
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes ingested events searchable, retrying a batch the index refused', async () => {
    const registry = await loadSourceRegistry();
    const publisher = createPublisher({ bus, registry });
    const fake = fakeElasticsearch();
    // The index exists, as bootstrap leaves it.
    await ensureIndices(fake.client, 'nexus', { only: ['events'] });
    const search = createElasticsearchSearch({ client: fake.client, timeoutMs: 5_000 });
    let refusals = 1;
    const flaky: SearchPort & Required<Pick<SearchPort, 'indexEvents'>> = {
      ...search,
      indexEvents: async (events) => {
        if (refusals-- > 0) throw new Error('index refused the bulk request');
        await search.indexEvents!(events);
      },
    };
    const indexer = new EventIndexer({ bus, search: flaky, eventTopics: registry.sources.map((s) => s.topic), debounceMs: 5 });
    indexer.start();

    const [first] = await publisher.ingest([{ eventType: 'booking', userId: 'U-IDX', tourId: 'TOUR0001', region: 'VN', amount: 90, currency: 'USD' }], [null]);
    await indexer.flush();
    // Refused once: nothing searchable yet, the batch is kept.
    expect((await search.searchEvents({ filter: { userId: 'U-IDX' }, first: 10 })).total).toBe(0);

    const [second] = await publisher.ingest([{ eventType: 'view', userId: 'U-IDX', tourId: 'TOUR0002', region: 'TH' }], [null]);
    await indexer.flush();
    const found = await search.searchEvents({ filter: { userId: 'U-IDX' }, first: 10 });
    expect(found.total).toBe(2);
    expect(found.rows.map((r) => r.id).sort()).toEqual([first, second].map((o) => (o?.ok ? o.ack.eventId : '')).sort());
    expect(found.rows.find((r) => r.eventType === 'booking')).toMatchObject({ amount: 90, region: 'VN', topic: 'topic_booking_events' });
    await indexer.stop();
  });
});
