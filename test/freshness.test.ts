import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storableAnswer, withCacheAge } from '../src/freshness/cache-age.ts';
import { receiptPosition } from '../src/freshness/receipt-position.ts';
import { storedCommit } from '../src/platform/stored-commit.ts';
import { WatermarkTracker } from '../src/freshness/watermark-tracker.ts';
import { MEDALLION_COMMITS_TOPIC, type MedallionCommit } from '../src/platform/commit.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

interface Freshness {
  lakehouse?: { position: string; asOf: string | null; committedAt: string; snapshots?: Record<string, { id: string; at: string }> };
  analytics?: { position: string; asOf: string | null; committedAt: string };
  cache?: { hit: true; storedAt: string; ageMs: number };
}

const commit = (seq: number, position: string, extra: Partial<MedallionCommit> = {}): MedallionCommit => ({
  seq,
  committedAt: new Date(seq).toISOString(),
  tables: ['silver.events'],
  position,
  positionTime: new Date(seq - 1000).toISOString(),
  snapshots: [],
  ...extra,
});

describe('extensions.freshness', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  const get = (query: string) => fetch(`${gw.endpoint}?query=${encodeURIComponent(query)}`, { headers: { accept: 'application/json' } });
  const freshnessOf = (body: unknown) => (body as { extensions?: { freshness?: Freshness } }).extensions?.freshness;

  it('says, per role read, up to which bus position and time its data is materialised', async () => {
    const { body } = await gw.request(`{ regionalStats(regions: ["VN"]) { bookings } events(first: 1) { edges { node { eventId } } } }`);
    const tracker = gw.gateway.services.freshness.tracker;
    const lakehouse = tracker.of('lakehouse')!;
    expect(freshnessOf(body)).toEqual({
      lakehouse: { position: lakehouse.position, asOf: lakehouse.positionTime, committedAt: lakehouse.committedAt },
      analytics: { position: lakehouse.position, asOf: lakehouse.positionTime, committedAt: lakehouse.committedAt },
    });
  });

  it('follows the medallion: a pass moves the watermark to the new records', async () => {
    const before = gw.gateway.services.freshness.tracker.of('lakehouse')!;
    await gw.request('mutation { ingestEvent(input: { eventType: VIEW, userId: "USER000005", tourId: "TOUR0004" }) { offset } }');
    await gw.gateway.services.pipeline!.settle();
    const { body } = await gw.request('{ events(first: 1) { edges { node { eventId } } } }');
    const lakehouse = freshnessOf(body)!.lakehouse!;
    expect(lakehouse.position).not.toBe(before.position);
    expect(Date.parse(lakehouse.asOf!)).toBeGreaterThan(0);
    expect(Date.parse(lakehouse.committedAt)).toBeGreaterThanOrEqual(Date.parse(before.committedAt));
  });

  it('says nothing for an answer that read no medallion-fed data', async () => {
    const { body } = await gw.request('{ ping }');
    expect(freshnessOf(body)).toBeUndefined();
  });

  it('tells the age of an answer served from the response cache', async () => {
    const query = '{ tours(first: 2) { edges { node { id } } } }';
    const miss = await get(query);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const first = freshnessOf(await miss.json())!;
    expect(first.cache).toBeUndefined();
    const hit = await get(query);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    const text = await hit.text();
    expect(Number(hit.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    const replayed = freshnessOf(JSON.parse(text))!;
    expect(replayed.lakehouse).toEqual(first.lakehouse);
    expect(replayed.cache).toEqual({ hit: true, storedAt: expect.any(String), ageMs: expect.any(Number) });
    expect(replayed.cache!.ageMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(replayed.cache!.storedAt)).toBeLessThanOrEqual(Date.now());
  });

  it('hears commits published on the bus by a medallion in another process, Iceberg snapshots included', async () => {
    const bus = gw.gateway.services.backends.bus;
    const seq = Date.now() + 3_600_000;
    const published = commit(seq, '-1', { snapshots: [{ table: 'gold.user_360', snapshotId: '7021', committedAt: new Date(seq).toISOString() }] });
    // The tracker follows the tail from start-up: it has heard a record once a later listener has.
    const heard = new Promise<void>((resolve) => {
      const stop = bus.tail((entries) => {
        if (entries.some((e) => e.topic === MEDALLION_COMMITS_TOPIC)) {
          stop();
          resolve();
        }
      });
    });
    await bus.publish([{ topic: MEDALLION_COMMITS_TOPIC, key: 'medallion', eventId: `commit-${seq}`, value: JSON.stringify(published), idempotencyKey: null }]);
    await heard;
    const { body } = await gw.request(`{ user(id: "USER000001") { profile { totalBookings } } }`);
    expect(freshnessOf(body)!.lakehouse).toEqual({
      position: '-1',
      asOf: published.positionTime,
      committedAt: published.committedAt,
      snapshots: { 'gold.user_360': { id: '7021', at: published.committedAt } },
    });
  });

  it('starts from the state the last pass stored, so a fresh instance is not blank', async () => {
    await gw.gateway.services.pipeline!.settle();
    const database = gw.gateway.services.backends.embedded!;
    const read = (sql: string, params: readonly (string | number)[]) => database.query(sql, params, { timeoutMs: 10_000, onTimeout: () => new Error('timeout') });
    const stored = await storedCommit(read, gw.gateway.services.registry);
    const [row] = await read(`SELECT position FROM platform.watermarks WHERE pipeline = 'bronze'`, []);
    expect(stored).toMatchObject({ seq: 0, position: row!['position'], snapshots: [] });
    expect(Date.parse(stored!.positionTime!)).toBeGreaterThan(0);
    expect(Date.parse(stored!.committedAt)).toBeGreaterThan(0);
  });
});

describe('watermark tracker', () => {
  const offsets = { follows: (cursor: string) => (/^-?\d+$/.test(cursor) ? (entry: { offset: string }) => BigInt(entry.offset) > BigInt(cursor) : undefined) };
  const write = { topic: 'topic_booking_events', partition: 0, offset: '5', publishedAt: 1_000 };

  it('keeps the newest commit and ignores older ones', () => {
    const tracker = new WatermarkTracker({ bus: offsets });
    tracker.observe(commit(2_000, '7'));
    tracker.observe(commit(1_000, '3'));
    expect(tracker.of('lakehouse')?.position).toBe('7');
    expect(tracker.includes(write)).toBe(true);
  });

  it('wakes a waiter when a commit includes its write, and times out otherwise', async () => {
    const tracker = new WatermarkTracker({ bus: offsets, nudge: () => tracker.observe(commit(3_000, '5')) });
    tracker.observe(commit(2_000, '4'));
    expect(tracker.includes(write)).toBe(false);
    await expect(tracker.waitFor(write, 10_000)).resolves.toMatchObject({ included: true });
    const later = { ...write, offset: '9' };
    await expect(tracker.waitFor(later, 1)).resolves.toMatchObject({ included: false });
    const aborted = new AbortController();
    const waiting = tracker.waitFor(later, 10_000, aborted.signal);
    aborted.abort();
    await expect(waiting).resolves.toMatchObject({ included: false });
  });

  it('includes nothing against a position of another bus', () => {
    const tracker = new WatermarkTracker({ bus: offsets });
    tracker.observe(commit(2_000, 'eyJ2IjoxfQ'));
    expect(tracker.includes(write)).toBe(false);
  });

  it('reads its receipt tokens back and nothing else', async () => {
    const { parseReceiptPosition } = await import('../src/freshness/receipt-position.ts');
    const token = receiptPosition({ topic: 'topic_booking_events', partition: 2, offset: '41' }, 1_700_000_000_000);
    expect(parseReceiptPosition(token)).toEqual({ topic: 'topic_booking_events', partition: 2, offset: '41', publishedAt: 1_700_000_000_000 });
    for (const bad of ['', '41', 'p1.', 'p1.!!', `p2.${token.slice(3)}`, `p1.${Buffer.from('[1,2,3,4]').toString('base64url')}`]) {
      expect(parseReceiptPosition(bad)).toBeUndefined();
    }
  });
});

describe('cached answer layout', () => {
  it('stores the time last and adds the age on a hit with two slices', () => {
    const text = JSON.stringify({ data: { ping: true }, extensions: { backends: { lakehouse: { calls: 1 } }, freshness: { lakehouse: { position: '3' } } } });
    const storedAt = Date.parse('2026-12-03T12:03:41.000Z');
    const body = storableAnswer(text, storedAt);
    expect(JSON.parse(body)).toEqual({ data: { ping: true }, extensions: { freshness: { lakehouse: { position: '3' }, cache: { hit: true, storedAt: '2026-12-03T12:03:41.000Z' } } } });
    const hit = withCacheAge({ status: 200, contentType: 'application/json', body, length: Buffer.byteLength(body) }, storedAt + 1_500);
    expect(JSON.parse(hit.body).extensions.freshness.cache).toEqual({ hit: true, storedAt: '2026-12-03T12:03:41.000Z', ageMs: 1_500 });
    expect(hit.length).toBe(Buffer.byteLength(hit.body));
  });

  it('sends a body stored without the layout as it is', () => {
    const old = { status: 200, contentType: 'application/json', body: '{"data":{"ping":true}}', length: 22 };
    expect(withCacheAge(old)).toBe(old);
  });
});
