import type { SqlValue } from '../sql/port.ts';

/**
 * Values into ClickHouse SQL. The port binds `?` placeholders; ClickHouse binds only named,
 * typed `{name:Type}` parameters, and servers before 19.x (the Debian 18.16 peer) none at all.
 * So every value that reaches SQL text goes through `quoteValue`, the one audited literal writer,
 * and every placeholder is found by `splitAtPlaceholders`, the one scanner. `prepareStatement`
 * checks both before anything is sent, then binds either way: literals, or, where the server
 * binds parameters itself, the same placeholders rewritten into typed ones.
 *
 * Literal syntax: https://clickhouse.com/docs/en/sql-reference/syntax#literals
 */

/** How `quoteValue` writes values whose literal depends on the server's abilities. */
export interface QuoteOptions {
  /**
   * Write dates as `DateTime64(3, 'UTC')` (milliseconds kept; servers from 20.1). Default false:
   * `DateTime('UTC')`, whole seconds, the milliseconds cut off (floored) exactly as a DateTime
   * column cuts them off on insert, so comparisons with stored values keep their meaning.
   */
  dateTime64?: boolean;
}

/**
 * Last DateTime second all servers read and print: 2105-12-31 23:59:59 UTC (the type's UInt32
 * reaches 2106-02-07, but 18.16's date tables end with 2105 and wrap later times to 1970 silently).
 */
const DATETIME_MAX_SECONDS = Date.UTC(2106, 0, 1) / 1000 - 1;
/** DateTime64's range (1900-01-01 … 2299-12-31 23:59:59.999 UTC in current servers). */
const DATETIME64_MIN_MS = Date.UTC(1900, 0, 1);
const DATETIME64_MAX_MS = Date.UTC(2300, 0, 1) - 1;
/** Integer literals outside Int64 ∪ UInt64 are parsed as Float64: a silent precision loss. */
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
/** The parser of 18.16 rejects subnormal float literals (`5e-324` is a syntax error). */
const SMALLEST_NORMAL = 2.2250738585072014e-308;

const STRING_ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The ClickHouse literal of one value. Strings: backslash and quote escaped (plus NUL and line
 * breaks, so logged SQL stays on one line); numbers: finite only, negatives parenthesised (so
 * `a -?` cannot become a `--` comment), subnormals by their bit pattern, -0 as `(-0.0)`; booleans 1/0;
 * bigint within Int64/UInt64; Date as a UTC DateTime; null as NULL. Anything else throws, naming
 * the value, rather than guess.
 */
export function quoteValue(value: SqlValue, options: QuoteOptions = {}): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'number':
      return quoteNumber(value);
    case 'boolean':
      return value ? '1' : '0';
    case 'bigint':
      if (value < INT64_MIN || value > UINT64_MAX) throw new RangeError(`bigint ${value} is outside Int64/UInt64; ClickHouse would read it as a Float64`);
      return value < 0n ? `(${value})` : String(value);
    default:
      if (value instanceof Date) return quoteDate(value, options.dateTime64 ?? false);
      throw new TypeError(`cannot bind a value of type ${describe(value)} as a ClickHouse literal`);
  }
}

function quoteString(text: string): string {
  // A lone surrogate has no UTF-8 form: the request body would carry U+FFFD instead of it.
  if (LONE_SURROGATE.test(text)) throw new RangeError(`string contains a lone UTF-16 surrogate and cannot be sent as UTF-8: ${JSON.stringify(text.slice(0, 40))}`);
  return `'${text.replace(/[\\'\0\n\r\t]/g, (c) => STRING_ESCAPES[c] ?? c)}'`;
}

function quoteNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`cannot bind ${n}: only finite numbers are values`);
  if (Object.is(n, -0)) return '(-0.0)';
  if (n !== 0 && Math.abs(n) < SMALLEST_NORMAL) return float64Bits(n);
  // `String` gives the shortest text that reads back as the same double.
  return n < 0 ? `(${String(n)})` : String(n);
}

/** `reinterpretAsFloat64` of the little-endian bytes: exact for any double. */
function float64Bits(n: number): string {
  const bytes = new DataView(new ArrayBuffer(8));
  bytes.setFloat64(0, n, true);
  let hex = '';
  for (let i = 0; i < 8; i += 1) hex += bytes.getUint8(i).toString(16).padStart(2, '0');
  return `reinterpretAsFloat64(unhex('${hex}'))`;
}

function quoteDate(date: Date, dateTime64: boolean): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('cannot bind an invalid Date');
  if (dateTime64) {
    if (ms < DATETIME64_MIN_MS || ms > DATETIME64_MAX_MS) throw new RangeError(`${date.toISOString()} is outside DateTime64's range (1900–2299)`);
    return `toDateTime64('${utcText(ms, true)}', 3, 'UTC')`;
  }
  const seconds = Math.floor(ms / 1000);
  if (seconds < 0 || seconds > DATETIME_MAX_SECONDS) {
    throw new RangeError(`${date.toISOString()} is outside DateTime's range (1970-01-01 00:00:00 … 2105-12-31 23:59:59 UTC)`);
  }
  // The zone is explicit: a bare string would be read in the server's time zone.
  return `toDateTime('${utcText(seconds * 1000, false)}', 'UTC')`;
}

/** `YYYY-MM-DD hh:mm:ss[.sss]` of an instant, in UTC: the text form ClickHouse parses. */
export function utcText(ms: number, withMilliseconds: boolean): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, withMilliseconds ? 23 : 19)}`;
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

/**
 * Splits `sql` at its `?` placeholders: `n` placeholders give `n + 1` pieces. A `?` inside a
 * string literal, a quoted identifier or a comment is text, not a placeholder. ClickHouse
 * literals escape with a backslash or a doubled quote; both are skipped. Throws on an
 * unterminated literal or comment, where the placeholder count would be a guess.
 */
export function splitAtPlaceholders(sql: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      i = endOfQuoted(sql, i, c);
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new SyntaxError(`unterminated /* comment at offset ${i}`);
      i = end + 2;
    } else {
      if (c === '?') {
        pieces.push(sql.slice(start, i));
        start = i + 1;
      }
      i += 1;
    }
  }
  pieces.push(sql.slice(start));
  return pieces;
}

function endOfQuoted(sql: string, open: number, quote: string): number {
  for (let i = open + 1; i < sql.length; i += 1) {
    const c = sql[i];
    if (c === '\\') i += 1;
    else if (c === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i += 1;
    }
  }
  throw new SyntaxError(`unterminated ${quote} quote starting at offset ${open}`);
}

/** A statement whose placeholders and values were checked, ready to bind either way. */
export interface PreparedStatement {
  /** Client-side binding: each `?` replaced by the literal of its value. */
  withLiterals(options?: QuoteOptions): string;
  /**
   * Server-side binding: each `?` replaced by a typed parameter `{pN:Type}`, with the values to
   * send (`param_pN`). Types follow the JS value: String, Int64 (safe integers), Float64,
   * Int64/UInt64 (bigint), Bool, DateTime64(3, 'UTC'), Nullable(String) for null.
   */
  withServerParameters(): { sql: string; params: Record<string, SqlValue> };
}

/**
 * Splits `sql` at its placeholders and checks, before anything is sent, that there is one value
 * per placeholder and that every value can be bound (a caller's mistake, thrown as such:
 * RangeError/TypeError, never as a backend failure).
 */
export function prepareStatement(sql: string, params: readonly SqlValue[]): PreparedStatement {
  const pieces = splitAtPlaceholders(sql);
  if (pieces.length - 1 !== params.length) {
    throw new RangeError(`the statement has ${pieces.length - 1} ? placeholder(s) but ${params.length} parameter(s) were given`);
  }
  const types = params.map(serverType);
  const join = (write: (value: SqlValue, i: number) => string): string => {
    let text = pieces[0] ?? '';
    params.forEach((value, i) => {
      text += write(value, i) + (pieces[i + 1] ?? '');
    });
    return text;
  };
  return {
    withLiterals: (options = {}) => join((value) => quoteValue(value, options)),
    withServerParameters() {
      const values: Record<string, SqlValue> = {};
      const sql = join((value, i) => {
        values[`p${i}`] = value;
        return `{p${i}:${types[i]}}`;
      });
      return { sql, params: values };
    },
  };
}

/** `sql` with each `?` replaced by the literal of its parameter (client-side binding). */
export function bindParameters(sql: string, params: readonly SqlValue[], options: QuoteOptions = {}): string {
  return prepareStatement(sql, params).withLiterals(options);
}

/** The value's parameter type; throws for a value no binding can carry. */
function serverType(value: SqlValue): string {
  if (value === null) return 'Nullable(String)';
  switch (typeof value) {
    case 'string':
      if (LONE_SURROGATE.test(value)) throw new RangeError('string contains a lone UTF-16 surrogate and cannot be sent as UTF-8');
      return 'String';
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`cannot bind ${value}: only finite numbers are values`);
      return Number.isSafeInteger(value) ? 'Int64' : 'Float64';
    case 'boolean':
      return 'Bool';
    case 'bigint':
      if (value < INT64_MIN || value > UINT64_MAX) throw new RangeError(`bigint ${value} is outside Int64/UInt64`);
      return value < 2n ** 63n ? 'Int64' : 'UInt64';
    default:
      if (value instanceof Date) {
        if (!Number.isFinite(value.getTime())) throw new RangeError('cannot bind an invalid Date');
        return "DateTime64(3, 'UTC')";
      }
      throw new TypeError(`cannot bind a value of type ${describe(value)} as a ClickHouse parameter`);
  }
}

/**
 * A server-side parameter's value as the HTTP interface takes it (`param_pN=…`, in the text
 * format of the parameter's type): `\N` for NULL, 1/0 for booleans, Unix seconds with
 * milliseconds for dates (zone-free), strings with tab, newline, carriage return, quote and
 * backslash escaped.
 */
export function serverParameterText(value: SqlValue): string {
  if (value === null) return '\\N';
  if (value instanceof Date) {
    const ms = value.getTime();
    const whole = String(Math.floor(Math.abs(ms) / 1000));
    const fraction = Math.abs(ms) % 1000;
    // Ten digits, as the official client writes them: shorter digit strings are not relied on.
    const seconds = ms < 0 ? `-${whole}` : whole.padStart(10, '0');
    return fraction === 0 ? seconds : `${seconds}.${String(fraction).padStart(3, '0')}`;
  }
  switch (typeof value) {
    case 'boolean':
      return value ? '1' : '0';
    case 'string':
      return value.replace(/[\t\n\r'\\]/g, (c) => PARAMETER_ESCAPES[c] ?? c);
    default:
      return String(value);
  }
}

const PARAMETER_ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', "'": "\\'", '\\': '\\\\' };
