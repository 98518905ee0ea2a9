import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ROLES, type Role } from '../security/principal.ts';

/**
 * The analytics semantic layer's model (`model.yaml`): measures, dimensions, time dimensions,
 * joins and who may use what. Loaded once at start-up; any problem fails start-up with a message
 * naming the entry (`measures[3] (revenue): ...`).
 */

export const GRANULARITIES = ['day', 'week', 'month', 'quarter', 'year'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** A condition a measure counts under, e.g. `event_type = 'booking'` (the value is bound, not spliced). */
export interface MeasureCondition {
  column: string;
  equals: string;
}

interface MemberBase {
  /** camelCase name: the row field and (as SCREAMING_SNAKE) the enum value. */
  name: string;
  description: string | undefined;
  /** Least role that may use the member. */
  role: Role;
}

/** A measure the engine aggregates. */
export interface AggregateMeasure extends MemberBase {
  kind: 'aggregate';
  aggregation: 'count' | 'sum' | 'countDistinct' | 'min' | 'max';
  /** Column of the fact table (absent for `count`). */
  column: string | undefined;
  where: MeasureCondition | undefined;
  format: 'number' | 'money';
}

/** numerator / denominator of two aggregate measures, computed after the engine answered (null when the denominator is 0). */
export interface RatioMeasure extends MemberBase {
  kind: 'ratio';
  numerator: string;
  denominator: string;
  format: 'number' | 'money';
}

/** A weighted sum of aggregate measures, computed by the engine (so it can be ordered by). */
export interface SumMeasure extends MemberBase {
  kind: 'sum';
  terms: readonly { measure: string; weight: number }[];
  format: 'number' | 'money';
}

export type Measure = AggregateMeasure | RatioMeasure | SumMeasure;

export interface Dimension extends MemberBase {
  column: string;
  /** The join whose table holds the column; absent for the fact table. */
  join: string | undefined;
}

export interface TimeDimension extends MemberBase {
  column: string;
  granularities: readonly Granularity[];
}

export interface Join {
  name: string;
  table: string;
  columns: readonly string[];
  /** Fact-table column joined on. */
  column: string;
  /** Column of the joined table it equals. */
  references: string;
}

export interface AnalyticsModel {
  table: string;
  columns: readonly string[];
  userColumn: string;
  joins: readonly Join[];
  limits: { defaultLimit: number; maxLimit: number };
  measures: readonly Measure[];
  dimensions: readonly Dimension[];
  timeDimensions: readonly TimeDimension[];
}

export const DEFAULT_MODEL_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'model.yaml');

const NAME = { type: 'string', pattern: '^[a-z][A-Za-z0-9]*$' } as const;
const SQL_NAME = { type: 'string', pattern: '^[a-z_][a-z0-9_]*$' } as const;
const TABLE = { type: 'string', pattern: '^[a-z_][a-z0-9_]*\\.[a-z_][a-z0-9_]*$' } as const;
const COMMON = { name: NAME, description: { type: 'string' }, role: { enum: ROLES.filter((r) => r !== 'public') }, format: { enum: ['number', 'money'] } } as const;

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['table', 'columns', 'userColumn', 'measures', 'dimensions', 'timeDimensions'],
  properties: {
    table: TABLE,
    columns: { type: 'array', items: SQL_NAME, minItems: 1 },
    userColumn: SQL_NAME,
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: { defaultLimit: { type: 'integer', minimum: 1 }, maxLimit: { type: 'integer', minimum: 1 } },
    },
    joins: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'table', 'columns', 'column', 'references'],
        properties: { name: NAME, table: TABLE, columns: { type: 'array', items: SQL_NAME, minItems: 1 }, column: SQL_NAME, references: SQL_NAME },
      },
    },
    measures: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          ...COMMON,
          aggregation: { enum: ['count', 'sum', 'countDistinct', 'min', 'max'] },
          column: SQL_NAME,
          where: { type: 'object', additionalProperties: false, required: ['column', 'equals'], properties: { column: SQL_NAME, equals: { type: 'string' } } },
          ratio: { type: 'object', additionalProperties: false, required: ['numerator', 'denominator'], properties: { numerator: NAME, denominator: NAME } },
          sum: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', additionalProperties: false, required: ['measure', 'weight'], properties: { measure: NAME, weight: { type: 'integer' } } },
          },
        },
        oneOf: [{ required: ['aggregation'] }, { required: ['ratio'] }, { required: ['sum'] }],
      },
    },
    dimensions: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['name', 'column'], properties: { ...COMMON, column: SQL_NAME, join: NAME } },
    },
    timeDimensions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'column', 'granularities'],
        properties: { ...COMMON, column: SQL_NAME, granularities: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: GRANULARITIES } } },
      },
    },
  },
} as const;

type Raw = Record<string, unknown>;

/** Reads and checks a model file (default: the repository's `model.yaml`). Throws naming the file and entry. */
export function loadAnalyticsModel(file = DEFAULT_MODEL_FILE): AnalyticsModel {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${file}: cannot read the analytics model: ${(error as Error).message}`);
  }
  return parseAnalyticsModel(text, file);
}

/** Checks a model given as YAML text; `source` names it in errors. */
export function parseAnalyticsModel(text: string, source = 'analytics model'): AnalyticsModel {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new Error(`${source}: not YAML: ${(error as Error).message}`);
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  const check = ajv.compile(SCHEMA);
  if (!check(document)) throw new Error(`${source}: ${describe(document, check.errors ?? [])}`);
  const raw = document as unknown as Raw;
  const fail = (where: string, message: string): never => {
    throw new Error(`${source}: ${where}: ${message}`);
  };
  const label = (list: string, i: number, entry: Raw): string => `${list}[${i}] (${String(entry['name'])})`;

  const columns = raw['columns'] as string[];
  const userColumn = raw['userColumn'] as string;
  if (!columns.includes(userColumn)) fail('userColumn', `${userColumn} is not a column of ${String(raw['table'])} (${columns.join(', ')})`);

  const joins: Join[] = ((raw['joins'] as Raw[] | undefined) ?? []).map((entry, i) => {
    const join = entry as unknown as Join;
    if (!columns.includes(join.column)) fail(label('joins', i, entry), `column ${join.column} is not a column of ${String(raw['table'])}`);
    if (!join.columns.includes(join.references)) fail(label('joins', i, entry), `references ${join.references}, not a column of ${join.table}`);
    return { name: join.name, table: join.table, columns: join.columns, column: join.column, references: join.references };
  });

  const names = new Map<string, string>();
  const claim = (where: string, name: string): void => {
    const enumName = enumValueOf(name);
    const other = names.get(enumName);
    if (other) fail(where, `the name ${name} is already used by ${other}`);
    if (name === 'time') fail(where, 'the name time is reserved for the time bucket');
    names.set(enumName, where);
  };
  const roleOf = (entry: Raw): Role => (entry['role'] as Role | undefined) ?? 'app';
  const description = (entry: Raw): string | undefined => entry['description'] as string | undefined;
  const format = (entry: Raw): 'number' | 'money' => (entry['format'] as 'number' | 'money' | undefined) ?? 'number';

  const rawMeasures = raw['measures'] as Raw[];
  const measures: Measure[] = rawMeasures.map((entry, i) => {
    const where = label('measures', i, entry);
    claim(where, String(entry['name']));
    const base = { name: String(entry['name']), description: description(entry), role: roleOf(entry), format: format(entry) };
    if (entry['aggregation'] !== undefined) {
      const aggregation = entry['aggregation'] as AggregateMeasure['aggregation'];
      const column = entry['column'] as string | undefined;
      if (aggregation !== 'count' && column === undefined) fail(where, `aggregation ${aggregation} needs a column`);
      if (column !== undefined && !columns.includes(column)) fail(where, `unknown column ${column} (${String(raw['table'])} has ${columns.join(', ')})`);
      const condition = entry['where'] as MeasureCondition | undefined;
      if (condition && !columns.includes(condition.column)) fail(where, `where: unknown column ${condition.column}`);
      return { ...base, kind: 'aggregate', aggregation, column, where: condition };
    }
    // Ratios and sums refer to aggregate measures declared anywhere in the list.
    const aggregate = (name: string, part: string): string => {
      const target = rawMeasures.find((m) => m['name'] === name);
      if (!target) fail(where, `${part}: unknown measure ${name}`);
      if (target!['aggregation'] === undefined) fail(where, `${part}: ${name} is not an aggregate measure`);
      return name;
    };
    if (entry['ratio'] !== undefined) {
      const ratio = entry['ratio'] as { numerator: string; denominator: string };
      return { ...base, kind: 'ratio', numerator: aggregate(ratio.numerator, 'ratio.numerator'), denominator: aggregate(ratio.denominator, 'ratio.denominator') };
    }
    const terms = (entry['sum'] as { measure: string; weight: number }[]).map((t, j) => ({ measure: aggregate(t.measure, `sum[${j}]`), weight: t.weight }));
    return { ...base, kind: 'sum', terms };
  });

  const dimensions: Dimension[] = (raw['dimensions'] as Raw[]).map((entry, i) => {
    const where = label('dimensions', i, entry);
    claim(where, String(entry['name']));
    const column = String(entry['column']);
    const joinName = entry['join'] as string | undefined;
    if (joinName !== undefined) {
      const join = joins.find((j) => j.name === joinName);
      if (!join) fail(where, `unknown join ${joinName} (joins: ${joins.map((j) => j.name).join(', ') || 'none'})`);
      if (!join!.columns.includes(column)) fail(where, `unknown column ${column} (${join!.table} has ${join!.columns.join(', ')})`);
    } else if (!columns.includes(column)) {
      fail(where, `unknown column ${column} (${String(raw['table'])} has ${columns.join(', ')})`);
    }
    return { name: String(entry['name']), description: description(entry), role: roleOf(entry), column, join: joinName };
  });

  const timeDimensions: TimeDimension[] = (raw['timeDimensions'] as Raw[]).map((entry, i) => {
    const where = label('timeDimensions', i, entry);
    claim(where, String(entry['name']));
    const column = String(entry['column']);
    if (!columns.includes(column)) fail(where, `unknown column ${column}`);
    return { name: String(entry['name']), description: description(entry), role: roleOf(entry), column, granularities: entry['granularities'] as Granularity[] };
  });

  const limits = { defaultLimit: 100, maxLimit: 1000, ...((raw['limits'] as Partial<AnalyticsModel['limits']> | undefined) ?? {}) };
  if (limits.defaultLimit > limits.maxLimit) fail('limits', `defaultLimit ${limits.defaultLimit} is above maxLimit ${limits.maxLimit}`);
  return { table: String(raw['table']), columns, userColumn, joins, limits, measures, dimensions, timeDimensions };
}

/** `destinationCountry` → `DESTINATION_COUNTRY`: a member's enum value. */
export function enumValueOf(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Ajv's first errors, located by list entry (`measures[3] (revenue): ...`). */
function describe(document: unknown, errors: readonly ErrorObject[]): string {
  // oneOf reports every branch; the branch errors below it say more.
  const useful = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'required') ;
  const shown = (useful.length > 0 ? useful : errors).slice(0, 3);
  return shown
    .map((error) => {
      const parts = error.instancePath.split('/').filter(Boolean);
      let where = '';
      let node: unknown = document;
      for (const part of parts) {
        node = (node as Record<string, unknown> | undefined)?.[part];
        if (/^\d+$/.test(part)) {
          where += `[${part}]`;
          const name = (node as Raw | undefined)?.['name'];
          if (typeof name === 'string' && where.split('[').length === 2) where += ` (${name})`;
        } else {
          where += where === '' ? part : `.${part}`;
        }
      }
      const detail = error.keyword === 'additionalProperties'
        ? `unknown field ${String((error.params as { additionalProperty: string }).additionalProperty)}`
        : error.keyword === 'enum'
          ? `${error.message ?? ''}: ${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)}`
          : error.message ?? error.keyword;
      return `${where || 'the document'}: ${detail}`;
    })
    .join('; ');
}
