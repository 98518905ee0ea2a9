import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { landRecords, ensureBronzeTables } from '../ingest/medallion/bronze.ts';
import { DUCKDB_DIALECT, TRINO_DIALECT, type MedallionDialect } from '../ingest/medallion/dialect.ts';
import { refreshGold } from '../ingest/medallion/gold.ts';
import { promoteEvents } from '../ingest/medallion/silver-events.ts';
import { promoteTours } from '../ingest/medallion/silver-tours.ts';
import { loadSourceRegistry, type SourceRegistry } from '../ingest/registry.ts';
import type { LogEntry } from '../src/backends/bus/port.ts';
import { DuckDbDatabase } from '../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../src/backends/duckdb/ddl.ts';
import { createDuckDbWriter } from '../src/backends/duckdb/writer.ts';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import type { SqlWriter } from '../src/backends/sql/writer.ts';
import { createTrinoEngine } from '../src/backends/trino/engine.ts';
import { createTrinoWriter } from '../src/backends/trino/writer.ts';
import { startTrinoFixture, type TrinoFixture } from './helpers/trino-fixture.ts';

/**
 * Crash safety without transactions: on Trino/Iceberg every statement commits on its own, so a
 * pass interrupted after its data but before its watermarks is replayed. The replay must write
 * nothing twice: silver keyed by event id, the catalogue written only where it differs from the
 * newest record per tour, the quarantine by bronze table and bus position, gold recomputed per key. Run on the embedded writer with its transactions taken away, and on the
 * Trino writer over the protocol fixture.
 */

const NOW = new Date('2026-11-20T12:00:00.000Z');

function entry(offset: number, value: string): LogEntry {
  return { topic: 'topic_booking_events', partition: 0, offset: String(offset), key: 'U-REPLAY', eventId: `E-REPLAY-${offset}`, value, publishedAt: new Date(NOW.getTime() - 60_000 + offset), cursor: String(offset) };
}

const RECORDS: LogEntry[] = [
  entry(1, JSON.stringify({ eventId: 'E-REPLAY-1', sourceId: 'gateway_bookings', userId: 'U-REPLAY', eventType: 'booking', tourId: 'T-REPLAY', amount: 100, currency: 'USD', occurredAt: '2026-11-20T10:00:00.000Z' })),
  entry(2, JSON.stringify({ eventId: 'E-REPLAY-2', sourceId: 'gateway_bookings', userId: 'U-REPLAY', eventType: 'booking', tourId: 'T-UNKNOWN', amount: 50, currency: 'USD', occurredAt: '2026-11-20T10:05:00.000Z' })),
  entry(3, '{"eventId": "E-REPLAY-3", '),
];

function tourEntry(offset: number, state: Record<string, unknown>): LogEntry {
  const eventId = `E-TOUR-REPLAY-${offset}`;
  const value = JSON.stringify({
    eventId,
    sourceId: 'tour_catalogue',
    eventType: 'tour_update',
    tourId: 'T-REPLAY',
    name: 'Replay tour',
    destinationId: 'D-REPLAY',
    region: 'VN',
    price: 150,
    currency: 'USD',
    rating: 4.6,
    durationDays: 3,
    category: 'food',
    tags: ['old-town', 'street-food'],
    description: null,
    updatedAt: '2026-11-20T09:00:00.000Z',
    deleted: false,
    ...state,
  });
  return { topic: 'topic_tours', partition: 0, offset: String(offset), key: 'T-REPLAY', eventId, value, publishedAt: new Date(NOW.getTime() - 30_000 + offset), cursor: String(offset) };
}

/** A changed tour, a new one, and one naming a destination the catalogue lacks. */
const TOUR_RECORDS: LogEntry[] = [
  tourEntry(11, {}),
  tourEntry(12, { tourId: 'T-REPLAY-NEW', name: 'Second replay tour', price: 80 }),
  tourEntry(13, { tourId: 'T-REPLAY-NOWHERE', destinationId: 'D-NOWHERE' }),
];

async function catalogueCounts(writer: SqlWriter): Promise<Record<string, unknown>> {
  const [row] = await writer.rows(`SELECT
    (SELECT count(*) FROM silver.tours) AS tours,
    (SELECT price FROM silver.tours WHERE tour_id = 'T-REPLAY') AS price,
    (SELECT category FROM silver.tours WHERE tour_id = 'T-REPLAY') AS category,
    (SELECT count(*) FROM silver.quarantine WHERE target_table = 'silver.tours') AS quarantined,
    (SELECT count(*) FROM gold.tourism_analytics) AS analytics,
    (SELECT category FROM gold.tourism_analytics WHERE tour_id = 'T-REPLAY') AS gold_category,
    (SELECT count(*) FROM gold.recommendation_features WHERE user_id = 'U-REPLAY' AND feature = 'category' AND feature_value = 'food') AS food_feature`);
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, v === null || typeof v === 'string' ? v : Number(v)]));
}

async function counts(writer: SqlWriter): Promise<Record<string, number>> {
  const [row] = await writer.rows(`SELECT
    (SELECT count(*) FROM silver.events) AS events,
    (SELECT count(*) FROM silver.quarantine) AS quarantined,
    (SELECT count(*) FROM gold.user_360) AS profiles,
    (SELECT total_spend FROM gold.user_360 WHERE user_id = 'U-REPLAY') AS spend,
    (SELECT count(*) FROM bronze.booking_events) AS bronze`);
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

describe.each([
  ['the embedded writer without transactions', 'duckdb'],
  ['the Trino writer (protocol fixture)', 'trino'],
] as const)('a pass replayed after a crash before its watermarks, on %s', (_label, engine) => {
  let database: DuckDbDatabase;
  let fixture: TrinoFixture | undefined;
  let trino: SqlEngine | undefined;
  let writer: SqlWriter;
  let dialect: MedallionDialect;
  let registry: SourceRegistry;

  beforeAll(async () => {
    database = await DuckDbDatabase.open({ file: ':memory:', readConnections: 1 });
    await database.exec(LAKEHOUSE_DDL);
    await database.exec(`INSERT INTO silver.destinations VALUES ('D-REPLAY', 'Replay Bay', 'VN', 'Vietnam', 'Hoi An', 15.9, 108.3, 4.5);
      INSERT INTO silver.tours VALUES ('T-REPLAY', 'Replay tour', 'D-REPLAY', 'VN', 120, 'USD', 4.6, 3, 'culture', ['old-town'], 'A tour.', TIMESTAMP '2026-01-01 00:00:00')`);
    registry = await loadSourceRegistry();
    if (engine === 'duckdb') {
      const { transaction: _dropped, ...withoutTransactions } = createDuckDbWriter(database);
      writer = withoutTransactions;
      dialect = DUCKDB_DIALECT;
    } else {
      fixture = await startTrinoFixture({ connect: () => database.dedicatedConnection(), pageSize: 100 });
      trino = createTrinoEngine({ url: fixture.url, timeoutMs: 20_000 });
      writer = createTrinoWriter(trino);
      dialect = TRINO_DIALECT;
    }
    await ensureBronzeTables(writer, dialect, registry);
  });
  afterAll(async () => {
    await trino?.close();
    await fixture?.close();
    await database?.close();
  });

  it('promotes, quarantines and aggregates once, however often the pass is replayed', async () => {
    const sources = registry.sources.filter((s) => s.enabled && s.silverTable === 'silver.events');
    const pass = async () => {
      const outcomes = await promoteEvents(writer, dialect, sources, 'run-replay', NOW);
      await refreshGold(writer, dialect, NOW);
      return outcomes;
    };
    await landRecords(writer, registry, RECORDS, 'run-replay', NOW);
    const [first] = await pass();
    expect(first).toMatchObject({ recordsIn: 3, promoted: 1, quarantined: 2 });
    const once = await counts(writer);
    expect(once).toMatchObject({ events: 1, quarantined: 2, profiles: 1, spend: 100, bronze: 3 });

    // The crash: data committed, watermarks not; and the bus records landed again (at-least-once).
    await writer.execute("DELETE FROM platform.watermarks WHERE pipeline LIKE 'silver.events<%' OR pipeline = 'gold'");
    await landRecords(writer, registry, RECORDS, 'run-replay-2', NOW);
    const [replayed] = await pass();
    expect(replayed).toMatchObject({ recordsIn: 6, promoted: 0 });
    expect(await counts(writer)).toEqual({ ...once, bronze: 6 });

    // And a pass with nothing new writes nothing.
    expect(await promoteEvents(writer, dialect, sources, 'run-replay-3', NOW)).toEqual([]);
    expect(await refreshGold(writer, dialect, NOW)).toBeUndefined();
  });

  it('applies catalogue records once, and gold follows, however often the pass is replayed', async () => {
    const sources = registry.sources.filter((s) => s.enabled && s.silverTable === 'silver.tours');
    const catalogue = sources.map((s) => s.bronzeTable);
    /** Tables each pass said it changes (what its commit lists). */
    let announced = new Set<string>();
    const pass = async () => {
      announced = new Set();
      const outcomes = await promoteTours(writer, dialect, sources, 'run-tours', NOW, { changing: (table) => announced.add(table) });
      await refreshGold(writer, dialect, NOW, { catalogue });
      return outcomes;
    };
    await landRecords(writer, registry, TOUR_RECORDS, 'run-tours', NOW);
    const [first] = await pass();
    expect(first).toMatchObject({ recordsIn: 3, upserted: 2, deleted: 0, quarantined: 1, superseded: 0 });
    expect([...announced].sort()).toEqual(['silver.quarantine', 'silver.tours']);
    const once = await catalogueCounts(writer);
    // The booking of T-REPLAY (previous test) now weighs for its new category in U-REPLAY's features.
    expect(once).toEqual({ tours: 2, price: 150, category: 'food', quarantined: 1, analytics: 2, gold_category: 'food', food_feature: 1 });

    await writer.execute("DELETE FROM platform.watermarks WHERE pipeline LIKE 'silver.tours<%' OR pipeline LIKE 'gold<%'");
    await landRecords(writer, registry, TOUR_RECORDS, 'run-tours-2', NOW);
    const [replayed] = await pass();
    expect(replayed).toMatchObject({ recordsIn: 6, upserted: 0, deleted: 0, superseded: 6 - replayed!.quarantined });
    expect(await catalogueCounts(writer)).toEqual(once);
    // The crashed attempt's commit was never announced: the replay announces what silver holds from it.
    expect(announced.has('silver.tours')).toBe(true);

    // A deletion removes the tour and its gold row; an older state arriving after it does not bring it back.
    await landRecords(writer, registry, [tourEntry(14, { deleted: true, updatedAt: '2026-11-20T09:30:00.000Z' })], 'run-tours-3', NOW);
    expect((await pass())[0]).toMatchObject({ recordsIn: 1, upserted: 0, deleted: 1 });
    await landRecords(writer, registry, [tourEntry(15, { price: 1, updatedAt: '2026-11-20T09:10:00.000Z' })], 'run-tours-4', NOW);
    expect((await pass())[0]).toMatchObject({ recordsIn: 1, upserted: 0, deleted: 0, superseded: 1 });
    expect(announced.size).toBe(0);
    expect(await catalogueCounts(writer)).toMatchObject({ tours: 1, price: null, analytics: 1 });

    expect(await promoteTours(writer, dialect, sources, 'run-tours-5', NOW)).toEqual([]);
    expect(await refreshGold(writer, dialect, NOW, { catalogue })).toBeUndefined();
  });
});
