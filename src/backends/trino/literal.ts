import type { SqlValue } from '../sql/port.ts';

/** Lone UTF-16 surrogates: no UTF-8 encoding exists for them. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The one place where a JS value becomes SQL text: a Trino literal for the `USING` list of
 * `EXECUTE <statement> USING ...` (Trino binds `?` only from literals there; the statement text
 * itself travels separately, in the `X-Trino-Prepared-Statement` header). Nothing else in the
 * adapter renders values.
 *
 * - string → `'...'` with every `'` doubled. Trino string literals have no other escape (a
 *   backslash is an ordinary character), so this is the whole quoting rule. Lone UTF-16
 *   surrogates become U+FFFD, as any UTF-8 transport would make them, but here on purpose.
 * - number → a safe integer as digits (`integer`/`bigint` in Trino); any other finite number as
 *   `DOUBLE '...'`, the type a JS number is. NaN and ±Infinity throw: no literal means them.
 * - bigint → `BIGINT '...'`; outside the 64-bit range it throws.
 * - boolean → `TRUE` / `FALSE`; null → `NULL`.
 * - Date → `TIMESTAMP 'YYYY-MM-DD HH:MM:SS.mmm UTC'`, a `timestamp(3) with time zone` (a Date is
 *   an instant); an invalid Date throws.
 * Anything else (undefined, objects, arrays) throws a TypeError rather than guessing.
 */
export function trinoLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return `'${value.replace(LONE_SURROGATE, '\uFFFD').replaceAll("'", "''")}'`;
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`Trino has no literal for the number ${value}`);
      // `String(-0)` is "0"; every other safe integer prints as plain digits.
      if (Number.isSafeInteger(value)) return String(value);
      // Shortest round-trip form, e.g. "2.5", "1e-7", "1.7976931348623157e+308": Trino parses
      // it with Java's Double.parseDouble, which reads back the same double.
      return `DOUBLE '${String(value)}'`;
    case 'boolean':
      return value ? 'TRUE' : 'FALSE';
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) throw new RangeError(`${value} is outside Trino's bigint range`);
      return `BIGINT '${value.toString()}'`;
    case 'object':
      if (value instanceof Date) {
        const time = value.getTime();
        if (Number.isNaN(time)) throw new RangeError('cannot bind an invalid Date');
        // toISOString is `YYYY-MM-DDTHH:MM:SS.mmmZ` (or ±YYYYYY for far years, which Trino's
        // timestamp pattern `[-+]?\d{4,}` also reads); Trino wants a space and a zone name.
        return `TIMESTAMP '${value.toISOString().replace('T', ' ').replace('Z', ' UTC')}'`;
      }
      break;
    default:
      break;
  }
  throw new TypeError(`cannot bind a value of type ${describe(value)} to a Trino statement`);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? (value?.constructor?.name ?? 'object') : typeof value;
}
