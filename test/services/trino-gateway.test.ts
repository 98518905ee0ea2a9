import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startTrinoFixture, type TrinoFixture } from '../helpers/trino-fixture.ts';

/**
 * The gateway with `TRINO_URL` set: lakehouse reads, Iceberg time travel and table snapshots go
 * through the Trino adapter to a protocol fixture that answers from a demo lakehouse.
 */
describe('gateway with TRINO_URL', () => {
  let source: TestGateway;
  let fixture: TrinoFixture;
  let gw: TestGateway;
  const FIRST_COMMIT = '2026-06-01T00:00:00.000Z';
  const SECOND_COMMIT = '2026-09-01T00:00:00.000Z';

  beforeAll(async () => {
    // The demo lakehouse the fixture answers from, plus an older version of silver.tours.
    source = await startTestGateway();
    const database = source.gateway.services.backends.embedded!;
    await database.exec(`CREATE SCHEMA IF NOT EXISTS fixture_history;
      CREATE OR REPLACE TABLE fixture_history.tours_v1 AS
        SELECT * REPLACE (price * 2 AS price) FROM silver.tours WHERE tour_id <= 'TOUR0050'`);
    fixture = await startTrinoFixture({
      connect: () => database.dedicatedConnection(),
      pageSize: 200,
      history: [
        {
          table: 'silver.tours',
          snapshots: [
            { snapshotId: 7565767416590411866n, parentId: null, committedAt: new Date(FIRST_COMMIT), operation: 'append', summary: { 'added-records': '50', 'total-records': '50' }, relation: 'fixture_history.tours_v1' },
            { snapshotId: 8667764846443717831n, parentId: 7565767416590411866n, committedAt: new Date(SECOND_COMMIT), operation: 'overwrite', summary: { 'total-records': '300' }, relation: 'silver.tours' },
          ],
        },
      ],
    });
    gw = await startTestGateway({ env: { TRINO_URL: fixture.url, RESPONSE_CACHE: 'false' } });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await fixture?.close();
    await source?.close();
  });

  it('serves lakehouse reads through Trino with the same answers', async () => {
    const query = '{ tours(first: 5, filter: { regions: ["JP"] }) { totalCount edges { node { id name price tags updatedAt destination { name } } } } }';
    const viaTrino = await gw.request(query);
    expect(viaTrino.body.errors).toBeUndefined();
    expect(viaTrino.body.data).toEqual((await source.request(query)).body.data);
    const health = (await (await fetch(`${gw.url}/health`)).json()) as { backends: { role: string; adapter: string; status: string }[] };
    expect(health.backends.find((b) => b.role === 'lakehouse')).toMatchObject({ adapter: 'trino', status: 'OK' });
  });

  it('travels back in time with asOf', async () => {
    const { body } = await gw.request<{ now: { price: number }; then: { price: number }; old: { totalCount: number } }>(`{
      now: tour(id: "TOUR0007") { price }
      then: tour(id: "TOUR0007", asOf: "2026-07-01T00:00:00Z") { price }
      old: tours(first: 1, asOf: "2026-07-01T00:00:00Z") { totalCount }
    }`);
    expect(body.errors).toBeUndefined();
    expect(body.data!.then.price).toBeCloseTo(body.data!.now.price * 2, 2);
    expect(body.data!.old.totalCount).toBe(50);
  });

  it('lists table snapshots under platform.tables, newest first', async () => {
    const { body } = await gw.request<{ platform: { tables: { name: string; snapshots: { id: string; committedAt: string; operation: string; totalRecords: number | null }[] }[] } }>(
      '{ platform { tables { name snapshots { id committedAt operation totalRecords } } } }',
    );
    expect(body.errors).toBeUndefined();
    const tours = body.data!.platform.tables.find((t) => t.name === 'silver.tours');
    expect(tours?.snapshots).toEqual([
      { id: '8667764846443717831', committedAt: SECOND_COMMIT, operation: 'overwrite', totalRecords: 300 },
      { id: '7565767416590411866', committedAt: FIRST_COMMIT, operation: 'append', totalRecords: 50 },
    ]);
  });
});
