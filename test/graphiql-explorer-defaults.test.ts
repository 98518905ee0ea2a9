/** What the GraphiQL explorer fills in when an analyst ticks an argument: values the gateway accepts. */
import { buildSchema, getNamedType, type GraphQLInputType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { defaultScalarArgValue } from '../web/graphiql/explorer-defaults.ts';

const schema = buildSchema(`
  scalar DateTime
  enum Interval { DAY WEEK MONTH }
  type Query { series(interval: Interval!, from: DateTime!, to: DateTime!, first: Int, label: String, exact: Boolean): Int }
`);
const NOW = new Date('2026-06-15T12:00:00Z');

function defaultFor(argName: string): unknown {
  const arg = schema.getQueryType()?.getFields()['series']?.args.find((a) => a.name === argName);
  if (!arg) throw new Error(`no argument ${argName}`);
  return defaultScalarArgValue(undefined, arg, getNamedType(arg.type) as GraphQLInputType, NOW);
}

describe('defaultScalarArgValue', () => {
  it('starts a date-time range at this UTC year: `from` its first instant, `to` the next year’s', () => {
    expect(defaultFor('from')).toEqual({ kind: 'StringValue', value: '2026-01-01T00:00:00Z' });
    expect(defaultFor('to')).toEqual({ kind: 'StringValue', value: '2027-01-01T00:00:00Z' });
  });

  it('picks the first enum value and plain values for built-in scalars', () => {
    expect(defaultFor('interval')).toEqual({ kind: 'EnumValue', value: 'DAY' });
    expect(defaultFor('first')).toEqual({ kind: 'IntValue', value: '10' });
    expect(defaultFor('label')).toEqual({ kind: 'StringValue', value: '' });
    expect(defaultFor('exact')).toEqual({ kind: 'BooleanValue', value: false });
  });
});
