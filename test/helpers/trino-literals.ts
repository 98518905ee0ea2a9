import {
  BIGINT,
  BOOLEAN,
  DATE,
  DOUBLE,
  INTEGER,
  LIST,
  TIMESTAMP,
  TIMESTAMPTZ,
  VARCHAR,
  dateValue,
  listValue,
  timestampTZValue,
  timestampValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

/**
 * Trino's literal syntax as the Trino fixture reads it (the `USING` list of `EXECUTE`, the rows
 * of `INSERT ... VALUES`), the Trino type of each literal, Trino's implicit coercions between
 * those types, and the DuckDB value each literal binds as. Only Trino's syntax is read, so a
 * client that renders a value wrongly gets a syntax error or a different value, as on Trino.
 */

/** A failure in Trino's terms, thrown inside the fixture and answered as the query's `error`. */
export class TrinoFailure extends Error {
  readonly errorName: string;
  readonly errorCode: number;
  readonly errorType: string;

  constructor(errorName: string, errorCode: number, message: string, errorType = 'USER_ERROR') {
    super(message);
    this.errorName = errorName;
    this.errorCode = errorCode;
    this.errorType = errorType;
  }
}

/** One literal, as parsed. */
export type FixtureValue =
  | { kind: 'null' }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'integer'; value: bigint }
  | { kind: 'double'; value: number }
  | { kind: 'varchar'; value: string }
  | { kind: 'date'; value: string }
  | { kind: 'timestamp'; micros: bigint; withZone: boolean; precision: number }
  | { kind: 'array'; items: FixtureValue[] };

/** `line L:C` of offset `position` in `sql`, as Trino's messages start. */
export function location(sql: string, position: number): string {
  const before = sql.slice(0, position);
  const line = before.split('\n').length;
  return `line ${line}:${position - before.lastIndexOf('\n')}`;
}

const TYPED_LITERAL = new Set(['DOUBLE', 'REAL', 'BIGINT', 'INTEGER', 'SMALLINT', 'TINYINT', 'DECIMAL', 'VARCHAR', 'DATE', 'TIMESTAMP']);

/**
 * Reads one literal of `sql` starting at `start` (spaces before it are skipped): a string, a
 * number, NULL, TRUE/FALSE, a typed literal (`DATE '...'`, `TIMESTAMP '...'`, `DOUBLE '...'`, ...)
 * or `ARRAY[literal, ...]`. Returns the value and the offset after it.
 */
export function readLiteral(sql: string, start: number): { value: FixtureValue; end: number } {
  let i = start;
  const syntaxError = (): never => {
    throw new TrinoFailure('SYNTAX_ERROR', 1, `${location(sql, i)}: mismatched input '${sql.slice(i, i + 10)}'. Expecting: <literal>`);
  };
  const skipSpaces = () => {
    while (i < sql.length && /\s/.test(sql[i] ?? '')) i += 1;
  };
  const readString = (): string => {
    if (sql[i] !== "'") syntaxError();
    // Trino's only escape inside a string literal is a doubled quote.
    let value = '';
    for (i += 1; ; i += 1) {
      if (i >= sql.length) syntaxError();
      const c = sql[i];
      if (c === "'") {
        if (sql[i + 1] !== "'") break;
        i += 1;
      }
      value += c;
    }
    i += 1;
    return value;
  };
  const read = (): FixtureValue => {
    skipSpaces();
    if (sql[i] === "'") return { kind: 'varchar', value: readString() };
    const rest = sql.slice(i, i + 64);
    const number = /^-?\d+(\.\d*)?([eE][+-]?\d+)?/.exec(rest)?.[0];
    if (number !== undefined) {
      i += number.length;
      // A plain decimal such as 1.5 is a DECIMAL in Trino; kept as a double here (both coerce to double).
      return /^-?\d+$/.test(number) ? { kind: 'integer', value: BigInt(number) } : { kind: 'double', value: Number(number) };
    }
    const word = /^[A-Za-z]+/.exec(rest)?.[0];
    if (word === undefined) return syntaxError();
    const upper = word.toUpperCase();
    i += word.length;
    if (upper === 'NULL') return { kind: 'null' };
    if (upper === 'TRUE' || upper === 'FALSE') return { kind: 'boolean', value: upper === 'TRUE' };
    if (upper === 'ARRAY') {
      skipSpaces();
      if (sql[i] !== '[') syntaxError();
      i += 1;
      const items: FixtureValue[] = [];
      skipSpaces();
      if (sql[i] === ']') {
        i += 1;
        return { kind: 'array', items };
      }
      for (;;) {
        items.push(read());
        skipSpaces();
        if (sql[i] === ']') {
          i += 1;
          return { kind: 'array', items };
        }
        if (sql[i] !== ',') syntaxError();
        i += 1;
      }
    }
    if (TYPED_LITERAL.has(upper)) {
      skipSpaces();
      return typedLiteral(upper, readString());
    }
    i -= word.length;
    return syntaxError();
  };
  const value = read();
  return { value, end: i };
}

/** The USING list: literals separated by commas, in Trino's syntax (and only that). */
export function parseLiterals(text: string): FixtureValue[] {
  const values: FixtureValue[] = [];
  let i = 0;
  for (;;) {
    const { value, end } = readLiteral(text, i);
    values.push(value);
    i = end;
    while (i < text.length && /\s/.test(text[i] ?? '')) i += 1;
    if (i >= text.length) return values;
    if (text[i] !== ',') throw new TrinoFailure('SYNTAX_ERROR', 1, `line 1:${i + 1}: mismatched input '${text.slice(i, i + 10)}' in the USING list`);
    i += 1;
  }
}

function typedLiteral(type: string, text: string): FixtureValue {
  const invalid = () => new TrinoFailure('INVALID_LITERAL', 59, `line 1:1: '${text}' is not a valid ${type.toLowerCase()} literal`);
  switch (type) {
    case 'VARCHAR':
      return { kind: 'varchar', value: text };
    case 'BIGINT':
    case 'INTEGER':
    case 'SMALLINT':
    case 'TINYINT':
      if (!/^\s*-?\d+\s*$/.test(text)) throw invalid();
      return { kind: 'integer', value: BigInt(text.trim()) };
    case 'DATE':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text.trim())) throw invalid();
      return { kind: 'date', value: text.trim() };
    case 'TIMESTAMP': {
      const parsed = parseTrinoTimestamp(text, 'UTC');
      if (!parsed) throw invalid();
      return { kind: 'timestamp', ...parsed };
    }
    default: {
      // DOUBLE, REAL, DECIMAL: Java's Double.parseDouble / BigDecimal syntax, near enough.
      const value = Number(text.trim());
      if (text.trim() === '' || Number.isNaN(value)) throw invalid();
      return { kind: 'double', value };
    }
  }
}

/**
 * Trino's `DateTimes.DATETIME_PATTERN` (the rule of CAST(varchar AS timestamp[ with time zone])
 * and of TIMESTAMP literals): `YYYY-MM-DD[ HH:MM[:SS[.fraction]]][ zone]`, a space between date
 * and time, never ISO's 'T'. Zones: UTC/Z/GMT and ±HH:MM (the fixture knows no IANA zones); none
 * means `sessionZone`. The precision is the number of fraction digits, as Trino types the literal.
 */
export function parseTrinoTimestamp(text: string, sessionZone: string): { micros: bigint; withZone: boolean; precision: number } | undefined {
  const match = /^([-+]?\d{4,})-(\d{1,2})-(\d{1,2})(?: (?:(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?\s*(.+)?)?$/.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone] = match;
  const offsetMinutes = zoneOffsetMinutes(zone ?? sessionZone);
  if (offsetMinutes === undefined) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second), 0);
  const micros = BigInt(date.getTime() - offsetMinutes * 60_000) * 1000n + BigInt(fraction.slice(0, 6).padEnd(6, '0'));
  return { micros, withZone: zone !== undefined, precision: fraction.length };
}

function zoneOffsetMinutes(zone: string): number | undefined {
  if (['UTC', 'Z', 'GMT', 'Etc/UTC'].includes(zone)) return 0;
  const offset = /^([+-])(\d{2}):(\d{2})$/.exec(zone);
  if (!offset) return undefined;
  return (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
}

/** Trino's type of a literal: `integer`, `varchar`, `timestamp(3) with time zone`, `array(varchar)`, `unknown` (NULL), ... */
export function literalType(value: FixtureValue): string {
  switch (value.kind) {
    case 'null':
      return 'unknown';
    case 'boolean':
    case 'double':
    case 'varchar':
    case 'date':
      return value.kind;
    case 'integer':
      // Trino types an integer literal as integer when it fits 32 bits, else bigint.
      return value.value >= -(2n ** 31n) && value.value < 2n ** 31n ? 'integer' : 'bigint';
    case 'timestamp':
      return `timestamp(${value.precision})${value.withZone ? ' with time zone' : ''}`;
    case 'array': {
      const known = value.items.map(literalType).filter((t) => t !== 'unknown');
      let element = known[0] ?? 'unknown';
      for (const type of known) {
        if (canCoerce(type, element)) continue;
        if (canCoerce(element, type)) element = type;
        else throw new TrinoFailure('TYPE_MISMATCH', 58, `line 1:1: All ARRAY elements must be the same type: ${element}`);
      }
      return `array(${element})`;
    }
  }
}

/** Implicit widenings of Trino's TypeCoercion between the scalar types the fixture meets. */
const WIDENS_TO: Record<string, readonly string[]> = {
  tinyint: ['smallint', 'integer', 'bigint', 'real', 'double', 'decimal'],
  smallint: ['integer', 'bigint', 'real', 'double', 'decimal'],
  integer: ['bigint', 'real', 'double', 'decimal'],
  bigint: ['real', 'double', 'decimal'],
  decimal: ['real', 'double'],
  real: ['double'],
};

/**
 * Whether Trino coerces a value of type `from` into a column of type `to` without a CAST (what an
 * INSERT accepts): NULL into anything, numeric widening, date into timestamps, a timestamp into
 * one at least as precise, arrays element-wise. A timestamp with time zone never becomes a
 * timestamp without one implicitly, nor a string a number or a date.
 */
export function canCoerce(from: string, to: string): boolean {
  if (from === 'unknown' || from === to) return true;
  const fromElement = /^array\((.*)\)$/.exec(from)?.[1];
  const toElement = /^array\((.*)\)$/.exec(to)?.[1];
  if (fromElement !== undefined || toElement !== undefined) {
    return fromElement !== undefined && toElement !== undefined && canCoerce(fromElement, toElement);
  }
  const base = (type: string) => type.replace(/\(.*\)/, '');
  if (base(from) === 'varchar') return base(to) === 'varchar';
  const fromTime = /^timestamp\((\d+)\)( with time zone)?$/.exec(from);
  const toTime = /^timestamp\((\d+)\)( with time zone)?$/.exec(to);
  if (from === 'date') return toTime !== null;
  if (fromTime) {
    if (!toTime || Number(toTime[1]) < Number(fromTime[1])) return false;
    return fromTime[2] === undefined || toTime[2] !== undefined;
  }
  return (WIDENS_TO[base(from)] ?? []).includes(base(to));
}

/** A literal as the DuckDB value (and type) it binds as; DuckDB casts it to the column on INSERT. */
export function duckValue(param: FixtureValue): { value: DuckDBValue; type: DuckDBType | undefined } {
  switch (param.kind) {
    case 'null':
      return { value: null, type: undefined };
    case 'boolean':
      return { value: param.value, type: BOOLEAN };
    case 'integer':
      return param.value >= -(2n ** 31n) && param.value < 2n ** 31n ? { value: Number(param.value), type: INTEGER } : { value: param.value, type: BIGINT };
    case 'double':
      return { value: param.value, type: DOUBLE };
    case 'varchar':
      return { value: param.value, type: VARCHAR };
    case 'date':
      return { value: dateValue(Math.round(Date.parse(`${param.value}T00:00:00Z`) / 86_400_000)), type: DATE };
    case 'timestamp':
      return param.withZone ? { value: timestampTZValue(param.micros), type: TIMESTAMPTZ } : { value: timestampValue(param.micros), type: TIMESTAMP };
    case 'array': {
      const items = param.items.map(duckValue);
      return { value: listValue(items.map((item) => item.value)), type: LIST(items.find((item) => item.type)?.type ?? VARCHAR) };
    }
  }
}
