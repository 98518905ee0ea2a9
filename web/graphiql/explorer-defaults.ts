/**
 * Values the explorer fills in when an analyst ticks an argument. The explorer's own defaults put
 * `""` in every custom scalar, which a `DateTime` rejects; here a date-time argument starts at a
 * valid range instead: the current UTC year (`to`/`until`/`before` get the start of the next year),
 * so a freshly ticked `revenueSeries` runs as it is.
 */
import { isEnumType, Kind, type GraphQLInputType, type ValueNode } from 'graphql';

/** Argument (or input field) names that end a range: their default is the start of next year. */
const RANGE_END_NAMES = new Set(['to', 'until', 'before', 'end']);

/** The explorer's `getDefaultScalarArgValue`; `now` is for tests. */
export function defaultScalarArgValue(
  _parentField: unknown,
  arg: { name: string },
  argType: GraphQLInputType,
  now: Date = new Date(),
): ValueNode {
  if (isEnumType(argType)) {
    const first = argType.getValues()[0];
    return first ? { kind: Kind.ENUM, value: first.name } : { kind: Kind.NULL };
  }
  const name = 'name' in argType ? argType.name : '';
  switch (name) {
    case 'DateTime': {
      const year = now.getUTCFullYear() + (RANGE_END_NAMES.has(arg.name) ? 1 : 0);
      return { kind: Kind.STRING, value: `${year}-01-01T00:00:00Z` };
    }
    case 'Int':
      return { kind: Kind.INT, value: '10' };
    case 'Float':
      return { kind: Kind.FLOAT, value: '1.0' };
    case 'Boolean':
      return { kind: Kind.BOOLEAN, value: false };
    default:
      return { kind: Kind.STRING, value: '' };
  }
}
