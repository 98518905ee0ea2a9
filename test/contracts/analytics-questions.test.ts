import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerQuestion, type AnalyticsAnswer } from '../../src/analytics/answer.ts';
import { compileQuestion } from '../../src/analytics/compile.ts';
import { analyticsModel } from '../../src/analytics/default-model.ts';
import { questionOf, type AnalyticsQueryInput } from '../../src/analytics/question.ts';
import { createClickHouseEngine, type ClickHouseEngine } from '../../src/backends/clickhouse/engine.ts';
import { USER_SEGMENTS } from '../../src/backends/analytics/user-segment.ts';
import { copyDimensionsToClickHouse, copyEventsToClickHouse } from '../../src/backends/clickhouse/load.ts';
import { userProfilesFromGold } from '../../src/backends/lakehouse/gold.ts';
import type { SqlEngine, SqlValue } from '../../src/backends/sql/port.ts';
import { createTrinoEngine } from '../../src/backends/trino/engine.ts';
import { BackendError } from '../../src/errors.ts';
import type { Principal } from '../../src/security/principal.ts';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startTrinoFixture, type TrinoFixture } from '../helpers/trino-fixture.ts';

/**
 * The analytics model's questions, compiled once per dialect and run on every engine: embedded
 * DuckDB, the Trino protocol fixture (over the same DuckDB data), and a real ClickHouse server
 * loaded from it. Every question must give the same rows everywhere, and every engine must
 * estimate what it will read.
 */

const ANALYST: Principal = { kind: 'open', id: 'contract', role: 'analyst', userId: null };
const APP_USER: Principal = { kind: 'apiKey', id: 'app', role: 'app', userId: 'USER000001' };
const at = (iso: string): Date => new Date(iso);

const QUESTIONS: [string, AnalyticsQueryInput, Principal][] = [
  [
    'bookings and revenue by destination country per month for 2026, top 10',
    {
      measures: ['BOOKINGS', 'REVENUE'],
      dimensions: ['DESTINATION_COUNTRY'],
      timeDimension: { dimension: 'OCCURRED_AT', granularity: 'MONTH', from: at('2026-01-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') },
      orderBy: [{ member: 'BOOKINGS', direction: 'DESC' }],
      limit: 10,
    },
    ANALYST,
  ],
  [
    'bookings by category per month in Vietnam',
    { measures: ['BOOKINGS'], dimensions: ['CATEGORY'], timeDimension: { dimension: 'OCCURRED_AT', granularity: 'MONTH' }, filters: [{ member: 'REGION', equals: 'VN' }] },
    ANALYST,
  ],
  ['conversion by source', { measures: ['VIEWS', 'BOOKINGS', 'CONVERSION'], dimensions: ['SOURCE'], orderBy: [{ member: 'CONVERSION', direction: 'DESC' }] }, ANALYST],
  [
    'cancellations by destination, top 5',
    { measures: ['CANCELLATIONS'], dimensions: ['DESTINATION', 'DESTINATION_NAME'], filters: [{ member: 'DESTINATION', set: true }], orderBy: [{ member: 'CANCELLATIONS', direction: 'DESC' }], limit: 5 },
    ANALYST,
  ],
  [
    'average amount and unique users per quarter in two regions, one source excluded',
    {
      measures: ['AVG_AMOUNT', 'UNIQUE_USERS'],
      dimensions: ['REGION'],
      timeDimension: { dimension: 'OCCURRED_AT', granularity: 'QUARTER' },
      filters: [{ member: 'REGION', in: ['VN', 'TH'] }, { member: 'SOURCE', not: ['web'] }],
    },
    ANALYST,
  ],
  [
    'weekly events between two instants, searches excluded',
    {
      measures: ['EVENTS'],
      dimensions: ['EVENT_TYPE'],
      timeDimension: { dimension: 'OCCURRED_AT', granularity: 'WEEK' },
      filters: [{ member: 'OCCURRED_AT', gte: '2026-09-14T13:37:21Z', lte: '2026-10-20T00:00:00Z' }, { member: 'EVENT_TYPE', not: ['search'] }],
    },
    ANALYST,
  ],
  ['events by category: events without a tour form the null group', { measures: ['EVENTS', 'VIEWS'], dimensions: ['CATEGORY'], filters: [{ member: 'EVENT_TYPE', in: ['search', 'view'] }] }, ANALYST],
  ['totals without dimensions', { measures: ['EVENTS', 'REVENUE', 'AVG_AMOUNT', 'CANCELLATIONS'] }, ANALYST],
  [
    'yearly popularity of tours, top 5, with tours never matched kept as null',
    { measures: ['POPULARITY'], dimensions: ['TOUR', 'CATEGORY'], timeDimension: { dimension: 'OCCURRED_AT', granularity: 'YEAR' }, orderBy: [{ member: 'POPULARITY', direction: 'DESC' }], limit: 5 },
    ANALYST,
  ],
  ['an app caller sees its own rows only', { measures: ['EVENTS', 'BOOKINGS', 'REVENUE'], dimensions: ['EVENT_TYPE'] }, APP_USER],
  [
    'spend per user segment',
    { measures: ['REVENUE', 'BOOKINGS', 'AVG_AMOUNT', 'CUSTOMERS'], dimensions: ['USER_SEGMENT'], orderBy: [{ member: 'REVENUE', direction: 'DESC' }] },
    ANALYST,
  ],
  [
    'bookings by user home region in 2026',
    { measures: ['BOOKINGS', 'REVENUE'], dimensions: ['USER_HOME_REGION'], timeDimension: { dimension: 'OCCURRED_AT', from: at('2026-01-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') } },
    ANALYST,
  ],
  // Two joins on ClickHouse: grouped by the tours join, filtered through the users one.
  ['bookings by category of VIP and regular users', { measures: ['BOOKINGS'], dimensions: ['CATEGORY'], filters: [{ member: 'USER_SEGMENT', in: ['VIP', 'REGULAR'] }] }, ANALYST],
  // The other way round, through IS NULL: events without a tour (or a tour unknown) are kept.
  ['events without a tour per user segment', { measures: ['EVENTS'], dimensions: ['USER_SEGMENT'], filters: [{ member: 'CATEGORY', set: false }, { member: 'USER_HOME_REGION', not: ['MV'] }] }, ANALYST],
  ['an app caller asking by segment sees its own rows only', { measures: ['EVENTS', 'REVENUE'], dimensions: ['USER_SEGMENT', 'USER_HOME_REGION'] }, APP_USER],
  ['daily revenue of a text range on a dimension', { measures: ['REVENUE'], dimensions: ['REGION'], timeDimension: { dimension: 'OCCURRED_AT', granularity: 'DAY', from: at('2026-10-01T00:00:00Z'), to: at('2026-10-08T00:00:00Z') }, filters: [{ member: 'REGION', gte: 'J', lte: 'T' }] }, ANALYST],
];

const ENOUGH = { maxRows: 1e12 };

async function ask(engine: SqlEngine, input: AnalyticsQueryInput, principal: Principal): Promise<AnalyticsAnswer> {
  return answerQuestion(engine, analyticsModel, questionOf(analyticsModel, input, principal), { ...ENOUGH, engineKey: engine });
}

/** Rows made comparable: instants as ISO text. */
function comparable(answer: AnalyticsAnswer): unknown {
  return answer.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])));
}

describe('analytics questions on every engine', () => {
  let gateway: TestGateway;
  let duck: SqlEngine;
  let fixture: TrinoFixture;
  let trino: SqlEngine;
  const onDuck = new Map<string, AnalyticsAnswer>();

  beforeAll(async () => {
    gateway = await startTestGateway({ env: { MEDALLION_INTERVAL_MS: '0' } });
    duck = gateway.gateway.services.backends.analytics;
    const database = gateway.gateway.services.backends.embedded!;
    fixture = await startTrinoFixture({ connect: () => database.dedicatedConnection() });
    trino = createTrinoEngine({ url: fixture.url, timeoutMs: 10_000, role: 'analytics' });
    for (const [name, input, principal] of QUESTIONS) onDuck.set(name, await ask(duck, input, principal));
  });
  afterAll(async () => {
    await trino?.close();
    await fixture?.close();
    await gateway?.close();
  });

  it.each(QUESTIONS)('%s: DuckDB answers with rows and its plan estimate', (name) => {
    const answer = onDuck.get(name)!;
    expect(answer.rows.length).toBeGreaterThan(0);
    expect(answer.estimate).toMatchObject({ engine: 'duckdb', method: 'explain' });
    expect(answer.estimate.rows).toBeGreaterThan(0);
  });

  it('answers the "done means" question as the events say', async () => {
    const answer = onDuck.get(QUESTIONS[0]![0])!;
    expect(answer.rows).toHaveLength(10);
    expect(answer.columns.map((c) => c.field)).toEqual(['time', 'destinationCountry', 'bookings', 'revenue']);
    // Checked against SQL written by hand for one of its rows.
    const top = answer.rows[0]!;
    const [expected] = await duck.query(
      `SELECT count(*) AS bookings, sum(coalesce(e.amount, 0)) AS revenue FROM analytics.events e
       JOIN silver.tours t ON t.tour_id = e.tour_id JOIN silver.destinations d ON d.destination_id = t.destination_id
       WHERE e.event_type = 'booking' AND d.country = ? AND date_trunc('month', e.occurred_at) = CAST(? AS TIMESTAMP)`,
      [String(top['destinationCountry']), (top['time'] as Date).toISOString().slice(0, 19).replace('T', ' ')],
    );
    expect(top['bookings']).toBe(Number(expected!['bookings']));
    expect(top['revenue']).toBeCloseTo(Number(expected!['revenue']), 2);
    for (let i = 1; i < answer.rows.length; i += 1) expect(Number(answer.rows[i - 1]!['bookings'])).toBeGreaterThanOrEqual(Number(answer.rows[i]!['bookings']));
  });

  it('keeps rows without a joined match as a null group (LEFT JOIN)', () => {
    const rows = onDuck.get('events by category: events without a tour form the null group')!.rows;
    expect(rows.at(-1)).toMatchObject({ category: null });
    expect(rows.filter((r) => r['category'] !== null).length).toBeGreaterThan(1);
  });

  it('confines an app caller to its user: the same figures as filtering by the user by hand', async () => {
    const own = onDuck.get('an app caller sees its own rows only')!;
    const [expected] = await duck.query('SELECT count(*) AS n FROM analytics.events WHERE user_id = ?', ['USER000001']);
    expect(own.rows.reduce((n, r) => n + Number(r['events']), 0)).toBe(Number(expected!['n']));
  });

  it('confines an app caller asking by segment to its user: one row, the segment its profile shows', async () => {
    const rows = onDuck.get('an app caller asking by segment sees its own rows only')!.rows;
    const [expected] = await duck.query('SELECT count(*) AS n FROM analytics.events WHERE user_id = ?', ['USER000001']);
    const [profile] = await userProfilesFromGold(gateway.gateway.services.backends.lakehouse, ['USER000001']);
    expect(rows).toEqual([{ userSegment: profile!.segment, userHomeRegion: expect.stringMatching(/^[A-Z]{2}$/), events: Number(expected!['n']), revenue: expect.any(Number) }]);
  });

  it('splits every booking among the segments: the segments add up to the total', async () => {
    const perSegment = onDuck.get('spend per user segment')!.rows;
    const total = await ask(duck, { measures: ['BOOKINGS'] }, ANALYST);
    expect(perSegment.reduce((n, r) => n + Number(r['bookings']), 0)).toBe(total.rows[0]!['bookings']);
    for (const row of perSegment) expect(USER_SEGMENTS).toContain(row['userSegment']);
  });

  it('binds every value: a hostile filter value is data, not SQL', async () => {
    const hostile = "VN' OR '1'='1";
    const compiled = compileQuestion(analyticsModel, questionOf(analyticsModel, { measures: ['EVENTS'], filters: [{ member: 'REGION', equals: hostile }] }, ANALYST), 'duckdb');
    expect(compiled.sql).not.toContain(hostile);
    expect(compiled.params).toContain(hostile as SqlValue);
    const answer = await ask(duck, { measures: ['EVENTS'], filters: [{ member: 'REGION', equals: hostile }] }, ANALYST);
    expect(answer.rows).toEqual([{ events: 0 }]);
  });

  describe('Trino (protocol fixture)', () => {
    it.each(QUESTIONS)('%s: the same rows as DuckDB', async (name, input, principal) => {
      const answer = await ask(trino, input, principal);
      expect(comparable(answer)).toEqual(comparable(onDuck.get(name)!));
      expect(answer.estimate).toMatchObject({ engine: 'trino', method: 'explain-io' });
      expect(answer.estimate.rows).toBeGreaterThan(0);
    });

    it('groups by members of two joins (tours and users): the same rows as DuckDB', async () => {
      const input: AnalyticsQueryInput = { measures: ['BOOKINGS', 'REVENUE'], dimensions: ['CATEGORY', 'USER_SEGMENT'] };
      const [expected, answer] = [await ask(duck, input, ANALYST), await ask(trino, input, ANALYST)];
      expect(expected.rows.length).toBeGreaterThan(1);
      expect(comparable(answer)).toEqual(comparable(expected));
    });

    it('asks EXPLAIN (TYPE IO) before the statement, and sends the statement with a run-time ceiling', async () => {
      const before = fixture.requests.length;
      await ask(trino, QUESTIONS[0]![1], ANALYST);
      const posts = fixture.requests.slice(before).filter((r) => r.method === 'POST');
      expect(posts).toHaveLength(2);
      expect(decodeURIComponent(posts[0]!.headers['x-trino-prepared-statement'] ?? '')).toMatch(/^nexus_statement=EXPLAIN \(TYPE IO, FORMAT JSON\) SELECT /);
      expect(posts[0]!.headers['x-trino-session']).toBeUndefined();
      expect(posts[1]!.headers['x-trino-session']).toBe('query_max_run_time=10s');
    });
  });
});

describeWithPeer('analytics questions on ClickHouse', 'clickhouse-server', 'clickhouse-server', (binary) => {
  let server: ClickHouseServer;
  let clickhouse: ClickHouseEngine;
  let gateway: TestGateway;
  let duck: SqlEngine;

  beforeAll(async () => {
    [server, gateway] = await Promise.all([startClickHouse({ binary }), startTestGateway({ env: { MEDALLION_INTERVAL_MS: '0' } })]);
    clickhouse = createClickHouseEngine({ url: server.url, timeoutMs: 10_000 });
    duck = gateway.gateway.services.backends.analytics;
    await copyEventsToClickHouse(gateway.gateway.services.backends.lakehouse, clickhouse);
  });
  afterAll(async () => {
    await clickhouse?.close();
    await server?.close();
    await gateway?.close();
  });

  it.each(QUESTIONS)('%s: the same rows as DuckDB', async (_name, input, principal) => {
    const [expected, answer] = [await ask(duck, input, principal), await ask(clickhouse, input, principal)];
    expect(comparable(answer)).toEqual(comparable(expected));
    expect(answer.estimate).toMatchObject({ engine: 'clickhouse', method: 'system.parts' });
  });

  it('joins one table per statement: a join only filtered on is a semi-join', () => {
    const input: AnalyticsQueryInput = { measures: ['BOOKINGS'], dimensions: ['CATEGORY'], filters: [{ member: 'USER_SEGMENT', in: ['VIP'] }, { member: 'USER_HOME_REGION', set: false }] };
    const compiled = compileQuestion(analyticsModel, questionOf(analyticsModel, input, ANALYST), 'clickhouse');
    expect(compiled.sql.match(/\bJOIN\b/g)).toHaveLength(1);
    expect(compiled.sql).toContain('events_fact.user_id IN (SELECT j_users.user_id FROM analytics.users AS j_users WHERE j_users.segment IN (?))');
    expect(compiled.sql).toContain('(events_fact.user_id IS NULL OR events_fact.user_id NOT IN (SELECT j_users.user_id FROM analytics.users AS j_users WHERE j_users.home_region IS NOT NULL))');
    expect(compiled.tables).toEqual(['analytics.events', 'analytics.tours', 'analytics.users']);
  });

  it('refuses to group by members of two joins, naming them', async () => {
    const refused = await ask(clickhouse, { measures: ['BOOKINGS'], dimensions: ['CATEGORY', 'USER_SEGMENT'] }, ANALYST).catch((e: unknown) => e);
    expect(refused).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('groups by members of tours and users') });
  });

  it('holds the lakehouse\'s users: every user 360 row, with the segment the profile shows', async () => {
    const [copied] = await clickhouse.query('SELECT count() AS n FROM analytics.users');
    const [users] = await duck.query('SELECT count(*) AS n FROM gold.user_360');
    expect(Number(copied!['n'])).toBe(Number(users!['n']));
    const ids = ['USER000001', 'USER000002', 'USER000042'];
    const profiles = await userProfilesFromGold(gateway.gateway.services.backends.lakehouse, ids);
    const rows = await clickhouse.query('SELECT user_id, segment FROM analytics.users WHERE user_id IN (?, ?, ?) ORDER BY user_id', ids);
    expect(rows).toEqual(profiles.map((p) => ({ user_id: p.userId, segment: p.segment })).sort((a, b) => a.user_id.localeCompare(b.user_id)));
  });

  it('copies the dimensions again into a server bootstrapped before one of them existed', async () => {
    await clickhouse.command('DROP TABLE analytics.users');
    const copied = await copyDimensionsToClickHouse(gateway.gateway.services.backends.lakehouse, clickhouse);
    const [users] = await clickhouse.query('SELECT count() AS n FROM analytics.users');
    expect(Number(users!['n'])).toBeGreaterThan(0);
    expect(copied).toBeGreaterThan(Number(users!['n']));
  });

  it('estimates from the parts the time range meets: a month reads less than everything', async () => {
    const month = await ask(clickhouse, { measures: ['EVENTS'], timeDimension: { dimension: 'OCCURRED_AT', from: at('2026-10-01T00:00:00Z'), to: at('2026-11-01T00:00:00Z') } }, ANALYST);
    const all = await ask(clickhouse, { measures: ['EVENTS'] }, ANALYST);
    const [count] = await clickhouse.query('SELECT count() AS n FROM analytics.events');
    expect(all.estimate.rows).toBe(Number(count!['n']));
    expect(month.estimate.rows).toBeLessThan(all.estimate.rows!);
    expect(month.estimate.rows).toBeGreaterThanOrEqual(Number(month.rows[0]!['events']));
  });

  it('refuses over the budget before running, and the server stops a statement past max_rows_to_read', async () => {
    const refused = await answerQuestion(clickhouse, analyticsModel, questionOf(analyticsModel, { measures: ['EVENTS'] }, ANALYST), { maxRows: 10, engineKey: clickhouse }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX', maximum: 10, estimate: { engine: 'clickhouse', method: 'system.parts' } } });
    // The guard on its own: a statement carrying a ceiling far below what it reads.
    const stopped = await clickhouse.query('SELECT count() AS n FROM analytics.events', [], { limits: { maxRowsToRead: 10 } }).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(BackendError);
    expect(stopped).toMatchObject({ limitExceeded: true });
    const tooManyRows = await clickhouse.query('SELECT event_id FROM analytics.events', [], { limits: { maxResultRows: 5 } }).catch((e: unknown) => e);
    expect(tooManyRows).toMatchObject({ limitExceeded: true });
  });
});
