import { DuckDBInstance } from '@duckdb/node-api';
import type { GraphQLEnumType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHURN_AFTER_DAYS, USER_SEGMENT_SQL, USER_SEGMENTS, userSegment } from '../src/backends/analytics/user-segment.ts';
import { isoNoZone } from '../src/backends/lakehouse/queries.ts';
import { buildSchema } from '../src/schema.ts';

/**
 * The segment rule on its own: evaluated by the engine over user 360 rows at the edges of each
 * step, in a session whose zone is not UTC (the lakehouse's timestamps are UTC whatever it is).
 */

const DAY_MS = 86_400_000;

describe('the user segment rule', () => {
  let instance: DuckDBInstance;

  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
  });
  afterAll(() => instance?.closeSync());

  async function segmentOf(row: { bookings: number; spend: number; quietDays: number | null }): Promise<string> {
    const connection = await instance.connect();
    try {
      await connection.run("SET TimeZone = 'Pacific/Kiritimati'");
      const lastEventAt = row.quietDays === null ? null : isoNoZone(new Date(Date.now() - row.quietDays * DAY_MS));
      const reader = await connection.runAndReadAll(
        `SELECT ${USER_SEGMENT_SQL} AS segment FROM (SELECT CAST($1 AS BIGINT) AS total_bookings, CAST($2 AS DOUBLE) AS total_spend, CAST($3 AS TIMESTAMP) AS last_event_at) gold_row`,
        [row.bookings, row.spend, lastEventAt],
      );
      return String(reader.getRowObjects()[0]!['segment']);
    } finally {
      connection.closeSync();
    }
  }

  it.each([
    ['no events ever', { bookings: 0, spend: 0, quietDays: null }, 'CHURNED'],
    ['quiet a little over the churn period, however good a customer', { bookings: 9, spend: 9_000, quietDays: CHURN_AFTER_DAYS + 0.01 }, 'CHURNED'],
    ['quiet a little under the churn period, with five bookings', { bookings: 5, spend: 100, quietDays: CHURN_AFTER_DAYS - 0.01 }, 'VIP'],
    ['one booking of 2,000', { bookings: 1, spend: 2_000, quietDays: 1 }, 'VIP'],
    ['four bookings under 2,000', { bookings: 4, spend: 1_999.99, quietDays: 1 }, 'REGULAR'],
    ['two bookings', { bookings: 2, spend: 10, quietDays: 0 }, 'REGULAR'],
    ['one booking', { bookings: 1, spend: 10, quietDays: 0 }, 'OCCASIONAL'],
    ['active without bookings', { bookings: 0, spend: 0, quietDays: 0 }, 'NEW'],
  ])('%s: %j is %s', async (_name, row, expected) => {
    expect(await segmentOf(row)).toBe(expected);
  });

  it('names exactly the values of the UserSegment enum', () => {
    const values = (buildSchema().getType('UserSegment') as GraphQLEnumType).getValues().map((v) => v.name);
    expect([...USER_SEGMENTS].sort()).toEqual([...values].sort());
    for (const value of values) expect(USER_SEGMENT_SQL).toContain(`'${value}'`);
  });

  it('refuses a value outside the rule, naming it', () => {
    expect(() => userSegment('GOLD')).toThrow('not a user segment: "GOLD" (expected one of NEW, OCCASIONAL, REGULAR, VIP, CHURNED)');
  });
});
