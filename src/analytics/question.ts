import { GraphQLError } from 'graphql';
import { userInputError } from '../errors.ts';
import { roleAtLeast, type Principal } from '../security/principal.ts';
import { isMeasure, type Member, type Question, type QuestionFilter } from './compile.ts';
import { enumValueOf, type AnalyticsModel, type Dimension, type Granularity, type Measure, type TimeDimension } from './model.ts';

/** `Query.analytics`'s argument, as GraphQL delivers it (enum values by name). */
export interface AnalyticsQueryInput {
  /** Absent: the measures among the fields selected on the result's rows. */
  measures?: readonly string[] | null;
  /** Absent: the dimensions among the fields selected on the result's rows. */
  dimensions?: readonly string[] | null;
  timeDimension?: { dimension: string; granularity?: string | null; from?: Date | null; to?: Date | null } | null;
  filters?: readonly {
    member: string;
    equals?: string | null;
    in?: readonly string[] | null;
    not?: readonly string[] | null;
    gte?: string | null;
    lte?: string | null;
    set?: boolean | null;
  }[] | null;
  orderBy?: readonly { member: string; direction?: 'ASC' | 'DESC' | null }[] | null;
  limit?: number | null;
}

/**
 * Resolves a question against the model and the caller: unknown or repeated members and
 * impossible combinations are BAD_USER_INPUT, members above the caller's role FORBIDDEN (naming
 * them), and an `app` caller's question is confined to its own user's rows.
 */
export function questionOf(model: AnalyticsModel, input: AnalyticsQueryInput, principal: Principal, rowFields: readonly string[] = []): Question {
  const byEnum = new Map<string, Member>([...model.measures, ...model.dimensions, ...model.timeDimensions].map((m) => [enumValueOf(m.name), m]));
  const member = (value: string, argument: string): Member => {
    const found = byEnum.get(value);
    if (!found) throw userInputError(`${argument}: ${value} is not a member of the analytics model.`, { argumentName: argument });
    if (!roleAtLeast(principal.role, found.role)) {
      throw new GraphQLError(`${value} requires the ${found.role} role; this request has the ${principal.role} role.`, { extensions: { code: 'FORBIDDEN', member: value } });
    }
    return found;
  };
  const once = <T>(values: readonly T[], argument: string): void => {
    const seen = new Set<T>();
    for (const v of values) {
      if (seen.has(v)) throw userInputError(`${argument} names ${String(v)} twice.`, { argumentName: argument });
      seen.add(v);
    }
  };

  // Members left out of the arguments are the ones the selection of `rows` asks for, so a
  // question can be clicked together field by field (GraphiQL's explorer edits one value per list).
  const measureNames = input.measures ?? model.measures.filter((m) => rowFields.includes(m.name)).map((m) => enumValueOf(m.name));
  if (measureNames.length === 0) {
    throw userInputError('measures: expected at least one measure, in `measures` or selected on `rows`; got none.', { argumentName: 'measures' });
  }
  once(measureNames, 'measures');
  const measures = measureNames.map((m) => member(m, 'measures') as Measure);
  const dimensionNames = input.dimensions ?? model.dimensions.filter((d) => rowFields.includes(d.name)).map((d) => enumValueOf(d.name));
  once(dimensionNames, 'dimensions');
  const dimensions = dimensionNames.map((d) => member(d, 'dimensions') as Dimension);

  let time: Question['time'] = null;
  if (input.timeDimension) {
    const { from = null, to = null } = input.timeDimension;
    const dimension = member(input.timeDimension.dimension, 'timeDimension') as TimeDimension;
    const granularity = (input.timeDimension.granularity?.toLowerCase() ?? null) as Granularity | null;
    if (granularity && !dimension.granularities.includes(granularity)) {
      throw userInputError(`timeDimension: ${input.timeDimension.dimension} has the granularities ${dimension.granularities.join(', ')}, not ${granularity}.`, { argumentName: 'timeDimension' });
    }
    if (from && to && from.getTime() >= to.getTime()) {
      throw userInputError(`timeDimension: "from" (${from.toISOString()}) must be before "to" (${to.toISOString()}).`, { argumentName: 'timeDimension' });
    }
    time = { dimension, granularity, from, to };
  }

  const filters: QuestionFilter[] = (input.filters ?? []).map((f, i) => {
    const target = member(f.member, `filters[${i}]`);
    if (isMeasure(target)) throw userInputError(`filters[${i}]: ${f.member} is a measure; filters apply to dimensions and time dimensions.`, { argumentName: 'filters' });
    const filter: QuestionFilter = { member: target };
    const isTime = 'granularities' in target;
    if (isTime && (f.equals != null || f.in != null || f.not != null)) {
      throw userInputError(`filters[${i}]: ${f.member} is a time dimension; use gte and lte (ISO 8601 timestamps).`, { argumentName: 'filters' });
    }
    const bound = (value: string, op: string): string | Date => {
      if (!isTime) return value;
      const date = new Date(value);
      if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
        throw userInputError(`filters[${i}].${op}: expected an ISO 8601 timestamp for ${f.member}, got ${JSON.stringify(value)}.`, { argumentName: 'filters' });
      }
      return date;
    };
    if (f.equals != null) filter.equals = f.equals;
    if (f.in != null) filter.in = f.in;
    if (f.not != null) filter.not = f.not;
    if (f.gte != null) filter.gte = bound(f.gte, 'gte');
    if (f.lte != null) filter.lte = bound(f.lte, 'lte');
    if (f.set != null) filter.set = f.set;
    if (Object.keys(filter).length === 1) throw userInputError(`filters[${i}]: expected an operator (equals, in, not, gte, lte or set) for ${f.member}, got none.`, { argumentName: 'filters' });
    return filter;
  });

  const orderBy = (input.orderBy ?? []).map((o, i) => {
    const target = member(o.member, `orderBy[${i}]`);
    const asked = isMeasure(target) ? measures.includes(target) : 'granularities' in target ? time?.dimension === target && time.granularity !== null : dimensions.includes(target);
    if (!asked) throw userInputError(`orderBy[${i}]: ${o.member} is not part of the question; order by a measure, dimension or time bucket it asks for.`, { argumentName: 'orderBy' });
    return { member: target, direction: o.direction ?? 'ASC' };
  });

  const limit = input.limit ?? model.limits.defaultLimit;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > model.limits.maxLimit) {
    throw userInputError(`limit: expected 1 to ${model.limits.maxLimit}, got ${limit}.`, { argumentName: 'limit' });
  }

  let userId: string | null = null;
  if (!roleAtLeast(principal.role, 'analyst')) {
    if (principal.userId === null) {
      throw new GraphQLError(`Query.analytics serves an app caller its own user's data, and this ${principal.role} credential acts for no user.`, { extensions: { code: 'FORBIDDEN' } });
    }
    userId = principal.userId;
  }
  return { measures, dimensions, time, filters, orderBy, limit, userId };
}
