import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BackendError } from '../src/errors.ts';
import type { SqlEngine, SqlRow, SqlValue } from '../src/backends/sql/port.ts';
import { CatalogueReplica } from '../src/catalogue/replica.ts';
import { startFreshness } from '../src/freshness/gateway-freshness.ts';
import type { MedallionCommit } from '../src/platform/commit.ts';
import { describeCatalogueContract } from './contracts/catalogue.contract.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

/** Catalogue rows the demo data lacks: NULL ratings and destinations, ids SQL orders differently from UTF-16. */
const EDGE_ROWS = `
  INSERT INTO silver.destinations VALUES ('DEST\u{1F600}', 'Unrated Bay', 'VN', 'Vietnam', 'Hue', NULL, NULL, NULL);
  INSERT INTO silver.tours VALUES
    ('TOUR\u{1F600}', 'Emoji walk', NULL, 'VN', 15, 'USD', NULL, 1, 'culture', [], NULL, TIMESTAMP '2026-01-01 00:00:00'),
    ('TOUR\uE000', 'Private use', 'DEST\u{1F600}', 'VN', 250, 'USD', NULL, 2, 'food', ['street-food'], 'x', TIMESTAMP '2026-01-02 00:00:00'),
    ('TOUR0001a', 'Between ids', 'DEST\u{1F600}', 'TH', 99.5, 'USD', 4.5, 3, 'culture', ['old-town', 'street-food'], NULL, TIMESTAMP '2026-01-03 00:00:00');`;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { RESPONSE_CACHE: 'true' } });
}, 60_000);
afterAll(async () => {
  await gw?.close();
});

const lakehouse = () => gw.gateway.services.backends.lakehouse;

describeCatalogueContract('replica of the embedded lakehouse', async () => {
  const database = gw.gateway.services.backends.embedded!;
  // A second lakehouse state just for the contract: the edge rows, in a copy of the demo tables.
  await database.exec(EDGE_ROWS);
  const replica = new CatalogueReplica({ lakehouse: lakehouse(), maxRows: 100_000 });
  await replica.start();
  expect(replica.state).toBe('serving');
  return { lakehouse: lakehouse(), snapshot: () => replica.current! };
});

/** A commit of the in-process medallion, as its runner announces it, naming `tables`. */
function commitAfter(previous: MedallionCommit | undefined, tables: string[]): MedallionCommit {
  return {
    seq: (previous?.seq ?? 0) + 1,
    committedAt: new Date().toISOString(),
    tables,
    position: previous?.position ?? '',
    positionTime: previous?.positionTime ?? null,
    snapshots: [],
  };
}

describe('the gateway’s catalogue replica', () => {
  it('answers catalogue reads without the lakehouse', async () => {
    const response = await fetch(gw.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ tours(first: 3, filter: { regions: ["TH", "VN"], minPrice: 120.5 }) { totalCount edges { node { id destination { name } } } } }' }),
    });
    const body = (await response.json()) as { extensions: { backends: Record<string, { adapter: string; calls: number }>; freshness: Record<string, unknown> } };
    expect(body.extensions.backends['lakehouse']).toMatchObject({ adapter: 'catalogue-replica', calls: 2 });
    // A replica read is a lakehouse read: the answer states the watermark it reflects.
    expect(body.extensions.freshness['lakehouse']).toBeDefined();
  });

  it('shows a catalogue change once the medallion commits it, and the commit is counted as seen only after the replica has it', async () => {
    const { services } = gw.gateway;
    const query = '{ tour(id: "TOUR0005") { price } tours(first: 1, filter: { minPrice: 99999 }) { totalCount } }';
    const before = await gw.request<{ tour: { price: number }; tours: { totalCount: number } }>(query);
    expect(before.body.data?.tours.totalCount).toBe(0);
    const price = before.body.data!.tour.price;

    // The lakehouse changes; until a commit says so, answers (cached or not) stay on the committed state.
    await services.backends.embedded!.exec("UPDATE silver.tours SET price = 123456 WHERE tour_id = 'TOUR0005'");
    expect((await gw.request(query)).body.data).toEqual(before.body.data);

    const commit = commitAfter(services.freshness.tracker.of('lakehouse'), ['silver.tours']);
    services.pipeline!.runs.emit('committed', commit);
    await vi.waitFor(() => expect(services.freshness.tracker.of('lakehouse')?.seq).toBe(commit.seq), { timeout: 10_000 });
    // Seen means served: no answer after this point is older than the commit.
    const after = await gw.request<{ tour: { price: number }; tours: { totalCount: number } }>(query);
    expect(after.body.data).toEqual({ tour: { price: 123456 }, tours: { totalCount: 1 } });
    expect(price).not.toBe(123456);
  });

  it('ignores commits that did not change the catalogue (nothing reloaded)', async () => {
    const { services } = gw.gateway;
    const statements: string[] = [];
    const engine = recordingEngine(lakehouse(), statements);
    const replica = new CatalogueReplica({ lakehouse: engine, maxRows: 100_000 });
    await replica.start();
    expect(statements).toHaveLength(2);
    await replica.apply(commitAfter(services.freshness.tracker.of('lakehouse'), ['silver.events', 'gold.user_360']));
    expect(statements).toHaveLength(2);
    await replica.apply(commitAfter(services.freshness.tracker.of('lakehouse'), ['silver.destinations']));
    expect(statements).toHaveLength(3);
    expect(statements[2]).toMatch(/FROM silver\.destinations/);
  });
});

/** A view of `engine` that records each statement; `failing()` makes every call fail until `healthy()`. */
function recordingEngine(engine: SqlEngine, statements: string[]) {
  let broken = false;
  return Object.assign(
    {
      ...engine,
      query: <R extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]) => {
        statements.push(sql);
        if (broken) return Promise.reject(new BackendError({ role: 'lakehouse', adapter: engine.adapter, message: 'lakehouse unreachable' }));
        return engine.query<R>(sql, params);
      },
    },
    {
      failing: () => void (broken = true),
      healthy: () => void (broken = false),
    },
  );
}

describe('catalogue replica lifecycle', () => {
  it('steps aside while it cannot be current, and serves again once a retry reads the tables', async () => {
    const statements: string[] = [];
    const engine = recordingEngine(lakehouse(), statements);
    const replica = new CatalogueReplica({ lakehouse: engine, maxRows: 100_000, retryMs: 20 });
    engine.failing();
    await replica.start();
    expect(replica.state).toBe('behind');
    expect(replica.current).toBeUndefined();
    engine.healthy();
    await vi.waitFor(() => expect(replica.state).toBe('serving'), { timeout: 10_000 });
    expect(replica.current!.toursByIds(['TOUR0001'])).toHaveLength(1);

    // A refresh that fails must not leave the old copy serving past the commit.
    engine.failing();
    await replica.apply(commitAfter(undefined, ['silver.tours']));
    expect(replica.current).toBeUndefined();
    engine.healthy();
    await vi.waitFor(() => expect(replica.state).toBe('serving'), { timeout: 10_000 });
    replica.close();
    expect(replica.current).toBeUndefined();
  });

  it('stays off when a table is over its row bound, so a large catalogue is read from the lakehouse', async () => {
    const replica = new CatalogueReplica({ lakehouse: lakehouse(), maxRows: 5 });
    await replica.start();
    expect(replica.state).toBe('too-large');
    expect(replica.current).toBeUndefined();
  });

  it('applies commits one at a time, in the order heard', async () => {
    const statements: string[] = [];
    const replica = new CatalogueReplica({ lakehouse: recordingEngine(lakehouse(), statements), maxRows: 100_000 });
    const order: string[] = [];
    await Promise.all([
      replica.start().then(() => order.push('start')),
      replica.apply(commitAfter(undefined, ['silver.tours'])).then(() => order.push('tours')),
      replica.apply(commitAfter(undefined, ['silver.events'])).then(() => order.push('events')),
    ]);
    expect(order).toEqual(['start', 'tours', 'events']);
    expect(statements).toHaveLength(3);
  });
});

describe('commits and the copies that must catch up first', () => {
  it('counts a commit as seen (watermark, invalidation) only once the catch-up finished, keeping commit order', async () => {
    const { services } = gw.gateway;
    const releases: (() => void)[] = [];
    const seen: number[] = [];
    const freshness = startFreshness({
      config: services.config,
      backends: services.backends,
      registry: services.registry,
      pipeline: services.pipeline,
      logger: gw.gateway.logger,
      beforeCommit: () => new Promise<void>((resolve) => releases.push(resolve)),
      onCommit: (commit) => seen.push(commit.seq),
    });
    try {
      const held = services.freshness.tracker.of('lakehouse');
      const first = commitAfter(held, ['silver.tours']);
      const second = { ...commitAfter(first, ['silver.events']) };
      services.pipeline!.runs.emit('committed', first);
      services.pipeline!.runs.emit('committed', second);
      await vi.waitFor(() => expect(releases).toHaveLength(1));
      expect(seen).toEqual([]);
      expect(freshness.tracker.of('lakehouse')?.seq ?? 0).toBeLessThan(first.seq);
      releases[0]!();
      await vi.waitFor(() => expect(releases).toHaveLength(2));
      expect(seen).toEqual([first.seq]);
      releases[1]!();
      await vi.waitFor(() => expect(seen).toEqual([first.seq, second.seq]));
      expect(freshness.tracker.of('lakehouse')?.seq).toBe(second.seq);
    } finally {
      freshness.close();
    }
  });
});
