/**
 * Trino result values → the SQL port's JS values. Trino's JSON encoding per type is the server's
 * `JsonEncodingUtils` (trino-main, io.trino.server.protocol): integers and doubles as JSON numbers
 * (doubles' NaN/±Infinity as strings), decimals, dates, times and timestamps as strings, varbinary
 * as base64, arrays as arrays, maps as objects with string keys, rows as positional arrays.
 */

import { zoneOffsetMs as ianaOffsetMs } from '../time-zones.ts';

/** A column of a Trino result (`QueryResults.columns[]`). */
export interface TrinoColumn {
  name: string;
  /** Display form, e.g. `array(varchar)`, `timestamp(6) with time zone`. */
  type: string;
  typeSignature?: TrinoTypeSignature;
}

/** `io.trino.client.ClientTypeSignature` as JSON. */
export interface TrinoTypeSignature {
  rawType: string;
  arguments?: TrinoTypeArgument[];
}

export type TrinoTypeArgument =
  | { kind: 'TYPE'; value: TrinoTypeSignature }
  | { kind: 'NAMED_TYPE'; value: { fieldName?: { name: string } | null; typeSignature: TrinoTypeSignature } }
  | { kind: 'LONG'; value: number }
  | { kind: 'VARIABLE'; value: unknown };

/** Turns one cell of a column into its port value. */
export type CellDecoder = (value: unknown) => unknown;

/** Digits a double carries exactly: any decimal with at most 15 significant digits survives the trip. */
const EXACT_DECIMAL_DIGITS = 15;
const TIMESTAMP = /^([+-]?\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(?: (.+))?$/;
const OFFSET = /^([+-])(\d{2}):(\d{2})$/;

/**
 * Parses a Trino response body. JSON numbers are doubles in JS, so an integer beyond 2^53 (a
 * `bigint` cell, an Iceberg snapshot id) would arrive silently altered: such integers are kept
 * as their exact decimal text instead (JSON.parse source access, Node ≥ 22).
 */
export function parseTrinoJson(text: string): unknown {
  // Past 2^53 an integer has at least 16 digits: without such a run the reviver (which costs a
  // call per value) cannot change anything.
  return /\d{16}/.test(text) ? JSON.parse(text, keepUnsafeIntegers) : JSON.parse(text);
}

function keepUnsafeIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source)) {
    return context.source;
  }
  return value;
}

/**
 * The decoder of a column, built once per result from its type signature (or, lacking one, the
 * display type's base name, which is enough for scalar types). Mapping:
 *
 * - tinyint/smallint/integer/bigint → number; a bigint beyond ±2^53 → its decimal string.
 * - real/double → number (NaN and ±Infinity included).
 * - decimal(p, s) → number when the value has at most 15 significant digits (then the double is
 *   exact), else the decimal string: per value, like bigint, so sums of money stay numbers.
 * - varchar/char/uuid/varbinary (base64)/time/interval/ipaddress → the string Trino sends.
 * - boolean → boolean.
 * - date → the `YYYY-MM-DD` string: a calendar day is no instant, and a Date would invent one.
 * - timestamp(p) → Date, reading the wall clock as UTC (the lakehouse stores UTC without zone).
 * - timestamp(p) with time zone → Date at that instant (UTC, offsets and IANA zones).
 *   Digits past milliseconds are dropped: a Date has no finer resolution.
 * - array(T) → array, element by element; map(K, V) → plain object (Trino sends keys as
 *   strings), values decoded; row(...) → object by field name (`field<i>` for anonymous fields).
 * - json → the parsed JSON value (the text if it does not parse).
 * - unknown (the type of a bare NULL) → null; anything else → the value as sent.
 */
export function columnDecoder(column: TrinoColumn): CellDecoder {
  return decoderFor(column.typeSignature ?? { rawType: baseTypeName(column.type), arguments: [] });
}

function baseTypeName(type: string): string {
  const name = type.trim().toLowerCase();
  if (/^timestamp(\(\d+\))? with time zone$/.test(name)) return 'timestamp with time zone';
  return name.replace(/\(.*$/, '');
}

function decoderFor(signature: TrinoTypeSignature): CellDecoder {
  const args = signature.arguments ?? [];
  switch (signature.rawType.toLowerCase()) {
    case 'tinyint':
    case 'smallint':
    case 'integer':
    case 'bigint':
      return nullable(integer);
    case 'real':
    case 'double':
      return nullable(double);
    case 'decimal':
      return nullable(decimal);
    case 'date':
      return nullable(String);
    case 'timestamp':
      return nullable((value) => timestamp(value, false));
    case 'timestamp with time zone':
      return nullable((value) => timestamp(value, true));
    case 'json':
      return nullable(json);
    case 'unknown':
      return () => null;
    case 'array': {
      const element = decoderFor(typeArgument(args[0], signature));
      return nullable((value) => expectArray(value, signature).map(element));
    }
    case 'map': {
      const valueDecoder = decoderFor(typeArgument(args[1], signature));
      return nullable((value) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`expected a JSON object for ${signature.rawType}`);
        // Object.fromEntries defines own properties, so a "__proto__" key stays a key.
        return Object.fromEntries(Object.entries(value).map(([key, cell]) => [key, valueDecoder(cell)]));
      });
    }
    case 'row': {
      const fields = args.map((argument, index) => {
        if (argument.kind !== 'NAMED_TYPE') throw new TypeError(`row field ${index} has no type signature`);
        return { name: argument.value.fieldName?.name ?? `field${index}`, decode: decoderFor(argument.value.typeSignature) };
      });
      return nullable((value) => {
        const cells = expectArray(value, signature);
        return Object.fromEntries(fields.map((field, index) => [field.name, field.decode(cells[index] ?? null)]));
      });
    }
    default:
      // varchar, char, boolean, uuid, varbinary, time, interval, ipaddress, ...: as sent.
      return (value) => value;
  }
}

function nullable(decode: (value: unknown) => unknown): CellDecoder {
  return (value) => (value === null || value === undefined ? null : decode(value));
}

function typeArgument(argument: TrinoTypeArgument | undefined, parent: TrinoTypeSignature): TrinoTypeSignature {
  if (argument?.kind !== 'TYPE') throw new TypeError(`${parent.rawType} without an element type signature`);
  return argument.value;
}

function expectArray(value: unknown, signature: TrinoTypeSignature): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`expected a JSON array for ${signature.rawType}`);
  return value;
}

/** Numbers stay numbers; integers past 2^53 arrive as digit strings (parseTrinoJson) and stay so. */
function integer(value: unknown): number | string {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  throw new TypeError(`expected an integer, got ${JSON.stringify(value)}`);
}

function double(value: unknown): number {
  if (typeof value === 'number') return value;
  // Jackson writes NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"; parseTrinoJson
  // may have kept a huge integral double as its digits.
  if (value === 'NaN') return Number.NaN;
  if (typeof value === 'string' && /^(-?Infinity|[+-]?\d+(\.\d*)?([eE][+-]?\d+)?)$/.test(value)) return Number(value);
  throw new TypeError(`expected a double, got ${JSON.stringify(value)}`);
}

function decimal(value: unknown): number | string {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^[+-]?\d+(\.\d+)?$/.test(text)) throw new TypeError(`expected a decimal, got ${JSON.stringify(value)}`);
  const significant = text.replace(/^[+-]/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return significant.length <= EXACT_DECIMAL_DIGITS ? Number(text) : text;
}

function json(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** `YYYY-MM-DD HH:MM:SS[.fraction][ zone]` → Date. */
function timestamp(value: unknown, withZone: boolean): Date {
  const match = typeof value === 'string' ? TIMESTAMP.exec(value) : null;
  if (!match) throw new TypeError(`expected a Trino timestamp, got ${JSON.stringify(value)}`);
  const [, year, month, day, hour, minute, second, fraction = '', zone] = match;
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const wall = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  wall.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  wall.setUTCHours(Number(hour), Number(minute), Number(second), millis);
  const wallMs = wall.getTime();
  if (zone === undefined) {
    if (withZone) throw new TypeError(`timestamp with time zone without a zone: ${JSON.stringify(value)}`);
    return wall;
  }
  return new Date(wallMs - zoneOffsetMs(zone, wallMs));
}

/** Offset of `zone` from UTC in ms at (about) the wall-clock time `wallMs` read as UTC. */
function zoneOffsetMs(zone: string, wallMs: number): number {
  if (zone === 'UTC' || zone === 'Z' || zone === 'GMT' || zone === 'Etc/UTC') return 0;
  const offset = OFFSET.exec(zone);
  if (offset) {
    const [, sign, hours, minutes] = offset;
    return (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000;
  }
  // An IANA zone: its offset at the instant, found in two steps since the instant depends on it
  // (exact except within the hour a DST change skips or repeats).
  const first = ianaOffsetMs(zone, wallMs);
  return ianaOffsetMs(zone, wallMs - first);
}

