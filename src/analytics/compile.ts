import { userInputError } from '../errors.ts';
import { bucketExpression, timestampParameter } from './dialect.ts';
import { limit as limitClause, placeholders, type SqlDialect, type SqlValue } from '../backends/sql/port.ts';
import type { AggregateMeasure, AnalyticsModel, Dimension, Granularity, Join, Measure, TimeDimension } from './model.ts';

/**
 * A question to the model, checked (src/analytics/question.ts), compiled to one SQL statement per
 * dialect. Table and column names come only from the model; every value is a `?` parameter
 * (ClickHouse's adapter writes them as quoted literals, Trino's as `EXECUTE ... USING`).
 */

/** A condition on a dimension (text values) or a time dimension (instants). */
export interface QuestionFilter {
  member: Dimension | TimeDimension;
  equals?: string;
  in?: readonly string[];
  not?: readonly string[];
  gte?: string | Date;
  lte?: string | Date;
  set?: boolean;
}

export type Member = Measure | Dimension | TimeDimension;

/** What the caller asked, resolved against the model and checked. */
export interface Question {
  measures: readonly Measure[];
  dimensions: readonly Dimension[];
  time: { dimension: TimeDimension; granularity: Granularity | null; from: Date | null; to: Date | null } | null;
  filters: readonly QuestionFilter[];
  orderBy: readonly { member: Member; direction: 'ASC' | 'DESC' }[];
  limit: number;
  /** Row-level rule: only this user's rows (app callers). */
  userId: string | null;
}

/** One statement and its values, plus how to read its columns back. */
export interface CompiledQuestion {
  sql: string;
  params: SqlValue[];
  /** Result column of the time bucket, when grouped by time. */
  timeColumn: string | null;
  /** Result column of each dimension / engine-computed measure. */
  columnOf: ReadonlyMap<string, string>;
  /** Tables the statement reads (fact table first), for estimates. */
  tables: readonly string[];
}

interface Fragment {
  sql: string;
  params: SqlValue[];
}

const FACT = 'events_fact';
// Memoised: every question names its members again, and the regular expression showed in profiles
// of analytics requests; names come from the model, so the map stays small.
const snakeNames = new Map<string, string>();
const snake = (name: string): string => {
  let snaked = snakeNames.get(name);
  if (snaked === undefined) {
    snaked = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    if (snakeNames.size < 10_000) snakeNames.set(name, snaked);
  }
  return snaked;
};
export const measureColumn = (m: Measure): string => `m_${snake(m.name)}`;
export const dimensionColumn = (d: Dimension): string => `d_${snake(d.name)}`;
const TIME_COLUMN = 't_bucket';

/** Compiles `question` for `dialect`. */
export function compileQuestion(model: AnalyticsModel, question: Question, dialect: SqlDialect): CompiledQuestion {
  const measures = new Map(model.measures.map((m) => [m.name, m]));
  const joinAlias = (name: string): string => `j_${snake(name)}`;
  const column = (member: Dimension | TimeDimension): string =>
    'join' in member && member.join !== undefined ? `${joinAlias(member.join)}.${member.column}` : `${FACT}.${member.column}`;

  const aggregate = (m: AggregateMeasure): Fragment => {
    const value = m.column === undefined ? '1' : `${FACT}.${m.column}`;
    const when = m.where ? { sql: `${FACT}.${m.where.column} = ?`, params: [m.where.equals] } : null;
    switch (m.aggregation) {
      case 'count':
        return when ? { sql: `sum(CASE WHEN ${when.sql} THEN 1 ELSE 0 END)`, params: when.params } : { sql: 'count(*)', params: [] };
      case 'sum':
        // Missing amounts count as 0, so an empty group sums to 0 on every engine.
        return when
          ? { sql: `sum(CASE WHEN ${when.sql} THEN coalesce(${value}, 0) ELSE 0 END)`, params: when.params }
          : { sql: `sum(coalesce(${value}, 0))`, params: [] };
      case 'countDistinct':
        // ClickHouse (uniqExact underneath) answers NULL, not 0, for a group where no row meets the condition.
        return when ? { sql: `coalesce(count(DISTINCT CASE WHEN ${when.sql} THEN ${value} END), 0)`, params: when.params } : { sql: `count(DISTINCT ${value})`, params: [] };
      case 'min':
      case 'max':
        return when ? { sql: `${m.aggregation}(CASE WHEN ${when.sql} THEN ${value} END)`, params: when.params } : { sql: `${m.aggregation}(${value})`, params: [] };
      default: {
        const unknown: never = m.aggregation;
        throw new Error(`no SQL for aggregation ${String(unknown)}`);
      }
    }
  };
  const aggregateNamed = (name: string): Fragment => aggregate(measures.get(name) as AggregateMeasure);
  const measureSql = (m: Measure): Fragment | null => {
    if (m.kind === 'aggregate') return aggregate(m);
    if (m.kind === 'sum') {
      const terms = m.terms.map((t) => {
        const part = aggregateNamed(t.measure);
        return { sql: t.weight === 1 ? part.sql : `${part.sql} * ${integerLiteral(t.weight)}`, params: part.params };
      });
      return { sql: terms.map((t) => t.sql).join(' + '), params: terms.flatMap((t) => t.params) };
    }
    return null; // ratios: from their parts, after the engine answered
  };

  // Engine-side measures: the ones asked for, and the parts of the ratios asked for (each once).
  const selected: Measure[] = [];
  const select = (m: Measure): void => {
    if (!selected.includes(m)) selected.push(m);
  };
  for (const m of question.measures) {
    if (m.kind === 'ratio') {
      select(measures.get(m.numerator)!);
      select(measures.get(m.denominator)!);
    } else select(m);
  }
  for (const { member } of question.orderBy) {
    if (isMeasure(member) && member.kind === 'ratio') {
      select(measures.get(member.numerator)!);
      select(measures.get(member.denominator)!);
    }
  }

  const columnOf = new Map<string, string>();
  const selectList: Fragment[] = [];
  const groupBy: string[] = [];
  const time = question.time?.granularity ? bucketExpression(dialect, question.time.granularity, column(question.time.dimension)) : null;
  if (time) {
    selectList.push({ sql: `${time} AS ${TIME_COLUMN}`, params: [] });
    groupBy.push(time);
  }
  for (const d of question.dimensions) {
    selectList.push({ sql: `${column(d)} AS ${dimensionColumn(d)}`, params: [] });
    groupBy.push(column(d));
    columnOf.set(d.name, dimensionColumn(d));
  }
  for (const m of selected) {
    const fragment = measureSql(m)!;
    selectList.push({ sql: `${fragment.sql} AS ${measureColumn(m)}`, params: fragment.params });
    columnOf.set(m.name, measureColumn(m));
  }

  // Joins: only those a member of the question lives in.
  const members: (Dimension | TimeDimension)[] = [...question.dimensions, ...question.filters.map((f) => f.member)];
  const needed = model.joins.filter((j) => members.some((m) => 'join' in m && m.join === j.name));
  // ClickHouse before 20.x joins one table per SELECT. A join the question only filters on needs
  // no JOIN there: it becomes a semi-join (`IN (SELECT key ...)`), so one table is left to join.
  const grouped = (j: Join): boolean => question.dimensions.some((d) => d.join === j.name);
  const semiJoined = dialect === 'clickhouse' && needed.length > 1 ? needed.filter((j) => !grouped(j)) : [];
  const joins = needed.filter((j) => !semiJoined.includes(j));
  if (dialect === 'clickhouse' && joins.length > 1) {
    throw userInputError(`The analytics engine (ClickHouse) joins one dimension table per question; this one groups by members of ${joins.map((j) => j.name).join(' and ')}. Group by members of one of them at a time (the others may still filter).`);
  }
  const from = [`${model.table} AS ${FACT}`, ...joins.map((j) => `LEFT JOIN ${j.table} AS ${joinAlias(j.name)} ON ${joinAlias(j.name)}.${j.references} = ${FACT}.${j.column}`)].join(' ');

  const where: Fragment[] = [];
  if (question.userId !== null) where.push({ sql: `${FACT}.${model.userColumn} = ?`, params: [question.userId] });
  const at = (date: Date): Fragment => {
    const p = timestampParameter(dialect, date);
    return { sql: p.sql, params: [p.value] };
  };
  if (question.time) {
    const c = column(question.time.dimension);
    if (question.time.from) where.push(prefixed(`${c} >= `, at(question.time.from)));
    if (question.time.to) where.push(prefixed(`${c} < `, at(question.time.to)));
  }
  // Each condition of a filter; `unmatched` marks the one a fact row without a joined match meets.
  const conditions = (f: QuestionFilter): (Fragment & { unmatched?: true })[] => {
    const c = column(f.member);
    const value = (v: string | Date): Fragment => (v instanceof Date ? at(v) : { sql: '?', params: [v] });
    const out: (Fragment & { unmatched?: true })[] = [];
    if (f.equals !== undefined) out.push({ sql: `${c} = ?`, params: [f.equals] });
    if (f.in !== undefined) out.push({ sql: `${c} IN (${placeholders(f.in.length)})`, params: [...f.in] });
    if (f.not !== undefined && f.not.length > 0) out.push({ sql: `${c} NOT IN (${placeholders(f.not.length)})`, params: [...f.not] });
    if (f.gte !== undefined) out.push(prefixed(`${c} >= `, value(f.gte)));
    if (f.lte !== undefined) out.push(prefixed(`${c} <= `, value(f.lte)));
    if (f.set === true) out.push({ sql: `${c} IS NOT NULL`, params: [] });
    if (f.set === false) out.push({ sql: `${c} IS NULL`, params: [], unmatched: true });
    return out;
  };
  for (const f of question.filters) {
    const semi = semiJoined.find((j) => 'join' in f.member && f.member.join === j.name);
    if (!semi) {
      where.push(...conditions(f));
      continue;
    }
    // The same rows as the LEFT JOIN would keep: every condition but IS NULL refuses a fact row
    // without a match, so the row must reference a key whose row meets it; IS NULL keeps the rows
    // without a match (no key, or a key not in the table) and those whose column is NULL.
    const alias = joinAlias(semi.name);
    const keys = (condition: string): string => `SELECT ${alias}.${semi.references} FROM ${semi.table} AS ${alias} WHERE ${condition}`;
    const key = `${FACT}.${semi.column}`;
    for (const condition of conditions(f)) {
      where.push(condition.unmatched
        ? { sql: `(${key} IS NULL OR ${key} NOT IN (${keys(`${column(f.member)} IS NOT NULL`)}))`, params: [] }
        : { sql: `${key} IN (${keys(condition.sql)})`, params: condition.params });
    }
  }

  // The caller's order, then the time bucket and the dimensions: a total order, so LIMIT keeps the
  // same rows on every engine. NULLS LAST spelled out (engines differ in their defaults).
  const order: string[] = [];
  const ordered = new Set<string>();
  const orderOn = (expression: string, direction: 'ASC' | 'DESC'): void => {
    if (ordered.has(expression)) return;
    ordered.add(expression);
    order.push(`${expression} ${direction} NULLS LAST`);
  };
  for (const { member, direction } of question.orderBy) {
    if (isMeasure(member)) {
      if (member.kind === 'ratio') {
        const [num, den] = [measureColumn(measures.get(member.numerator)!), measureColumn(measures.get(member.denominator)!)];
        orderOn(dialect === 'clickhouse' ? `${num} / nullIf(${den}, 0)` : `CAST(${num} AS DOUBLE) / NULLIF(${den}, 0)`, direction);
      } else orderOn(measureColumn(member), direction);
    } else if ('granularities' in member) orderOn(TIME_COLUMN, direction);
    else orderOn(dimensionColumn(member), direction);
  }
  if (time) orderOn(TIME_COLUMN, 'ASC');
  for (const d of question.dimensions) orderOn(dimensionColumn(d), 'ASC');

  const parts: Fragment[] = [
    { sql: `SELECT ${selectList.map((s) => s.sql).join(', ')}`, params: selectList.flatMap((s) => s.params) },
    { sql: `FROM ${from}`, params: [] },
    { sql: `WHERE ${where.length === 0 ? '1 = 1' : where.map((w) => w.sql).join(' AND ')}`, params: where.flatMap((w) => w.params) },
    ...(groupBy.length > 0 ? [{ sql: `GROUP BY ${groupBy.join(', ')}`, params: [] }] : []),
    ...(order.length > 0 ? [{ sql: `ORDER BY ${order.join(', ')}`, params: [] }] : []),
    { sql: limitClause(question.limit), params: [] },
  ];
  return {
    sql: parts.map((p) => p.sql).join('\n'),
    params: parts.flatMap((p) => p.params),
    timeColumn: time ? TIME_COLUMN : null,
    columnOf,
    tables: [model.table, ...needed.map((j) => j.table)],
  };
}

export function isMeasure(member: Member): member is Measure {
  return 'kind' in member;
}

function prefixed(prefix: string, fragment: Fragment): Fragment {
  return { sql: `${prefix}${fragment.sql}`, params: fragment.params };
}

/** A model weight as SQL: an integer checked here, so nothing else reaches the text. */
function integerLiteral(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`a weight must be an integer, got ${n}`);
  return n < 0 ? `(${n})` : String(n);
}
