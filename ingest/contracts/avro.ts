/**
 * Avro schemas derived from the JSON Schema contracts (for the platform's Spark jobs), and the
 * conversion between a published JSON record and its Avro value.
 *
 * The JSON Schema is the contract; the Avro schema carries its shape only. Value rules
 * (patterns, ranges, lengths, formats other than date-time) and conditional rules (`allOf` /
 * `if` / `then` / `else`) have no Avro equivalent: the gateway enforces them before publishing.
 *
 * Mapping, one rule per JSON Schema shape:
 *
 * | JSON Schema                                   | Avro                                              |
 * |-----------------------------------------------|---------------------------------------------------|
 * | `string`                                      | `string`                                          |
 * | `string` with `format: date-time`             | `{ type: long, logicalType: timestamp-millis }`   |
 * | `number` / `integer` / `boolean`              | `double` / `long` / `boolean`                     |
 * | `enum` of strings, or a string `const`        | `enum` (a `const` is a one-symbol enum)           |
 * | numeric or boolean `const`                    | `long`, `double` or `boolean`                     |
 * | `object` with `properties`                    | nested `record` (needs `additionalProperties: false`) |
 * | `object` without `properties` (free-form)     | `string` holding the object's JSON text           |
 * | `array` with one `items` schema               | `array` of the items' type                        |
 * | a type admitting `null`, or a field not in `required` | `["null", T]`; `default: null` when not required |
 *
 * Why timestamp-millis and not a string: Spark maps it to `TimestampType`, so the bronze tables
 * get typed, partitionable time columns (Iceberg `day(occurredAt)`) without a cast in every job,
 * and a `StructType` derived from the .avsc lets `from_json` parse the ISO strings of the JSON
 * records directly. The cost is that the Avro form keeps the instant, not the text: an offset
 * is normalised to UTC and digits below the millisecond are dropped. `fromAvro` writes
 * timestamps back as `Date.prototype.toISOString()` does (`2026-03-14T08:30:00.000Z`), which is
 * how the gateway writes every timestamp it sets.
 *
 * Why JSON text for free-form objects: their keys differ per record (payloads, row images), so
 * no record schema fits, and an Avro map would force one value type. Spark's `from_json` keeps
 * an object found under a `StringType` field as its JSON text, so the same derived schema reads
 * the JSON records too.
 *
 * Anything else (`oneOf`, `anyOf`, `$ref`, several non-null types, arrays without `items`, ...)
 * is refused with its path: a contract never loses a field silently.
 */

/** A JSON Schema (draft-07) node as parsed from a contract file. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export type AvroPrimitive = 'null' | 'boolean' | 'long' | 'double' | 'string';
export interface AvroTimestamp {
  type: 'long';
  logicalType: 'timestamp-millis';
}
export interface AvroEnum {
  type: 'enum';
  name: string;
  symbols: string[];
}
export interface AvroArray {
  type: 'array';
  items: AvroType;
}
export interface AvroField {
  name: string;
  doc?: string;
  type: AvroType;
  /** Present (always null) on fields the JSON Schema does not require. */
  default?: null;
}
export interface AvroRecord {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: AvroField[];
}
export type AvroType = AvroPrimitive | AvroTimestamp | AvroEnum | AvroArray | AvroRecord | AvroType[];

/** A contract's Avro schema and the value conversion both ways. */
export interface AvroContract {
  readonly schema: AvroRecord;
  /**
   * A published JSON record (already valid against its contract) → its Avro value: date-times
   * become epoch milliseconds, free-form objects JSON text, absent optional fields null. Throws
   * with the field's path on a value the Avro schema cannot carry (a missing required field, a
   * key the contract does not declare, an unparseable timestamp).
   */
  toAvro(record: unknown): Record<string, unknown>;
  /**
   * An Avro value → the published JSON record: timestamps as ISO strings in UTC with
   * milliseconds, JSON text parsed back, null kept for fields whose JSON type admits null and
   * dropped for optional fields whose type does not.
   */
  fromAvro(value: unknown): Record<string, unknown>;
}

/** Naming of the derived schema. */
export interface DeriveOptions {
  /** Contract name (`booking_event` of `booking_event.v1.schema.json`). */
  name: string;
  /** Contract version (the file's `.vN.`). */
  version: number;
}

type Shape =
  | { kind: 'boolean' | 'long' | 'double' | 'string' }
  | { kind: 'timestamp' }
  | { kind: 'json' }
  | { kind: 'enum'; name: string; symbols: string[] }
  | { kind: 'array'; items: Slot }
  | { kind: 'record'; name: string; fields: FieldPlan[] };

/** A value position: its shape, and whether the JSON Schema admits null there. */
interface Slot {
  shape: Shape;
  nullable: boolean;
}

interface FieldPlan {
  name: string;
  doc: string | undefined;
  slot: Slot;
  required: boolean;
}

/** Keywords that only describe or constrain values: the Avro shape ignores them. */
const VALUE_KEYWORDS = new Set([
  'description', 'title', '$comment', 'examples',
  'minLength', 'maxLength', 'pattern', 'format',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties',
]);
const SHAPE_KEYWORDS = new Set(['type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'items']);
/** Validation-only on a record: its `additionalProperties: false` keeps them from adding fields. */
const CONDITIONAL_KEYWORDS = new Set(['allOf', 'if', 'then', 'else']);
const ROOT_KEYWORDS = new Set(['$schema', '$id']);

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Derives the Avro record of a contract; throws naming the contract and path of anything it cannot map. */
export function deriveAvroContract(contract: unknown, options: DeriveOptions): AvroContract {
  const label = `${options.name}.v${options.version}`;
  const fail = (path: string, message: string): never => {
    throw new Error(`${label}: ${path || '(root)'}: ${message}`);
  };
  if (!isObject(contract)) return fail('', 'a contract must be a JSON object');
  const title = contract['title'];
  if (typeof title !== 'string' || !AVRO_NAME.test(title)) {
    return fail('/title', `the title names the Avro record and must match ${AVRO_NAME.source} (got ${JSON.stringify(title)})`);
  }
  const names = new Set<string>();
  const claimName = (name: string, path: string): string => {
    if (names.has(name)) fail(path, `the Avro name ${name} is derived twice`);
    names.add(name);
    return name;
  };

  const slotOf = (schema: unknown, path: string, name: string, root = false): Slot => {
    if (!isObject(schema)) return fail(path, 'a schema must be a JSON object');
    for (const keyword of Object.keys(schema)) {
      if (VALUE_KEYWORDS.has(keyword) || SHAPE_KEYWORDS.has(keyword)) continue;
      if (CONDITIONAL_KEYWORDS.has(keyword) && isObject(schema['properties'])) continue;
      if (root && ROOT_KEYWORDS.has(keyword)) continue;
      fail(path, `keyword "${keyword}" has no Avro derivation here`);
    }
    const declared = schema['type'];
    const types = declared === undefined ? undefined : Array.isArray(declared) ? declared : [declared];
    if (types && !types.every((t) => typeof t === 'string')) fail(path, 'type must be a string or a list of strings');
    const typeAdmitsNull = !types || types.includes('null');

    if ('const' in schema) {
      const value = schema['const'];
      if (value === null) return fail(path, 'a null const carries no data');
      return { shape: constShape(value, path, name), nullable: false };
    }
    if ('enum' in schema) {
      const values = schema['enum'];
      if (!Array.isArray(values) || values.length === 0) return fail(path, 'enum must be a non-empty list');
      const symbols = values.filter((v) => v !== null);
      if (!symbols.every((s): s is string => typeof s === 'string')) return fail(path, 'only enums of strings map to Avro enums');
      return { shape: enumShape(symbols, path, name), nullable: typeAdmitsNull && values.includes(null) };
    }
    if (!types) return fail(path, 'needs a type, a const or an enum');
    const concrete = types.filter((t) => t !== 'null');
    if (concrete.length !== 1) return fail(path, `exactly one non-null type maps to Avro (got ${JSON.stringify(declared)})`);
    const nullable = typeAdmitsNull;
    switch (concrete[0]) {
      case 'string':
        return { shape: schema['format'] === 'date-time' ? { kind: 'timestamp' } : { kind: 'string' }, nullable };
      case 'integer':
        return { shape: { kind: 'long' }, nullable };
      case 'number':
        return { shape: { kind: 'double' }, nullable };
      case 'boolean':
        return { shape: { kind: 'boolean' }, nullable };
      case 'array': {
        const items = schema['items'];
        if (!isObject(items)) return fail(path, 'an array needs one items schema');
        return { shape: { kind: 'array', items: slotOf(items, `${path}/items`, `${name}Item`) }, nullable };
      }
      case 'object':
        if (!isObject(schema['properties'])) return { shape: { kind: 'json' }, nullable };
        return { shape: recordShape(schema, path, name), nullable };
      default:
        return fail(path, `type "${String(concrete[0])}" is not a JSON Schema type`);
    }
  };

  const constShape = (value: unknown, path: string, name: string): Shape => {
    if (typeof value === 'string') return enumShape([value], path, name);
    if (typeof value === 'boolean') return { kind: 'boolean' };
    if (typeof value === 'number') return { kind: Number.isInteger(value) ? 'long' : 'double' };
    return fail(path, 'only string, number and boolean consts map to Avro');
  };

  const enumShape = (symbols: string[], path: string, name: string): Shape => {
    for (const symbol of symbols) {
      if (!AVRO_NAME.test(symbol)) fail(path, `"${symbol}" is not a valid Avro enum symbol (${AVRO_NAME.source})`);
    }
    return { kind: 'enum', name: claimName(name, path), symbols };
  };

  const recordShape = (schema: JsonSchema, path: string, name: string): Shape => {
    if (schema['additionalProperties'] !== false) {
      fail(path, 'an object with properties needs additionalProperties: false (undeclared keys would be lost in Avro)');
    }
    const properties = schema['properties'] as JsonSchema;
    const required = schema['required'] ?? [];
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) return fail(path, 'required must be a list of names');
    for (const field of required) {
      if (!Object.hasOwn(properties, field)) fail(`${path}/required`, `"${field}" is required but not a property`);
    }
    claimName(name, path);
    const fields = Object.entries(properties).map(([field, propertySchema]): FieldPlan => {
      const fieldPath = `${path}/properties/${field}`;
      if (!AVRO_NAME.test(field)) fail(fieldPath, `"${field}" is not a valid Avro field name (${AVRO_NAME.source})`);
      const slot = slotOf(propertySchema, fieldPath, `${name}${pascal(field)}`);
      return { name: field, doc: fieldDoc(propertySchema as JsonSchema, slot), slot, required: required.includes(field) };
    });
    return { kind: 'record', name, fields };
  };

  const top = slotOf(contract, '', title, true);
  if (top.shape.kind !== 'record' || top.nullable) return fail('', 'a contract must describe an object with properties');
  const plan = top.shape;
  const description = typeof contract['description'] === 'string' ? `${contract['description']} ` : '';
  // The contract's own $comment is where it notes what Avro cannot say about it.
  const comment = typeof contract['$comment'] === 'string' ? ` ${contract['$comment']}` : '';
  const schema = recordType(plan, {
    namespace: `nexus.contracts.${options.name}.v${options.version}`,
    doc:
      `${description}Derived from ${options.name}.v${options.version}.schema.json by ingest/contracts/avro.ts: ` +
      `timestamps are timestamp-millis, free-form objects JSON text; value and conditional rules live in the JSON Schema only.${comment}`,
  });
  return {
    schema,
    toAvro: (record) => recordToAvro(plan, record, ''),
    fromAvro: (value) => recordFromAvro(plan, value, ''),
  };
}

/** A field's Avro doc: its description, plus what the Avro type alone does not tell. */
function fieldDoc(schema: JsonSchema, slot: Slot): string | undefined {
  const parts = typeof schema['description'] === 'string' ? [schema['description']] : [];
  const value = schema['const'];
  if (typeof value === 'number' || typeof value === 'boolean') parts.push(`Always ${String(value)}.`);
  if (slot.shape.kind === 'json') parts.push('Carried as JSON text.');
  return parts.length > 0 ? parts.join(' ') : undefined;
}

function recordType(plan: Extract<Shape, { kind: 'record' }>, top?: { namespace: string; doc: string }): AvroRecord {
  return {
    type: 'record',
    name: plan.name,
    ...(top ?? {}),
    fields: plan.fields.map((field) => {
      const optional = !field.required;
      return {
        name: field.name,
        ...(field.doc ? { doc: field.doc } : {}),
        type: avroTypeOf(field.slot.shape, field.slot.nullable || optional),
        ...(optional ? { default: null } : {}),
      };
    }),
  };
}

function avroTypeOf(shape: Shape, nullable: boolean): AvroType {
  const type = concreteAvroType(shape);
  // "null" comes first: Avro requires a union field's default to match its first branch.
  return nullable ? ['null', type] : type;
}

function concreteAvroType(shape: Shape): AvroType {
  switch (shape.kind) {
    case 'boolean':
    case 'long':
    case 'double':
    case 'string':
      return shape.kind;
    case 'timestamp':
      return { type: 'long', logicalType: 'timestamp-millis' };
    case 'json':
      return 'string';
    case 'enum':
      return { type: 'enum', name: shape.name, symbols: [...shape.symbols] };
    case 'array':
      return { type: 'array', items: avroTypeOf(shape.items.shape, shape.items.nullable) };
    case 'record':
      return recordType(shape);
  }
}

function recordToAvro(plan: Extract<Shape, { kind: 'record' }>, value: unknown, path: string): Record<string, unknown> {
  if (!isObject(value)) throw new Error(`${path || '(record)'}: expected an object`);
  const declared = new Set(plan.fields.map((f) => f.name));
  for (const key of Object.keys(value)) {
    if (!declared.has(key)) throw new Error(`${path}/${key}: not a field of the ${plan.name} record`);
  }
  const out: Record<string, unknown> = {};
  for (const field of plan.fields) {
    const fieldPath = `${path}/${field.name}`;
    const raw = value[field.name];
    if (raw === undefined || raw === null) {
      if (!field.slot.nullable && field.required) throw new Error(`${fieldPath}: required`);
      out[field.name] = null;
    } else {
      out[field.name] = valueToAvro(field.slot.shape, raw, fieldPath);
    }
  }
  return out;
}

function valueToAvro(shape: Shape, value: unknown, path: string): unknown {
  switch (shape.kind) {
    case 'timestamp':
      if (typeof value !== 'string') throw new Error(`${path}: expected a date-time string`);
      return epochMillisOf(value, path);
    case 'json':
      if (!isObject(value)) throw new Error(`${path}: expected an object`);
      return JSON.stringify(value);
    case 'array':
      if (!Array.isArray(value)) throw new Error(`${path}: expected an array`);
      return value.map((item, i) => {
        if (item === null && shape.items.nullable) return null;
        return valueToAvro(shape.items.shape, item, `${path}/${i}`);
      });
    case 'record':
      return recordToAvro(shape, value, path);
    default:
      // Scalars and enum symbols are the same value in both forms; avsc checks their types.
      return value;
  }
}

function recordFromAvro(plan: Extract<Shape, { kind: 'record' }>, value: unknown, path: string): Record<string, unknown> {
  if (!isObject(value)) throw new Error(`${path || '(record)'}: expected an Avro record value`);
  const out: Record<string, unknown> = {};
  for (const field of plan.fields) {
    const raw = value[field.name];
    if (raw === undefined || raw === null) {
      if (field.slot.nullable) out[field.name] = null;
      else if (field.required) throw new Error(`${path}/${field.name}: required`);
    } else {
      out[field.name] = valueFromAvro(field.slot.shape, raw, `${path}/${field.name}`);
    }
  }
  return out;
}

function valueFromAvro(shape: Shape, value: unknown, path: string): unknown {
  switch (shape.kind) {
    case 'timestamp':
      if (typeof value !== 'number') throw new Error(`${path}: expected epoch milliseconds`);
      return new Date(value).toISOString();
    case 'json':
      if (typeof value !== 'string') throw new Error(`${path}: expected JSON text`);
      return JSON.parse(value) as unknown;
    case 'array':
      if (!Array.isArray(value)) throw new Error(`${path}: expected an array`);
      return value.map((item, i) => (item === null ? null : valueFromAvro(shape.items.shape, item, `${path}/${i}`)));
    case 'record':
      return recordFromAvro(shape, value, path);
    default:
      return value;
  }
}

// RFC 3339 date-time as ajv-formats accepts it: "t" or a space as separator, any number of
// fraction digits, "z" or an offset written +hh, +hhmm or +hh:mm.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt\s](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * Epoch milliseconds of an RFC 3339 date-time. Fraction digits beyond the millisecond are
 * truncated; a leap second (`23:59:60`) becomes the first millisecond of the next minute, as
 * epoch time has no leap seconds.
 */
export function epochMillisOf(text: string, path = ''): number {
  const m = DATE_TIME.exec(text);
  if (!m) throw new Error(`${path || '(value)'}: "${text}" is not an RFC 3339 date-time`);
  const [, year, month, day, hour, minute, second, fraction = '', sign, offsetHours = '0', offsetMinutes = '0'] = m;
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  // Not Date.UTC: it reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second), millis);
  const offset = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  const epoch = date.getTime() - (sign ? offset : 0);
  if (!Number.isFinite(epoch)) throw new Error(`${path || '(value)'}: "${text}" is out of range`);
  return epoch;
}

function pascal(name: string): string {
  return name.replace(/(^|_)([a-z0-9])/g, (_, __: string, c: string) => c.toUpperCase());
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
