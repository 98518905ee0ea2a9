import { GraphQLError } from 'graphql';
import type { QueryOptions, SqlEngine, SqlRow } from '../backends/sql/port.ts';
import { BackendError } from '../errors.ts';
import { compileQuestion, type CompiledQuestion, type Question } from './compile.ts';
import { estimateRows, type Estimate } from './estimate.ts';
import { enumValueOf, type AnalyticsModel, type Measure } from './model.ts';

/** One answer row: `time` and the members' camelCase names. */
export type AnalyticsRowValue = Record<string, Date | string | number | null>;

export interface AnalyticsColumnInfo {
  field: string;
  member: string;
  kind: 'MEASURE' | 'DIMENSION' | 'TIME';
  format: 'number' | 'money' | null;
}

export interface AnalyticsAnswer {
  rows: AnalyticsRowValue[];
  columns: AnalyticsColumnInfo[];
  estimate: { rows: number | null; engine: string; method: string; maximum: number };
}

/** Money is summed in floating point by some engines; answers carry whole cents. */
export function cents(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Compiles `question` for `engine`, runs it (one statement) and shapes the rows. */
export async function runQuestion(engine: SqlEngine, model: AnalyticsModel, question: Question, options?: QueryOptions): Promise<AnalyticsRowValue[]> {
  const compiled = compileQuestion(model, question, engine.dialect);
  return shapeRows(model, question, compiled, await engine.query(compiled.sql, compiled.params, options));
}

/** Options of `answerQuestion`. */
export interface AnswerOptions {
  /** Most rows the caller's role may have a question read. */
  maxRows: number;
  /** Identifies the engine across requests (for what its estimates learned about it). */
  engineKey: object;
}

/**
 * The full path of `Query.analytics`: compile, ask the engine what the statement would read,
 * refuse it with QUERY_TOO_COMPLEX (and the estimate) over the caller's budget before it runs,
 * else run it under engine-side ceilings (rows to read, result rows) so it cannot run away.
 */
export async function answerQuestion(engine: SqlEngine, model: AnalyticsModel, question: Question, options: AnswerOptions): Promise<AnalyticsAnswer> {
  const compiled = compileQuestion(model, question, engine.dialect);
  const estimate = await estimateRows(engine, compiled, question, options.engineKey);
  if (estimate.rows !== null && estimate.rows > options.maxRows) {
    throw new GraphQLError(
      `This question would read about ${Math.round(estimate.rows)} rows (${estimate.engine} ${estimate.method}); your role may read at most ${options.maxRows}. Narrow the time range or add filters.`,
      { extensions: { code: 'QUERY_TOO_COMPLEX', estimate: { rows: estimate.rows, engine: estimate.engine, method: estimate.method }, maximum: options.maxRows } },
    );
  }
  let rows: SqlRow[];
  try {
    rows = await engine.query(compiled.sql, compiled.params, { limits: { maxRowsToRead: readCeiling(estimate, options.maxRows), maxResultRows: question.limit } });
  } catch (error) {
    if (error instanceof BackendError && error.limitExceeded) {
      throw new GraphQLError(`The ${estimate.engine} engine stopped this question at its row limits (at most ${options.maxRows} rows read, ${question.limit} returned).`, {
        extensions: { code: 'QUERY_TOO_COMPLEX', estimate: { rows: estimate.rows, engine: estimate.engine, method: estimate.method }, maximum: options.maxRows },
      });
    }
    throw error;
  }
  return {
    rows: shapeRows(model, question, compiled, rows),
    columns: columnsOf(question),
    estimate: { rows: estimate.rows, engine: estimate.engine, method: estimate.method, maximum: options.maxRows },
  };
}

/** The statement's `max_rows_to_read`: the budget, or what the estimate let through when reads come in larger blocks. */
function readCeiling(estimate: Estimate, maxRows: number): number {
  return Math.max(maxRows, Math.ceil(estimate.ceiling ?? 0));
}

function columnsOf(question: Question): AnalyticsColumnInfo[] {
  return [
    ...(question.time?.granularity ? [{ field: 'time', member: enumValueOf(question.time.dimension.name), kind: 'TIME' as const, format: null }] : []),
    ...question.dimensions.map((d) => ({ field: d.name, member: enumValueOf(d.name), kind: 'DIMENSION' as const, format: null })),
    ...question.measures.map((m) => ({ field: m.name, member: enumValueOf(m.name), kind: 'MEASURE' as const, format: m.format })),
  ];
}

function shapeRows(model: AnalyticsModel, question: Question, compiled: CompiledQuestion, rows: readonly SqlRow[]): AnalyticsRowValue[] {
  const byName = new Map(model.measures.map((m) => [m.name, m]));
  const engineValue = (row: SqlRow, m: Measure): number | null => {
    const value = row[compiled.columnOf.get(m.name)!];
    if (value == null) return null;
    const n = Number(value);
    return m.format === 'money' ? cents(n) : n;
  };
  return rows.map((row) => {
    const out: AnalyticsRowValue = {};
    if (compiled.timeColumn) out['time'] = row[compiled.timeColumn] as Date;
    for (const d of question.dimensions) {
      const value = row[compiled.columnOf.get(d.name)!];
      out[d.name] = value == null ? null : String(value);
    }
    for (const m of question.measures) {
      if (m.kind !== 'ratio') {
        out[m.name] = engineValue(row, m);
        continue;
      }
      const numerator = engineValue(row, byName.get(m.numerator)!);
      const denominator = engineValue(row, byName.get(m.denominator)!);
      const ratio = numerator === null || !denominator ? null : numerator / denominator;
      out[m.name] = ratio === null ? null : m.format === 'money' ? cents(ratio) : ratio;
    }
    return out;
  });
}
