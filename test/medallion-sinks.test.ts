import { describe, expect, it } from 'vitest';
import { medallionSinks } from '../ingest/medallion/sinks.ts';
import type { Backends } from '../src/backends/index.ts';

/**
 * Which downstream copies the medallion keeps, by where it runs and which engines the roles use:
 * the catalogue's copies follow silver.tours (and the destination names), the events' copy
 * silver.events; a shared search index is fed wherever the medallion runs, an in-process one only
 * in the gateway whose searches it answers.
 */
describe('the medallion sinks', () => {
  const backends = (analytics: string, search: string) =>
    ({ analytics: { adapter: analytics }, search: { adapter: search, indexTours: async () => undefined }, lakehouse: { adapter: 'duckdb' } }) as unknown as Backends;
  const summary = (sinks: ReturnType<typeof medallionSinks>) => sinks.map((s) => ({ name: s.name, tables: s.tables, atStart: s.atStart ?? false }));
  const catalogue = ['silver.tours', 'silver.destinations'];

  it('embedded engines: the in-process tour index, in the gateway only', () => {
    expect(summary(medallionSinks({ backends: backends('duckdb', 'minisearch'), localSearch: true }))).toEqual([{ name: 'search-tours', tables: catalogue, atStart: false }]);
    expect(medallionSinks({ backends: backends('duckdb', 'minisearch') })).toEqual([]);
  });

  it('Elasticsearch and ClickHouse: fed wherever the medallion runs, caught up at the start of the worker', () => {
    expect(summary(medallionSinks({ backends: backends('clickhouse', 'elasticsearch') }))).toEqual([
      { name: 'clickhouse', tables: ['silver.events'], atStart: false },
      { name: 'clickhouse-tours', tables: catalogue, atStart: true },
      { name: 'search-tours', tables: catalogue, atStart: true },
    ]);
    // The gateway built the index at its own start.
    expect(summary(medallionSinks({ backends: backends('duckdb', 'elasticsearch'), localSearch: true }))).toEqual([{ name: 'search-tours', tables: catalogue, atStart: false }]);
  });
});
