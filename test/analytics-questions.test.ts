import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SqlEngine } from '../src/backends/sql/port.ts';
import { startTestGateway, type GraphQLBody, type TestGateway } from './helpers/gateway.ts';

/**
 * `Query.analytics` at the wire: a named question over HTTP, the `@auth` rules (an app caller
 * sees its user's rows only; members by role), the cost budget refusing before any engine time
 * is spent, and identical questions sharing one execution.
 */

const KEYS = { app: 'app-key-for-user-one-0123456789abcdef', service: 'service-key-0123456789abcdef0123456789', analyst: 'analyst-key-0123456789abcdef0123456789' };
const sha256 = (key: string): string => createHash('sha256').update(key).digest('hex');
const API_KEYS = JSON.stringify([
  { id: 'mobile-user-one', sha256: sha256(KEYS.app), role: 'app', userId: 'USER000001' },
  { id: 'web-backend', sha256: sha256(KEYS.service), role: 'app' },
  { id: 'analyst-1', sha256: sha256(KEYS.analyst), role: 'analyst' },
]);
/** Analysts get a budget below what a whole-table question reads; app callers the default. */
const ANALYST_BUDGET = 1_000;

const DONE_MEANS = `query BookingsByCountry($from: DateTime, $to: DateTime) {
  analytics(query: {
    measures: [BOOKINGS, REVENUE]
    dimensions: [DESTINATION_COUNTRY]
    timeDimension: { dimension: OCCURRED_AT, granularity: MONTH, from: $from, to: $to }
    orderBy: [{ member: BOOKINGS, direction: DESC }]
    limit: 10
  }) {
    rows { time destinationCountry bookings revenue }
    columns { field member kind format }
    estimate { rows engine method maximum }
  }
}`;
const YEAR_2026 = { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' };

interface Answer {
  analytics: {
    rows: Record<string, unknown>[];
    columns: { field: string; member: string; kind: string; format: string | null }[];
    estimate: { rows: number; engine: string; method: string; maximum: number };
  } | null;
}

describe('Query.analytics', () => {
  let gw: TestGateway;
  let statements: string[];

  async function ask(key: string, query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: GraphQLBody<Answer> }> {
    const response = await fetch(gw.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-api-key': key },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as GraphQLBody<Answer> };
  }

  beforeAll(async () => {
    gw = await startTestGateway({ env: { API_KEYS, ANALYTICS_MAX_ROWS_ANALYST: String(ANALYST_BUDGET), MEDALLION_INTERVAL_MS: '0' } });
    // Every statement the analytics engine receives, whoever sends it.
    const engine: SqlEngine = gw.gateway.services.backends.analytics;
    const query = engine.query.bind(engine);
    statements = [];
    vi.spyOn(engine, 'query').mockImplementation((sql, params, options) => {
      statements.push(sql);
      return query(sql, params, options);
    });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await gw?.close();
  });

  it('answers a named question with rows keyed by camelCase member names, its columns and its estimate', async () => {
    const { status, body } = await ask(KEYS.app, DONE_MEANS, YEAR_2026);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const answer = body.data!.analytics!;
    expect(answer.rows.length).toBeGreaterThan(0);
    expect(answer.rows.length).toBeLessThanOrEqual(10);
    for (const row of answer.rows) {
      expect(Object.keys(row)).toEqual(['time', 'destinationCountry', 'bookings', 'revenue']);
      expect(String(row['time'])).toMatch(/^2026-\d{2}-01T00:00:00\.000Z$/);
    }
    expect(answer.columns).toEqual([
      { field: 'time', member: 'OCCURRED_AT', kind: 'TIME', format: null },
      { field: 'destinationCountry', member: 'DESTINATION_COUNTRY', kind: 'DIMENSION', format: null },
      { field: 'bookings', member: 'BOOKINGS', kind: 'MEASURE', format: 'number' },
      { field: 'revenue', member: 'REVENUE', kind: 'MEASURE', format: 'money' },
    ]);
    expect(answer.estimate).toMatchObject({ engine: 'duckdb', method: 'explain', maximum: 1_000_000 });
  });

  it('takes the measures and dimensions left out of the arguments from the fields selected on rows', async () => {
    const clicked = DONE_MEANS.replace('measures: [BOOKINGS, REVENUE]\n', '').replace('dimensions: [DESTINATION_COUNTRY]\n', '');
    expect(clicked).not.toContain('measures:');
    expect(clicked).not.toContain('dimensions:');
    const [explicit, selected] = await Promise.all([ask(KEYS.app, DONE_MEANS, YEAR_2026), ask(KEYS.app, clicked, YEAR_2026)]);
    expect(selected.body.errors).toBeUndefined();
    expect(selected.body.data!.analytics!.rows.length).toBeGreaterThan(0);
    expect(selected.body.data!.analytics!.rows).toEqual(explicit.body.data!.analytics!.rows);
    expect(selected.body.data!.analytics!.columns).toEqual(explicit.body.data!.analytics!.columns);

    // Nothing measurable selected: the question says what is missing.
    const none = await ask(KEYS.app, '{ analytics(query: {}) { rows { time region } } }');
    expect(none.body.errors?.[0]).toMatchObject({
      message: 'measures: expected at least one measure, in `measures` or selected on `rows`; got none.',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    // A selected member above the caller's role is refused as if it had been named.
    const forbidden = await ask(KEYS.app, '{ analytics(query: {}) { rows { bookings uniqueUsers } } }');
    expect(forbidden.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', member: 'UNIQUE_USERS' } });
  });

  it("confines an app caller to its user's rows", async () => {
    const question = '{ analytics(query: { measures: [EVENTS] }) { rows { events } } }';
    const own = await ask(KEYS.app, question);
    const [expected] = await gw.gateway.services.backends.analytics.query('SELECT count(*) AS n FROM analytics.events WHERE user_id = ?', ['USER000001']);
    expect(own.body.data!.analytics!.rows).toEqual([{ events: Number(expected!['n']) }]);
    expect(Number(expected!['n'])).toBeGreaterThan(0);
  });

  it('confines an app caller asking by user segment to its user: one group, its own segment and events', async () => {
    const own = await ask(KEYS.app, '{ analytics(query: { measures: [EVENTS], dimensions: [USER_SEGMENT, USER_HOME_REGION] }) { rows { userSegment userHomeRegion events } } user(id: "USER000001") { profile { segment } } }');
    expect(own.body.errors).toBeUndefined();
    const [expected] = await gw.gateway.services.backends.analytics.query('SELECT count(*) AS n FROM analytics.events WHERE user_id = ?', ['USER000001']);
    const { segment } = (own.body.data as unknown as { user: { profile: { segment: string } } }).user.profile;
    expect(own.body.data!.analytics!.rows).toEqual([{ userSegment: segment, userHomeRegion: expect.stringMatching(/^[A-Z]{2}$/), events: Number(expected!['n']) }]);
    // Customers counted across users stay an analyst's question.
    const customers = await ask(KEYS.app, '{ analytics(query: { measures: [CUSTOMERS], dimensions: [USER_SEGMENT] }) { rows { customers } } }');
    expect(customers.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', member: 'CUSTOMERS' } });
  });

  it('refuses an app caller acting for no user, and a member above the caller’s role, naming it', async () => {
    const noUser = await ask(KEYS.service, '{ analytics(query: { measures: [EVENTS] }) { rows { events } } }');
    expect(noUser.body.errors?.[0]).toMatchObject({ message: expect.stringContaining('acts for no user'), extensions: { code: 'FORBIDDEN' } });
    const member = await ask(KEYS.app, '{ analytics(query: { measures: [BOOKINGS, UNIQUE_USERS] }) { rows { uniqueUsers } } }');
    expect(member.body.data?.analytics).toBeNull();
    expect(member.body.errors?.[0]).toMatchObject({
      message: 'UNIQUE_USERS requires the analyst role; this request has the app role.',
      extensions: { code: 'FORBIDDEN', member: 'UNIQUE_USERS' },
    });
  });

  it('refuses a question over the budget with the estimate, before any statement but the estimate reaches the engine', async () => {
    statements.length = 0;
    const { status, body } = await ask(KEYS.analyst, '{ analytics(query: { measures: [EVENTS, REVENUE], dimensions: [REGION] }) { rows { region events } } }');
    expect(status).toBe(200);
    expect(body.data?.analytics).toBeNull();
    const error = body.errors?.[0];
    expect(error?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', maximum: ANALYST_BUDGET, estimate: { engine: 'duckdb', method: 'explain' } });
    const estimate = (error?.extensions?.['estimate'] as { rows: number }).rows;
    expect(estimate).toBeGreaterThan(ANALYST_BUDGET);
    expect(error?.message).toBe(`This question would read about ${estimate} rows (duckdb explain); your role may read at most ${ANALYST_BUDGET}. Narrow the time range or add filters.`);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^EXPLAIN \(FORMAT JSON\) SELECT /);
  });

  it('runs two identical concurrent questions once', async () => {
    statements.length = 0;
    const question = '{ analytics(query: { measures: [VIEWS, BOOKINGS, CONVERSION], dimensions: [SOURCE] }) { rows { source views bookings conversion } } }';
    const [first, second] = await Promise.all([ask(KEYS.app, question), ask(KEYS.app, question)]);
    expect(first.body.errors).toBeUndefined();
    expect(second.body.data).toEqual(first.body.data);
    expect(statements.filter((s) => s.startsWith('SELECT'))).toHaveLength(1);
  });

  it('types the question by the model: unknown members fail validation, impossible ones name the argument', async () => {
    const unknown = await ask(KEYS.app, '{ analytics(query: { measures: [PROFIT] }) { rows { time } } }');
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]?.message).toMatch(/Value "PROFIT" does not exist in "AnalyticsMeasure" enum/);
    const cases: [string, string][] = [
      ['measures: [EVENTS], orderBy: [{ member: REVENUE }]', 'orderBy[0]: REVENUE is not part of the question; order by a measure, dimension or time bucket it asks for.'],
      ['measures: [EVENTS], filters: [{ member: BOOKINGS, equals: "1" }]', 'filters[0]: BOOKINGS is a measure; filters apply to dimensions and time dimensions.'],
      ['measures: [EVENTS], filters: [{ member: REGION }]', 'filters[0]: expected an operator (equals, in, not, gte, lte or set) for REGION, got none.'],
      ['measures: [EVENTS], filters: [{ member: OCCURRED_AT, gte: "yesterday" }]', 'filters[0].gte: expected an ISO 8601 timestamp for OCCURRED_AT, got "yesterday".'],
      ['measures: [EVENTS], limit: 5001', 'limit: expected 1 to 5000, got 5001.'],
      ['measures: [EVENTS, EVENTS]', 'measures names EVENTS twice.'],
      ['measures: []', 'measures: expected at least one measure, in `measures` or selected on `rows`; got none.'],
    ];
    for (const [args, message] of cases) {
      const { body } = await ask(KEYS.app, `{ analytics(query: { ${args} }) { rows { events } } }`);
      expect(body.errors?.[0], args).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
    }
  });
});
