import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as analytics from '../../src/backends/analytics/queries.ts';
import { createClickHouseEngine, wallClockToDate, type ClickHouseEngine, type ClickHouseFeatures } from '../../src/backends/clickhouse/engine.ts';
import { copyEventsToClickHouse } from '../../src/backends/clickhouse/load.ts';
import { checkEventsTable, migrateAnalytics } from '../../src/backends/clickhouse/migrations.ts';
import { bindParameters, prepareStatement, quoteValue, splitAtPlaceholders } from '../../src/backends/clickhouse/quote.ts';
import type { SqlEngine, SqlValue } from '../../src/backends/sql/port.ts';
import { BackendError } from '../../src/errors.ts';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { describeSqlEngineContract } from './sql.contract.ts';

/**
 * The ClickHouse adapter against a real clickhouse-server (Debian's 18.16 here): the SQL port
 * contract, value binding against hostile input, the analytics schema, the copy from the
 * lakehouse, answer-for-answer parity of every analytics read with DuckDB, and an outage.
 */

// A zone with daylight saving time on purpose: nothing about UTC may depend on the server's zone.
const SERVER_ZONE = 'America/New_York';

/** Polls `read` until `done` holds of its answer (or 3 s pass), and returns the last answer. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithPeer('clickhouse adapter', 'clickhouse-server', 'clickhouse-server', (binary) => {
  let server: ClickHouseServer;
  let engine: ClickHouseEngine;
  let features: ClickHouseFeatures;

  beforeAll(async () => {
    server = await startClickHouse({ binary, timeZone: SERVER_ZONE });
    engine = createClickHouseEngine({ url: server.url, timeoutMs: 5_000 });
    await migrateAnalytics(engine);
    features = await engine.features();
  });
  afterAll(async () => {
    await engine?.close();
    await server?.close();
  });

  describeSqlEngineContract('clickhouse', async () => {
    const contractEngine = createClickHouseEngine({ url: server.url, timeoutMs: 5_000 });
    const { serverParameters } = await contractEngine.features();
    return {
      engine: contractEngine,
      // Counts without holding memory, until killed.
      slowQuery: 'SELECT count() FROM numbers(100000000000)',
      typeProbe:
        "SELECT toInt64(7) AS big, toFloat64(2.5) AS dbl, toDateTime('2026-03-01 10:15:00', 'UTC') AS ts, ['a', 'b'] AS list, CAST(NULL AS Nullable(String)) AS missing",
      // Without server-side parameters there is no Bool type to bind to (18.16): true is 1.
      boundTrue: serverParameters ? true : 1,
      close: () => contractEngine.close(),
    };
  });

  describe('binding values (quote.ts), proven by round trips through the server', () => {
    const HOSTILE_STRINGS = [
      '',
      "'",
      "''",
      '\\',
      "\\'",
      "\\\\'",
      "x' OR '1'='1",
      "'; DROP TABLE analytics.events; --",
      "\\'; DROP TABLE analytics.events; --",
      "') UNION ALL SELECT name FROM system.tables --",
      '?',
      "'?'",
      '?? ? ?',
      '/* ? */',
      '-- ?',
      '`?`',
      '"?"',
      '{p0:String}',
      '\0',
      'a\nb\r\nc\td',
      '\\N',
      '\\x41\\u0041',
      '%_*',
      'é ü ß 中文 日本語 한국어 עברית العربية',
      '🙂👍🏽🇻🇳 \u{1F600}',
      '\u2028\u2029\uFEFF\u200B',
      'x'.repeat(20_000),
    ];

    it('finds placeholders only outside literals, quoted identifiers and comments', () => {
      expect(splitAtPlaceholders("SELECT ?, '?', 'it\\'s ?', 'a''?', \"?\", `?`, ? -- ?\n, /* ? */ ?")).toEqual([
        'SELECT ',
        ", '?', 'it\\'s ?', 'a''?', \"?\", `?`, ",
        ' -- ?\n, /* ? */ ',
        '',
      ]);
      expect(() => splitAtPlaceholders("SELECT 'open ?")).toThrow(SyntaxError);
      expect(() => splitAtPlaceholders('SELECT 1 /* ?')).toThrow(SyntaxError);
    });

    it('round-trips hostile strings exactly, one statement with every one of them', async () => {
      const sql = `SELECT ${HOSTILE_STRINGS.map((_, i) => `? AS s${i}`).join(', ')}, '?' AS literal, 'it\\'s ?' AS escaped /* ? */ -- ?\n`;
      const [row] = await engine.query(sql, HOSTILE_STRINGS);
      expect(row).toEqual({
        ...Object.fromEntries(HOSTILE_STRINGS.map((s, i) => [`s${i}`, s])),
        literal: '?',
        escaped: "it's ?",
      });
    });

    it('compares hostile strings as values: each finds exactly its own row', async () => {
      await engine.command('CREATE TABLE IF NOT EXISTS default.hostile (i UInt32, s String) ENGINE = Memory');
      await engine.insert('default.hostile', HOSTILE_STRINGS.map((s, i) => ({ i, s })));
      for (const [i, s] of HOSTILE_STRINGS.entries()) {
        expect(await engine.query('SELECT i FROM default.hostile WHERE s = ?', [s])).toEqual([{ i }]);
      }
      // The injection attempts injected nothing.
      expect(await engine.query("SELECT count() AS n FROM system.tables WHERE database = 'analytics' AND name = 'events'")).toEqual([{ n: 1 }]);
    });

    it('round-trips numbers exactly, negatives included where a minus precedes them', async () => {
      const numbers = [0, 1, -1, 42, 255, 256, -129, 2 ** 31, 2 ** 53 - 1, -(2 ** 53 - 1), 0.1, -0.1, 0.30000000000000004, 2.5, 1e-7, 1e21, -1e21, 123456.789, 1e-300, 1.7976931348623157e308, 2.2250738585072014e-308, 5e-324, -5e-324, 2.225073858507201e-308, -0];
      const [row] = await engine.query(`SELECT ${numbers.map((_, i) => `? AS n${i}`).join(', ')}`, numbers);
      numbers.forEach((n, i) => expect(Object.is(row?.[`n${i}`], n), `${n} read back as ${String(row?.[`n${i}`])}`).toBe(true));
      // `10 -?` must not turn into a `--` comment.
      expect(await engine.query('SELECT 10 -? AS v', [-5])).toEqual([{ v: 15 }]);
    });

    it('binds bigint, booleans and NULL', async () => {
      const [row] = await engine.query('SELECT ? AS small, ? AS max_int64, ? AS min_int64, ? AS max_uint64, ? AS yes, ? AS no, ? AS nothing', [
        5n,
        2n ** 63n - 1n,
        -(2n ** 63n),
        2n ** 64n - 1n,
        true,
        false,
        null,
      ]);
      const yes = features.serverParameters ? true : 1;
      const no = features.serverParameters ? false : 0;
      expect(row).toEqual({ small: 5, max_int64: '9223372036854775807', min_int64: '-9223372036854775808', max_uint64: '18446744073709551615', yes, no, nothing: null });
    });

    it("refuses values it cannot bind before sending anything, as the caller's error", async () => {
      const refused: [string, readonly SqlValue[], ErrorConstructor][] = [
        ['SELECT ?', [], RangeError],
        ['SELECT ?', [1, 2], RangeError],
        ["SELECT '?'", ['x'], RangeError],
        ['SELECT ?', [Number.NaN], RangeError],
        ['SELECT ?', [Number.POSITIVE_INFINITY], RangeError],
        ['SELECT ?', [2n ** 64n], RangeError],
        ['SELECT ?', [-(2n ** 63n) - 1n], RangeError],
        ['SELECT ?', ['\uD800 lone surrogate'], RangeError],
        ['SELECT ?', [new Date(Number.NaN)], RangeError],
        ['SELECT ?', [[1, 2] as unknown as SqlValue], TypeError],
        ['SELECT ?', [undefined as unknown as SqlValue], TypeError],
        ["SELECT 'unterminated ?", ['x'], SyntaxError],
      ];
      for (const [sql, params, type] of refused) {
        const failure = await engine.query(sql, params).catch((e: unknown) => e);
        expect(failure, `${sql} ${String(params)}`).toBeInstanceOf(type);
        expect(failure).not.toBeInstanceOf(BackendError);
      }
    });

    it('rewrites the same placeholders into typed server-side parameters (servers from 22.3; not exercised by 18.16)', () => {
      const at = new Date('2026-03-01T10:15:00.250Z');
      expect(prepareStatement("SELECT ?, '?', ? -- ?\n, ?, ?, ?, ?, ?", ['a', 1, 2.5, 2n ** 63n, true, at, null]).withServerParameters()).toEqual({
        sql: "SELECT {p0:String}, '?', {p1:Int64} -- ?\n, {p2:Float64}, {p3:UInt64}, {p4:Bool}, {p5:DateTime64(3, 'UTC')}, {p6:Nullable(String)}",
        params: { p0: 'a', p1: 1, p2: 2.5, p3: 2n ** 63n, p4: true, p5: at, p6: null },
      });
    });

    it('writes dates as UTC DateTime literals whatever the server zone', () => {
      expect(quoteValue(new Date('2026-03-08T07:30:00.999Z'))).toBe("toDateTime('2026-03-08 07:30:00', 'UTC')");
      expect(quoteValue(new Date('2026-03-08T07:30:00.999Z'), { dateTime64: true })).toBe("toDateTime64('2026-03-08 07:30:00.999', 3, 'UTC')");
      expect(bindParameters('SELECT 1 -?, ?', [-2, "it's"])).toBe("SELECT 1 -(-2), 'it\\'s'");
    });

    it('round-trips timestamps exactly (to the second on servers without DateTime64), across the server zone’s DST switches', async () => {
      const instants = [
        '1970-01-01T00:00:00Z',
        '2026-03-01T10:15:00Z',
        '2026-03-08T06:59:59Z', // New York: the last second of EST
        '2026-03-08T07:00:00Z', // 03:00 EDT, the wall clock jumped over 02:xx
        '2026-11-01T05:30:00Z', // 01:30 EDT
        '2026-11-01T06:30:00Z', // 01:30 EST: the same wall clock an hour later
        '2026-12-31T23:59:59Z',
        '2105-12-31T23:59:59Z', // the last second 18.16 reads and prints
      ].map((iso) => new Date(iso));
      const rows = await engine.query(`SELECT ${instants.map((_, i) => `? AS t${i}`).join(', ')}`, instants);
      expect(rows).toEqual([Object.fromEntries(instants.map((d, i) => [`t${i}`, d]))]);

      // Stored and read back through the analytics table's DateTime('UTC') column.
      await engine.command('CREATE TABLE IF NOT EXISTS default.instants (i UInt32, at DateTime(\'UTC\')) ENGINE = Memory');
      await engine.command('TRUNCATE TABLE default.instants');
      for (const [i, at] of instants.entries()) await engine.command(bindParameters('INSERT INTO default.instants VALUES (?, ?)', [i, at]));
      const stored = await engine.query<{ i: number; at: Date }>('SELECT i, at FROM default.instants ORDER BY i');
      expect(stored.map((r) => r.at)).toEqual(instants);

      // A DateTime without its own zone is written in the server's zone; it still decodes to the instant.
      const plain = await engine.query('SELECT toDateTime(toUnixTimestamp(?)) AS at, toTypeName(at) AS type', [instants[1]!]);
      expect(plain).toEqual([{ at: instants[1], type: 'DateTime' }]);

      const withMs = new Date('2026-03-01T10:15:00.789Z');
      const [read] = await engine.query('SELECT ? AS at', [withMs]);
      expect(read?.['at']).toEqual(features.dateTime64 ? withMs : new Date('2026-03-01T10:15:00Z'));
    });

    it('reads an ambiguous server-zone wall clock as the earlier instant, and refuses dates DateTime cannot hold', async () => {
      expect(wallClockToDate('2026-11-01 01:30:00', SERVER_ZONE)).toEqual(new Date('2026-11-01T05:30:00Z'));
      expect(wallClockToDate('2026-07-01 08:00:00', 'Asia/Ho_Chi_Minh')).toEqual(new Date('2026-07-01T01:00:00Z'));
      // The epoch prints as a zero date.
      expect(await engine.query('SELECT toDate(0) AS d, toDateTime(0) AS t')).toEqual([{ d: new Date(0), t: new Date(0) }]);
      if (!features.dateTime64) {
        // DateTime would silently wrap 1969 and 2106+ around; the literal writer refuses instead.
        for (const date of [new Date('1969-12-31T23:59:59Z'), new Date('2106-01-01T00:00:00Z')]) {
          const failure = await engine.query('SELECT ? AS at', [date]).catch((e: unknown) => e);
          expect(failure).toBeInstanceOf(BackendError);
          expect((failure as BackendError).cause).toBeInstanceOf(RangeError);
        }
      }
    });
  });

  describe('cancellation and errors', () => {
    it('kills a timed-out query on the server, not only the request', async () => {
      const failure = await engine.query('SELECT count() FROM numbers(100000000000)', [], { timeoutMs: 150 }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BackendError);
      const { queryId } = failure as BackendError;
      expect(failure).toMatchObject({ timedOut: true, queryId: expect.stringMatching(/^nexus-/) });
      expect(await eventually(() => engine.query('SELECT query_id FROM system.processes WHERE query_id = ?', [queryId ?? '']), (rows) => rows.length === 0)).toEqual([]);
    });

    it('fails an aborted query at once: a caller abort as such, a timeout signal as a timeout', async () => {
      const controller = new AbortController();
      const pending = engine.query('SELECT count() FROM numbers(100000000000)', [], { signal: controller.signal }).catch((e: unknown) => e);
      setTimeout(() => controller.abort(new Error('client went away')), 50);
      expect(await pending).toMatchObject({ name: 'BackendError', timedOut: false, cause: new Error('client went away') });
      expect(await engine.query('SELECT count() FROM numbers(100000000000)', [], { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e)).toMatchObject({ timedOut: true });
    });

    it('close() cancels running queries on the server and refuses new ones', async () => {
      const closing = createClickHouseEngine({ url: server.url, timeoutMs: 10_000 });
      const pending = closing.query('SELECT count() FROM numbers(100000000000)').catch((e: unknown) => e);
      // Once the server runs it.
      await eventually(() => engine.query("SELECT 1 FROM system.processes WHERE query LIKE '%numbers(100000000000)%' AND query NOT LIKE '%system.processes%'"), (rows) => rows.length > 0);
      await closing.close();
      expect(await pending).toMatchObject({ name: 'BackendError', timedOut: false, message: expect.stringContaining('engine closed') });
      const { queryId } = (await pending) as BackendError;
      expect(await eventually(() => engine.query('SELECT 1 FROM system.processes WHERE query_id = ?', [queryId ?? '']), (rows) => rows.length === 0)).toEqual([]);
      await expect(closing.query('SELECT 1')).rejects.toThrow(/the engine is closed/);
      expect(await closing.health()).toMatchObject({ status: 'DOWN' });
    });

    it("counts the server's own time limit (max_execution_time) as a timeout", async () => {
      const failure = await engine.query('SELECT count() FROM numbers(100000000000) SETTINGS max_execution_time = 1', [], { timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ name: 'BackendError', timedOut: true });
    });

    it('names the query id in errors and keeps the server error as cause', async () => {
      const failure = (await engine.query('SELECT no_such_column FROM system.one').catch((e: unknown) => e)) as BackendError;
      expect(failure).toBeInstanceOf(BackendError);
      expect(failure.message).toContain(failure.queryId);
      expect(String((failure.cause as Error).message)).toMatch(/no_such_column/);
    });
  });

  describe('migrations', () => {
    it('are idempotent and create the partitioned, sorted events table', async () => {
      await migrateAnalytics(engine);
      await migrateAnalytics(engine);
      expect(await engine.query("SELECT engine, partition_key, sorting_key FROM system.tables WHERE database = 'analytics' AND name = 'events'")).toEqual([
        { engine: 'MergeTree', partition_key: 'toYYYYMM(occurred_at)', sorting_key: 'event_type, user_id, occurred_at' },
      ]);
    });

    it('create the database named by the URL, with the credentials it carries', async () => {
      const fromUrl = createClickHouseEngine({ url: `${server.url.replace('http://', 'http://default:@')}/nexus_elsewhere`, timeoutMs: 5_000 });
      expect(fromUrl.database).toBe('nexus_elsewhere');
      await migrateAnalytics(fromUrl);
      expect(await fromUrl.query('SELECT currentDatabase() AS db, count() AS n FROM nexus_elsewhere.events')).toEqual([{ db: 'nexus_elsewhere', n: 0 }]);
      await fromUrl.close();
    });

    it('report a table that drifted from the schema', async () => {
      await engine.command('CREATE TABLE IF NOT EXISTS analytics.drifted (event_id String, amount String) ENGINE = Memory');
      await expect(checkEventsTable(engine, 'analytics', 'drifted', features)).rejects.toThrow(/amount is String, expected Nullable\(Float64\).*occurred_at is missing/);
    });
  });

  describe('analytics parity with DuckDB', () => {
    let gateway: TestGateway;
    let duck: SqlEngine;
    let lakehouse: SqlEngine;

    beforeAll(async () => {
      gateway = await startTestGateway();
      duck = gateway.gateway.services.backends.analytics;
      lakehouse = gateway.gateway.services.backends.lakehouse;
      // Small batches: the copy must stitch pages together.
      await copyEventsToClickHouse(lakehouse, engine, { batchSize: 1_500 });
    });
    afterAll(async () => {
      await gateway?.close();
    });

    /** Answers made comparable: timestamps to whole seconds where ClickHouse keeps no more. */
    function comparable(value: unknown): unknown {
      if (value instanceof Date) return features.dateTime64 ? value.toISOString() : new Date(Math.floor(value.getTime() / 1000) * 1000).toISOString();
      if (Array.isArray(value)) return value.map(comparable);
      if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]));
      return value;
    }

    const byKey = <T, K extends keyof T>(key: K) => (rows: T[]): T[] => [...rows].sort((a, b) => String(a[key]).localeCompare(String(b[key])));
    const at = (iso: string): Date => new Date(iso);

    const CASES: [string, (e: SqlEngine) => Promise<unknown>][] = [
      ['regionalStats, all time', (e) => analytics.regionalStats(e, {})],
      ['regionalStats, a range and regions', (e) => analytics.regionalStats(e, { from: at('2026-03-01T00:00:00Z'), to: at('2026-06-01T00:00:00Z'), regions: ['VN', 'TH', 'JP'] })],
      ['regionalStats, regions only', (e) => analytics.regionalStats(e, { regions: ['MV', 'ID', 'XX'] })],
      ['regionalStats, an open range at an odd time', (e) => analytics.regionalStats(e, { from: at('2026-09-14T13:37:21Z') })],
      ['revenueSeries DAY', (e) => analytics.revenueSeries(e, { interval: 'day', from: at('2026-10-01T00:00:00Z'), to: at('2026-10-20T00:00:00Z') })],
      ['revenueSeries WEEK, one region, unaligned bounds', (e) => analytics.revenueSeries(e, { interval: 'week', from: at('2026-01-07T15:00:00Z'), to: at('2026-10-29T09:30:00Z'), region: 'VN' })],
      ['revenueSeries MONTH, the whole year', (e) => analytics.revenueSeries(e, { interval: 'month', from: at('2025-11-01T00:00:00Z'), to: at('2026-11-01T00:00:00Z') })],
      ['tourPopularity since a date', (e) => analytics.tourPopularity(e, { since: at('2026-08-01T00:00:00Z'), first: 10 })],
      ['tourPopularity all time', (e) => analytics.tourPopularity(e, { since: null, first: 25 })],
      ['tourStats', (e) => analytics.tourStats(e, ['TOUR0001', 'TOUR0002', 'TOUR0017', 'TOUR0050', 'NO_SUCH_TOUR']).then(byKey('tourId'))],
      ['tourStats of no tours', (e) => analytics.tourStats(e, [])],
      ['userProfiles', (e) => analytics.userProfiles(e, ['USER000001', 'USER000002', 'USER000042', 'USER000500', 'NO_SUCH_USER']).then(byKey('userId'))],
    ];

    it('copies every event, and copying again replaces rather than doubles', async () => {
      const count = 'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM analytics.events';
      const [expected] = await duck.query(count);
      expect(await engine.query(count)).toEqual([expected]);
      const report = await copyEventsToClickHouse(lakehouse, engine);
      expect(report.events).toBe(expected?.['n']);
      expect(await engine.query(count)).toEqual([expected]);
      // Row for row, every column (a sample across the year).
      const sample = 'SELECT event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source FROM analytics.events WHERE event_id LIKE ? ORDER BY event_id';
      const onDuck = await duck.query(sample, ['%7']);
      expect(onDuck.length).toBeGreaterThan(100);
      expect(comparable(await engine.query(sample, ['%7']))).toEqual(comparable(onDuck));
    });

    it.each(CASES)('%s: the same answer on both engines', async (name, run) => {
      const [onDuck, onClickHouse] = [await run(duck), await run(engine)];
      if (!name.includes('no tours')) expect(onDuck).not.toEqual([]);
      expect(comparable(onClickHouse)).toEqual(comparable(onDuck));
    });
  });

  // Last: it stops the server the other suites use.
  describe('an outage', () => {
    it('fails queries fast with BackendError and health DOWN while stopped, and answers again after restart', async () => {
      const before = await engine.query('SELECT count() AS n FROM analytics.events');
      await server.stop();
      const started = performance.now();
      const failure = await engine.query('SELECT 1').catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BackendError);
      expect(failure).toMatchObject({ role: 'analytics', adapter: 'clickhouse', timedOut: false });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(await engine.health()).toMatchObject({ status: 'DOWN', error: expect.stringMatching(/ECONNREFUSED/) });

      await server.restart();
      expect(await engine.health()).toMatchObject({ status: 'OK' });
      // Same ports, same data.
      expect(await engine.query('SELECT count() AS n FROM analytics.events')).toEqual(before);
    });
  });
});
