import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, type BootstrapReport } from '../../scripts/bootstrap.ts';
import { ensureBronzeTables } from '../../ingest/medallion/bronze.ts';
import { DUCKDB_DIALECT, DUCKDB_TYPES } from '../../ingest/medallion/dialect.ts';
import { createDuckDbWriter } from '../../src/backends/duckdb/writer.ts';
import { loadSourceRegistry } from '../../ingest/registry.ts';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../../src/backends/duckdb/ddl.ts';
import type { SqlEngine } from '../../src/backends/sql/port.ts';
import { createTrinoEngine } from '../../src/backends/trino/engine.ts';
import { LAKEHOUSE_SCHEMAS, LAKEHOUSE_VIEWS, lakehouseTables, type IcebergTable } from '../../src/backends/trino/iceberg-ddl.ts';
import { icebergLiteral } from '../../src/backends/trino/iceberg-load.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from '../helpers/gateway.ts';
import { startTrinoFixture, type TrinoFixture } from '../helpers/trino-fixture.ts';

/**
 * `npm run bootstrap` with `TRINO_URL`: the lakehouse's Iceberg tables created through Trino and
 * the demo data loaded into them (scripts/bootstrap.ts, src/backends/trino/iceberg-*.ts), against
 * the Trino protocol fixture over an empty DuckDB; then a gateway on that Trino answering as the
 * embedded gateway does for the same demo.
 */


interface ColumnRow {
  table_schema: string;
  table_name: string;
  table_type: string;
  column_name: string;
  data_type: string;
  is_nullable: string;
}

/** Every column of the lakehouse schemas, tables and views, in order. */
async function layoutOf(database: DuckDbDatabase): Promise<ColumnRow[]> {
  return database.query<ColumnRow & Record<string, unknown>>(
    `SELECT c.table_schema, c.table_name, t.table_type, c.column_name, c.data_type, c.is_nullable
     FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema IN (${LAKEHOUSE_SCHEMAS.map((s) => `'${s}'`).join(', ')})
     ORDER BY c.table_schema, c.table_name, c.ordinal_position`,
    [],
    { timeoutMs: 10_000, onTimeout: () => new Error('timed out') },
  );
}

async function countOf(database: DuckDbDatabase, table: string): Promise<number> {
  const [row] = await database.query(`SELECT count(*) AS n FROM ${table}`, [], { timeoutMs: 10_000, onTimeout: () => new Error('timed out') });
  return Number(row?.['n']);
}

/** A fresh embedded lakehouse: the embedded DDL plus every enabled source's bronze table. */
async function freshEmbeddedLakehouse(): Promise<{ database: DuckDbDatabase; tables: IcebergTable[] }> {
  const registry = await loadSourceRegistry();
  const database = await DuckDbDatabase.open({ file: ':memory:', readConnections: 1 });
  await database.exec(LAKEHOUSE_DDL);
  await ensureBronzeTables(createDuckDbWriter(database), DUCKDB_DIALECT, registry);
  return { database, tables: lakehouseTables(registry.sources.filter((s) => s.enabled).map((s) => s.bronzeTable)) };
}

describe('the Iceberg table catalogue', () => {
  it('declares every embedded table with the same columns, in order, types and nullability', async () => {
    const { database, tables } = await freshEmbeddedLakehouse();
    try {
      const embedded = (await layoutOf(database)).filter((c) => c.table_type === 'BASE TABLE');
      const declared = tables.flatMap((table) => {
        const [schema = '', name = ''] = table.name.split('.');
        return table.columns.map((column): ColumnRow => ({
          table_schema: schema,
          table_name: name,
          table_type: 'BASE TABLE',
          column_name: column.name,
          data_type: (DUCKDB_TYPES as Record<string, string>)[column.type] ?? column.type,
          is_nullable: column.nullable ? 'YES' : 'NO',
        }));
      });
      const key = (c: ColumnRow) => `${c.table_schema}.${c.table_name}`;
      expect(new Set(declared.map(key))).toEqual(new Set(embedded.map(key)));
      const sorted = (rows: ColumnRow[]) => [...rows].sort((a, b) => key(a).localeCompare(key(b)));
      expect(sorted(declared)).toEqual(sorted(embedded));
      const views = (await layoutOf(database)).filter((c) => c.table_type === 'VIEW').map(key);
      expect([...new Set(views)]).toEqual(LAKEHOUSE_VIEWS.map((v) => v.name));
    } finally {
      await database.close();
    }
  });

  it('renders each value as a literal of its column type, and refuses a value of another type', () => {
    const column = (type: IcebergTable['columns'][number]['type']) => ({ name: 'c', type, nullable: true });
    expect(icebergLiteral(column('VARCHAR'), "it's")).toBe("'it''s'");
    expect(icebergLiteral(column('TIMESTAMP(6)'), '2026-10-31 23:59:59.123456')).toBe("TIMESTAMP '2026-10-31 23:59:59.123456'");
    expect(icebergLiteral(column('DATE'), '2026-10-31')).toBe("DATE '2026-10-31'");
    expect(icebergLiteral(column('BIGINT'), 12n)).toBe('12');
    expect(icebergLiteral(column('BIGINT'), 2n ** 60n)).toBe("BIGINT '1152921504606846976'");
    expect(icebergLiteral(column('DOUBLE'), 2.5)).toBe("DOUBLE '2.5'");
    expect(icebergLiteral(column('ARRAY(VARCHAR)'), ['a', "b'c"])).toBe("ARRAY['a', 'b''c']");
    expect(icebergLiteral(column('ARRAY(VARCHAR)'), [])).toBe('ARRAY[]');
    expect(icebergLiteral(column('BOOLEAN'), null)).toBe('NULL');
    expect(() => icebergLiteral(column('TIMESTAMP(6)'), "2026-10-31' OR '1'='1")).toThrow(TypeError);
    expect(() => icebergLiteral(column('TIMESTAMP(6)'), new Date())).toThrow(TypeError);
    expect(() => icebergLiteral(column('DATE'), '2026-10-31T00:00:00Z')).toThrow(TypeError);
    expect(() => icebergLiteral(column('DOUBLE'), '2.5')).toThrow(TypeError);
    expect(() => icebergLiteral(column('ARRAY(VARCHAR)'), [1])).toThrow(TypeError);
  });
});

describe('the Trino fixture takes DDL and DML as Trino with Iceberg does', () => {
  let database: DuckDbDatabase;
  let fixture: TrinoFixture;
  let trino: SqlEngine;

  beforeAll(async () => {
    database = await DuckDbDatabase.open({ file: ':memory:', readConnections: 1 });
    fixture = await startTrinoFixture({ connect: () => database.dedicatedConnection() });
    trino = createTrinoEngine({ url: fixture.url, timeoutMs: 10_000 });
    await trino.query('CREATE SCHEMA IF NOT EXISTS iceberg.silver');
    await trino.query(`CREATE TABLE IF NOT EXISTS silver.probe (
      id VARCHAR NOT NULL, seen_at TIMESTAMP(6) NOT NULL, seen_on DATE, tags ARRAY(VARCHAR), n BIGINT
    ) WITH (format = 'PARQUET', partitioning = ARRAY['month(seen_at)', 'seen_on'])`);
  });
  afterAll(async () => {
    await trino?.close();
    await fixture?.close();
    await database?.close();
  });

  const failure = async (sql: string) => {
    const error = (await trino.query(sql).catch((e: unknown) => e)) as { cause?: { errorName?: string; message?: string } };
    return error.cause?.errorName;
  };

  it('answers DDL with its updateType and no columns, on the wire', async () => {
    let answer = (await (await fetch(`${fixture.url}/v1/statement`, {
      method: 'POST',
      headers: { 'X-Trino-User': 'test', 'X-Trino-Catalog': 'iceberg', 'X-Trino-Schema': 'default' },
      body: 'CREATE SCHEMA IF NOT EXISTS gold',
    })).json()) as { nextUri?: string; updateType?: string; columns?: unknown[]; data?: unknown[]; stats: { state: string } };
    expect(answer.updateType).toBeUndefined();
    while (answer.nextUri) answer = (await (await fetch(answer.nextUri, { headers: { 'X-Trino-User': 'test' } })).json()) as typeof answer;
    expect(answer).toMatchObject({ updateType: 'CREATE SCHEMA', columns: [], stats: { state: 'FINISHED' } });
    expect(answer.data).toBeUndefined();
  });

  it('answers INSERT and DELETE with the rows written, as a rows column and updateCount', async () => {
    const inserted = fixture.nextQuery();
    expect(await trino.query("INSERT INTO iceberg.silver.probe (id, seen_at, seen_on, tags) VALUES ('a', TIMESTAMP '2026-01-01 10:00:00.123456', DATE '2026-01-01', ARRAY['x']), ('b', TIMESTAMP '2026-01-02 00:00:00', NULL, ARRAY[])"))
      .toEqual([{ rows: 2 }]);
    expect(await inserted).toMatchObject({ updateType: 'INSERT', updateCount: 2 });
    expect(await trino.query('SELECT id, seen_at, tags FROM silver.probe ORDER BY id')).toEqual([
      { id: 'a', seen_at: new Date('2026-01-01T10:00:00.123Z'), tags: ['x'] },
      { id: 'b', seen_at: new Date('2026-01-02T00:00:00.000Z'), tags: [] },
    ]);
    expect(await trino.query("DELETE FROM silver.probe WHERE id = 'b'")).toEqual([{ rows: 1 }]);
  });

  it('refuses what Trino refuses: constraints other than NOT NULL, defaults, non-Iceberg types, unknown properties', async () => {
    expect(await failure('CREATE TABLE silver.keyed (id VARCHAR PRIMARY KEY)')).toBe('SYNTAX_ERROR');
    expect(await failure('CREATE TABLE silver.keyed (id VARCHAR, PRIMARY KEY (id))')).toBe('TYPE_NOT_FOUND');
    expect(await failure('CREATE TABLE silver.defaulted (flag BOOLEAN NOT NULL DEFAULT false)')).toBe('SYNTAX_ERROR');
    expect(await failure('CREATE TABLE silver.millis (at TIMESTAMP)')).toBe('NOT_SUPPORTED');
    expect(await failure('CREATE TABLE silver.bounded (name VARCHAR(10))')).toBe('NOT_SUPPORTED');
    expect(await failure("CREATE TABLE silver.coloured (a VARCHAR) WITH (colour = 'red')")).toBe('INVALID_TABLE_PROPERTY');
    expect(await failure("CREATE TABLE silver.parted (a VARCHAR) WITH (partitioning = ARRAY['month(b)'])")).toBe('INVALID_TABLE_PROPERTY');
    expect(await failure("CREATE TABLE silver.parted (a VARCHAR) WITH (partitioning = ARRAY['month(a)'])")).toBe('INVALID_TABLE_PROPERTY');
    expect(await failure('CREATE TABLE elsewhere.silver.t (a VARCHAR)')).toBe('CATALOG_NOT_FOUND');
    expect(await failure('CREATE TABLE silver.probe (a VARCHAR)')).toBe('TABLE_ALREADY_EXISTS');
    expect(await failure('CREATE TABLE nowhere.t (a VARCHAR)')).toBe('SCHEMA_NOT_FOUND');
    expect(await failure('DROP TABLE silver.probe')).toBe('NOT_SUPPORTED');
  });

  it('refuses INSERT values Trino would not coerce into their columns', async () => {
    expect(await failure("INSERT INTO silver.probe (id, seen_at) VALUES ('c', '2026-01-01 00:00:00')")).toBe('TYPE_MISMATCH');
    expect(await failure("INSERT INTO silver.probe (id, seen_at) VALUES ('c', TIMESTAMP '2026-01-01 00:00:00 UTC')")).toBe('TYPE_MISMATCH');
    expect(await failure("INSERT INTO silver.probe (id, seen_at, n) VALUES ('c', TIMESTAMP '2026-01-01 00:00:00', DOUBLE '1.5')")).toBe('TYPE_MISMATCH');
    expect(await failure("INSERT INTO silver.probe (id, seen_at) VALUES ('c')")).toBe('TYPE_MISMATCH');
    expect(await failure("INSERT INTO silver.probe (id, nope) VALUES ('c', 1)")).toBe('COLUMN_NOT_FOUND');
    expect(await failure("INSERT INTO silver.probe (id) VALUES ('c')")).toBe('CONSTRAINT_VIOLATION');
    expect(await failure("INSERT INTO silver.missing (id) VALUES ('c')")).toBe('TABLE_NOT_FOUND');
    expect(await countOf(database, 'silver.probe')).toBe(1);
  });
});

describe('bootstrap with TRINO_URL', () => {
  let embedded: TestGateway;
  let target: DuckDbDatabase;
  let fixture: TrinoFixture;
  let config: Config;
  let dataDir: string;
  let first: BootstrapReport;
  let viaTrino: TestGateway | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    // The embedded gateway, with the demo for the test seed, scale and anchor: the answers to match.
    embedded = await startTestGateway({ env: { RESPONSE_CACHE: 'false' } });
    // Trino over an empty database: everything in it comes from the bootstrap.
    target = await DuckDbDatabase.open({ file: ':memory:', readConnections: 2 });
    fixture = await startTrinoFixture({ connect: () => target.dedicatedConnection(), pageSize: 500 });
    dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-bootstrap-test-'));
    config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', TRINO_URL: fixture.url, DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR });
    first = await bootstrap(config, (line) => lines.push(line));
  }, 120_000);
  afterAll(async () => {
    await viaTrino?.close();
    await fixture?.close();
    await target?.close();
    await embedded?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates every lakehouse table and view in Trino, with the embedded layout', async () => {
    const embeddedDatabase = embedded.gateway.services.backends.embedded!;
    expect(await layoutOf(target)).toEqual(await layoutOf(embeddedDatabase));
    const creates = [...fixture.queries.values()].filter((q) => q.updateType?.startsWith('CREATE'));
    expect(creates.map((q) => q.updateType)).toEqual(first.iceberg!.statements.map((sql) => /^CREATE (?:OR REPLACE )?(SCHEMA|TABLE|VIEW)/.exec(sql)?.[0].replace('OR REPLACE ', '')));
  });

  it('loads the demo rows into every table', async () => {
    const embeddedDatabase = embedded.gateway.services.backends.embedded!;
    const copies = first.iceberg!.tables;
    expect(copies.map((c) => c.table)).toEqual(lakehouseTables((await loadSourceRegistry()).sources.filter((s) => s.enabled).map((s) => s.bronzeTable)).map((t) => t.name));
    for (const copy of copies) {
      expect(copy.outcome).toBe(copy.rows === 0 ? 'present' : 'loaded');
      expect(await countOf(target, copy.table)).toBe(copy.rows);
      // Run metadata (pipeline runs, quality, lineage, watermarks) is each lakehouse's own.
      if (!copy.table.startsWith('platform.') || copy.table === 'platform.demo_data') {
        expect({ table: copy.table, rows: copy.rows }).toEqual({ table: copy.table, rows: await countOf(embeddedDatabase, copy.table) });
      }
    }
    expect(copies.find((c) => c.table === 'silver.events')?.rows).toBeGreaterThan(5_000);
    expect(copies.find((c) => c.table === 'gold.user_360')?.rows).toBeGreaterThan(0);
    expect(lines.some((line) => line.includes('silver.events loaded'))).toBe(true);
  });

  it('writes nothing on a second run, and repairs a table that lost rows', async () => {
    const counts = async () => Object.fromEntries(await Promise.all(first.iceberg!.tables.map(async (c) => [c.table, await countOf(target, c.table)] as const)));
    const before = await counts();
    const second = await bootstrap(config, () => undefined);
    expect(second.iceberg!.tables.map((c) => c.outcome)).toEqual(first.iceberg!.tables.map(() => 'present'));
    expect(await counts()).toEqual(before);

    await target.exec("DELETE FROM silver.tours WHERE tour_id > 'TOUR0100'");
    const third = await bootstrap(config, () => undefined);
    expect(third.iceberg!.tables.filter((c) => c.outcome !== 'present')).toEqual([
      expect.objectContaining({ table: 'silver.tours', outcome: 'replaced', rows: before['silver.tours'] }),
    ]);
    expect(await counts()).toEqual(before);
  }, 60_000);

  it('serves a gateway on that Trino with the embedded gateway answers', async () => {
    viaTrino = await startTestGateway({ env: { TRINO_URL: fixture.url, RESPONSE_CACHE: 'false' } });
    const queries = [
      '{ tours(first: 25, filter: { regions: ["VN", "JP"] }) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name region price currency rating durationDays category tags description updatedAt destination { id name } } } } }',
      '{ tour(id: "TOUR0042") { id name price tags destination { id name countryCode country city rating coordinates { latitude longitude } } } }',
      '{ destinations(first: 50) { edges { node { id name countryCode rating } } } }',
      '{ user(id: "USER000001") { id profile { totalBookings totalSpend averageBookingValue favouriteRegion lastBookingAt segment } bookings(first: 5) { edges { node { id eventType amount occurredAt tourId } } } recommendations(first: 5) { tour { id name } score reason } } }',
      '{ user(id: "USER000321") { profile { totalBookings totalSpend favouriteRegion segment } recommendations(first: 3) { tour { id } score reason } } }',
    ];
    const answers = [];
    for (const query of queries) {
      const [trino, local] = await Promise.all([viaTrino.request(query), embedded.request(query)]);
      expect(trino.body.errors).toBeUndefined();
      expect(local.body.errors).toBeUndefined();
      expect(trino.body.data).toEqual(local.body.data);
      answers.push(trino.body.data);
    }
    // The answers compared carry data: gold figures and recommendations, not nulls on both sides.
    expect(answers[3]).toMatchObject({ user: { profile: { totalBookings: expect.any(Number) }, recommendations: [{}, {}, {}, {}, {}] } });
    expect((answers[3] as { user: { profile: { totalBookings: number } } }).user.profile.totalBookings).toBeGreaterThan(0);
    const tables = '{ platform { tables { name layer rowCount } } }';
    type Tables = { platform: { tables: { name: string; layer: string; rowCount: number }[] } };
    const [trino, local] = await Promise.all([viaTrino.request<Tables>(tables), embedded.request<Tables>(tables)]);
    expect(trino.body.errors).toBeUndefined();
    const data = (body: typeof trino.body) => body.data!.platform.tables;
    expect(data(trino.body).map((t) => t.name)).toEqual(data(local.body).map((t) => t.name));
    const ofData = (list: Tables['platform']['tables']) => list.filter((t) => t.layer !== 'platform');
    expect(ofData(data(trino.body))).toEqual(ofData(data(local.body)));
    const health = (await (await fetch(`${viaTrino.url}/health`)).json()) as { backends: { role: string; adapter: string; status: string }[] };
    expect(health.backends.find((b) => b.role === 'lakehouse')).toMatchObject({ adapter: 'trino', status: 'OK' });
  }, 60_000);
});
