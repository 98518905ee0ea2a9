import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import avro from 'avsc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveAvroContract, epochMillisOf, type AvroField, type AvroRecord, type AvroType, type JsonSchema } from '../ingest/contracts/avro.ts';
import { CONTRACTS_DIR, checkAvscFiles, listContracts, loadAvroContract, renderAvsc, type ContractFiles } from '../ingest/contracts/catalog.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

type Json = Record<string, unknown>;

const contracts = listContracts();
const byName = new Map(contracts.map((c) => [`${c.name}.v${c.version}`, c]));
/** Per-contract test cases, titled by `id` (`booking_event.v1`). */
const cases = contracts.map((c) => ({ ...c, id: `${c.name}.v${c.version}` }));

function contractOf(id: string): ContractFiles {
  const files = byName.get(id);
  if (!files) throw new Error(`no contract ${id}`);
  return files;
}
const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
const schemaOf = (files: ContractFiles) => readJson(files.schemaFile) as JsonSchema & { properties: Record<string, JsonSchema>; required: string[] };
const examplesOf = (files: ContractFiles) => readJson(files.examplesFile) as Json[];
const avscOf = (files: ContractFiles) => readJson(files.avscFile) as AvroRecord;

// Compiled the way ingest/registry.ts compiles contracts.
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();
function validatorOf(files: ContractFiles): ValidateFunction {
  let validate = validators.get(files.schemaFile);
  if (!validate) {
    validate = ajv.compile(schemaOf(files));
    validators.set(files.schemaFile, validate);
  }
  return validate;
}

/** Distinct failing field paths, as the publisher reports them (`if` wrappers left out). */
function failingPaths(errors: readonly ErrorObject[]): string[][] {
  const paths = errors
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const p = e.instancePath.split('/').filter(Boolean);
      if (e.keyword === 'required') p.push((e.params as { missingProperty: string }).missingProperty);
      if (e.keyword === 'additionalProperties') p.push((e.params as { additionalProperty: string }).additionalProperty);
      return p;
    });
  return [...new Map(paths.map((p) => [p.join('/'), p])).values()];
}

describe('contract files', () => {
  it('cover every topic the platform uses, one contract per record kind', () => {
    expect(contracts.map((c) => `${c.name}.v${c.version}`)).toEqual([
      'app_event.v1',
      'booking_event.v1',
      'cdc_change.v1',
      'clickstream_event.v1',
      'tour_update.v1',
      'tourism_info.v1',
      'user_event.v1',
      'weather_observation.v1',
    ]);
  });

  it.each(cases)('$id names itself, its version and the enrichment fields it requires', (files) => {
    const schema = schemaOf(files);
    expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema['$id']).toBe(`https://nexus.example/contracts/${path.basename(files.schemaFile)}`);
    expect(schema['additionalProperties']).toBe(false);
    expect(schema.properties['eventId']).toMatchObject({ type: 'string', minLength: 1, maxLength: 64 });
    expect(schema.properties['ingestedAt']).toMatchObject({ type: 'string', format: 'date-time' });
    expect(schema.properties['sourceId']).toMatchObject({ type: 'string', pattern: '^[a-z][a-z0-9_]*$' });
    expect(schema.properties['contractVersion']).toMatchObject({ const: files.version });
    expect(schema.required).toEqual(expect.arrayContaining(['eventId', 'eventType', 'ingestedAt', 'sourceId', 'contractVersion']));
  });

  it('compile under Ajv strict mode, so a misspelt keyword cannot pass unnoticed', () => {
    const strict = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(strict);
    for (const files of contracts) expect(() => strict.compile(schemaOf(files)), files.name).not.toThrow();
  });

  it('give every record an eventType no other contract uses, so the value names its contract', () => {
    const owner = new Map<string, string>();
    for (const files of contracts) {
      const eventType = schemaOf(files).properties['eventType'] ?? {};
      const values = 'const' in eventType ? [eventType['const']] : (eventType['enum'] as unknown[]);
      for (const value of values) {
        expect(owner.get(String(value)), `eventType "${String(value)}"`).toBeUndefined();
        owner.set(String(value), files.name);
      }
    }
    expect(owner.size).toBeGreaterThanOrEqual(contracts.length);
  });
});

describe('Avro schemas', () => {
  it('exist for every contract and are exactly what avro.ts derives from it', () => {
    expect(checkAvscFiles()).toEqual([]);
    for (const files of contracts) expect(readFileSync(files.avscFile, 'utf8')).toBe(renderAvsc(loadAvroContract(files).schema));
  });

  it.each(cases)('$id: the .avsc parses with avsc', (files) => {
    const type = avro.Type.forSchema(avscOf(files) as avro.Schema);
    expect(type.typeName).toBe('record');
    expect(type.name).toBe(`nexus.contracts.${files.name}.v${files.version}.${String(schemaOf(files)['title'])}`);
  });

  it.each(cases)('$id: the JSON Schema and the Avro record have the same fields, required ones non-nullable', (files) => {
    expectSameFields(schemaOf(files), avscOf(files), files.name);
  });
});

/** Every property is a field and vice versa, in order; nullability and defaults follow `required` and the JSON type. */
function expectSameFields(schema: JsonSchema, record: AvroRecord, where: string): void {
  const properties = schema['properties'] as Record<string, JsonSchema>;
  const required = (schema['required'] as string[] | undefined) ?? [];
  expect(record.fields.map((f) => f.name), where).toEqual(Object.keys(properties));
  for (const field of record.fields) {
    const property = properties[field.name] ?? {};
    const at = `${where}.${field.name}`;
    const mustBeNullable = !required.includes(field.name) || admitsNull(property);
    expect(isNullable(field.type), at).toBe(mustBeNullable);
    if (mustBeNullable) expect((field.type as AvroType[])[0], `${at}: "null" comes first`).toBe('null');
    if (required.includes(field.name)) expect('default' in field, `${at} has no default`).toBe(false);
    else expect(field.default, `${at} defaults to null`).toBeNull();
    if (property['properties']) expectSameFields(property, nonNullBranch(field) as AvroRecord, at);
  }
}

function admitsNull(schema: JsonSchema): boolean {
  const type = schema['type'];
  if (Array.isArray(type)) return type.includes('null');
  return type === 'null' || (Array.isArray(schema['enum']) && schema['enum'].includes(null));
}
function isNullable(type: AvroType): boolean {
  return Array.isArray(type) && type.includes('null');
}
function nonNullBranch(field: AvroField): AvroType {
  return Array.isArray(field.type) ? (field.type.find((t) => t !== 'null') ?? 'null') : field.type;
}

/**
 * The JSON record back from Avro is the published one, up to the documented normalisation:
 * nullable fields the original left out come back as null, and timestamps as the same instant
 * in UTC.
 */
function expectSamePublishedRecord(actual: unknown, expected: unknown, at = ''): void {
  if (isPlainObject(expected) && isPlainObject(actual)) {
    for (const key of Object.keys(actual)) {
      if (!(key in expected)) expect(actual[key], `${at}/${key} (absent in the original)`).toBeNull();
    }
    for (const key of Object.keys(expected)) expectSamePublishedRecord(actual[key], expected[key], `${at}/${key}`);
  } else if (Array.isArray(expected) && Array.isArray(actual)) {
    expect(actual.length, at).toBe(expected.length);
    expected.forEach((item, i) => expectSamePublishedRecord(actual[i], item, `${at}/${i}`));
  } else if (typeof expected === 'string' && typeof actual === 'string' && actual !== expected && /^\d{4}-\d\d-\d\d[Tt ]\d\d:/.test(expected)) {
    expect(epochMillisOf(actual), `${at}: same instant`).toBe(epochMillisOf(expected));
  } else {
    expect(actual, at).toEqual(expected);
  }
}
function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

describe('valid examples (ingest/contracts/examples)', () => {
  it.each(cases)('$id: every example passes the contract and round-trips through Avro', (files) => {
    const examples = examplesOf(files);
    expect(examples.length).toBeGreaterThanOrEqual(3);
    const validate = validatorOf(files);
    const contract = loadAvroContract(files);
    const type = avro.Type.forSchema(avscOf(files) as avro.Schema);
    examples.forEach((example, i) => {
      expect(validate(example) ? [] : failingPaths(validate.errors ?? []), `example ${i}`).toEqual([]);
      const value = contract.toAvro(example);
      const invalidAt: string[] = [];
      type.isValid(value, { noUndeclaredFields: true, errorHook: (p: string[]) => invalidAt.push(p.join('.')) });
      expect(invalidAt, `example ${i} as Avro`).toEqual([]);
      const decoded = type.fromBuffer(type.toBuffer(value)) as unknown;
      expect(decoded, `example ${i} after the binary round trip`).toEqual(value);
      const back = contract.fromAvro(decoded);
      expect(validate(back) ? [] : failingPaths(validate.errors ?? []), `example ${i} back from Avro`).toEqual([]);
      expectSamePublishedRecord(back, example, `example ${i}`);
    });
  });
});

interface InvalidCase {
  contract: string;
  why: string;
  /** Index of the valid example to start from. */
  from?: number;
  change: (record: Json) => void;
  path: string[];
}

const nested = (record: Json, key: string): Json => record[key] as Json;

const INVALID: InvalidCase[] = [
  { contract: 'booking_event.v1', why: 'a negative amount', change: (r) => void (r['amount'] = -5), path: ['amount'] },
  { contract: 'booking_event.v1', why: 'a lower-case currency', change: (r) => void (r['currency'] = 'usd'), path: ['currency'] },
  { contract: 'booking_event.v1', why: 'no sourceId', change: (r) => void delete r['sourceId'], path: ['sourceId'] },
  { contract: 'booking_event.v1', why: 'a sourceId that is no registry id', change: (r) => void (r['sourceId'] = 'Gateway-Bookings'), path: ['sourceId'] },
  { contract: 'booking_event.v1', why: 'another contract version', change: (r) => void (r['contractVersion'] = 2), path: ['contractVersion'] },
  { contract: 'booking_event.v1', why: 'an undeclared field', change: (r) => void (r['coupon'] = 'X'), path: ['coupon'] },
  { contract: 'user_event.v1', why: 'a view without a tour', change: (r) => void delete r['tourId'], path: ['tourId'] },
  { contract: 'user_event.v1', why: 'a search without a query', from: 1, change: (r) => void delete nested(r, 'payload')['query'], path: ['payload', 'query'] },
  { contract: 'user_event.v1', why: 'a review rating out of range', from: 2, change: (r) => void (nested(r, 'payload')['rating'] = 9), path: ['payload', 'rating'] },
  { contract: 'app_event.v1', why: 'an unknown platform', change: (r) => void (r['platform'] = 'windows'), path: ['platform'] },
  { contract: 'app_event.v1', why: 'an app version that is not semantic', change: (r) => void (r['appVersion'] = 'v4'), path: ['appVersion'] },
  { contract: 'app_event.v1', why: 'a screen view without a screen', from: 1, change: (r) => void (r['screen'] = null), path: ['screen'] },
  { contract: 'app_event.v1', why: 'an app error without the error', from: 2, change: (r) => void delete r['error'], path: ['error'] },
  { contract: 'app_event.v1', why: 'an error without its message', from: 2, change: (r) => void delete nested(r, 'error')['message'], path: ['error', 'message'] },
  { contract: 'clickstream_event.v1', why: 'a relative page URL', change: (r) => void (r['pageUrl'] = '/vn/tours/TOUR0007'), path: ['pageUrl'] },
  { contract: 'clickstream_event.v1', why: 'a click without its element', from: 1, change: (r) => void delete r['elementId'], path: ['elementId'] },
  { contract: 'clickstream_event.v1', why: 'a scroll depth over 100%', from: 2, change: (r) => void (r['scrollDepthPct'] = 120), path: ['scrollDepthPct'] },
  { contract: 'clickstream_event.v1', why: 'an unknown action', change: (r) => void (r['action'] = 'hover'), path: ['action'] },
  { contract: 'cdc_change.v1', why: 'an update without the before image', from: 1, change: (r) => void delete r['before'], path: ['before'] },
  { contract: 'cdc_change.v1', why: 'an update whose before image is null', from: 1, change: (r) => void (r['before'] = null), path: ['before'] },
  { contract: 'cdc_change.v1', why: 'an insert with a before image', from: 0, change: (r) => void (r['before'] = { booking_id: 1 }), path: ['before'] },
  { contract: 'cdc_change.v1', why: 'a delete with an after image', from: 2, change: (r) => void (r['after'] = { hotel_id: 'HTL-00412' }), path: ['after'] },
  { contract: 'cdc_change.v1', why: 'a snapshot read without the after image', from: 3, change: (r) => void (r['after'] = null), path: ['after'] },
  { contract: 'cdc_change.v1', why: 'a table without its schema', change: (r) => void (r['sourceTable'] = 'bookings'), path: ['sourceTable'] },
  { contract: 'cdc_change.v1', why: 'an empty primary key', change: (r) => void (r['primaryKey'] = {}), path: ['primaryKey'] },
  { contract: 'cdc_change.v1', why: 'an unknown operation', change: (r) => void (r['op'] = 'x'), path: ['op'] },
  { contract: 'weather_observation.v1', why: 'negative precipitation', change: (r) => void (r['precipitationMm'] = -0.1), path: ['precipitationMm'] },
  { contract: 'weather_observation.v1', why: 'a region that is not a country code', change: (r) => void (r['region'] = 'Vietnam'), path: ['region'] },
  { contract: 'weather_observation.v1', why: 'humidity over 100%', change: (r) => void (r['humidityPct'] = 140), path: ['humidityPct'] },
  { contract: 'weather_observation.v1', why: 'an unknown condition', change: (r) => void (r['condition'] = 'sunny'), path: ['condition'] },
  { contract: 'weather_observation.v1', why: 'an observation time without a zone', change: (r) => void (r['observedAt'] = '2026-03-14T08:00:00'), path: ['observedAt'] },
  { contract: 'tourism_info.v1', why: 'hotel occupancy over 100%', from: 1, change: (r) => void (r['value'] = 130), path: ['value'] },
  { contract: 'tourism_info.v1', why: 'arrivals measured in percent', change: (r) => void (r['unit'] = 'percent'), path: ['unit'] },
  { contract: 'tourism_info.v1', why: 'a money figure without its currency', from: 2, change: (r) => void delete r['currency'], path: ['currency'] },
  { contract: 'tourism_info.v1', why: 'a head count with a currency', change: (r) => void (r['currency'] = 'USD'), path: ['currency'] },
  { contract: 'tourism_info.v1', why: 'a period that is no calendar period', change: (r) => void (r['period'] = '2026-13'), path: ['period'] },
  { contract: 'tourism_info.v1', why: 'a negative figure', change: (r) => void (r['value'] = -1), path: ['value'] },
  { contract: 'tour_update.v1', why: 'a rating left out (a full-state record says null)', change: (r) => void delete r['rating'], path: ['rating'] },
  { contract: 'tour_update.v1', why: 'a rating over 5', change: (r) => void (r['rating'] = 5.5), path: ['rating'] },
  { contract: 'tour_update.v1', why: 'a fractional duration', change: (r) => void (r['durationDays'] = 1.5), path: ['durationDays'] },
  { contract: 'tour_update.v1', why: 'a repeated tag', change: (r) => void (r['tags'] = ['water', 'water']), path: ['tags'] },
  { contract: 'tour_update.v1', why: 'a negative price', change: (r) => void (r['price'] = -1), path: ['price'] },
  { contract: 'tour_update.v1', why: 'a lower-case currency', change: (r) => void (r['currency'] = 'usd'), path: ['currency'] },
];

describe('invalid records', () => {
  it.each(INVALID)('$contract refuses $why at $path', ({ contract, from = 0, change, path: expected }) => {
    const files = contractOf(contract);
    const record = structuredClone(examplesOf(files)[from]) as Json;
    change(record);
    const validate = validatorOf(files);
    expect(validate(record)).toBe(false);
    expect(failingPaths(validate.errors ?? [])).toEqual([expected]);
  });

  it('are listed for every contract', () => {
    const covered = new Set(INVALID.map((c) => c.contract));
    expect(contracts.filter((c) => !covered.has(`${c.name}.v${c.version}`)).map((c) => c.name)).toEqual([]);
  });
});

describe('JSON ↔ Avro values', () => {
  const booking = loadAvroContract(contractOf('booking_event.v1'));
  const tourism = loadAvroContract(contractOf('tourism_info.v1'));
  const bookingExample = () => structuredClone(examplesOf(contractOf('booking_event.v1'))[0]) as Json;

  it.each([
    ['2026-03-14T15:05:12+07:00', '2026-03-14T08:05:12.000Z'],
    ['2026-03-14T15:05:12+0700', '2026-03-14T08:05:12.000Z'],
    ['2026-03-14T03:05:12-05', '2026-03-14T08:05:12.000Z'],
    ['2026-03-14t08:05:12.5z', '2026-03-14T08:05:12.500Z'],
    ['2026-03-14 08:05:12.123456Z', '2026-03-14T08:05:12.123Z'],
    ['2016-12-31T23:59:60Z', '2017-01-01T00:00:00.000Z'],
  ])('carries the date-time %s as the instant %s', (text, instant) => {
    const value = booking.toAvro({ ...bookingExample(), occurredAt: text });
    expect(value['occurredAt']).toBe(Date.parse(instant));
    expect(booking.fromAvro(value)['occurredAt']).toBe(instant);
  });

  it('carries free-form objects as JSON text and parses them back', () => {
    const value = booking.toAvro(bookingExample());
    expect(value['payload']).toBe('{"travellers":2,"promoCode":"SPRING26","startDate":"2026-04-02"}');
    expect(booking.fromAvro(value)['payload']).toEqual({ travellers: 2, promoCode: 'SPRING26', startDate: '2026-04-02' });
  });

  it('writes null back for an absent nullable field and leaves out an absent field that cannot be null', () => {
    const example = structuredClone(examplesOf(contractOf('tourism_info.v1'))[1]) as Json;
    expect(example).not.toHaveProperty('currency');
    expect(example).not.toHaveProperty('preliminary');
    const back = tourism.fromAvro(tourism.toAvro(example));
    expect(back['currency']).toBeNull();
    expect(back).not.toHaveProperty('preliminary');
  });

  it('refuses, naming the field, a record the Avro schema cannot carry', () => {
    expect(() => booking.toAvro({ ...bookingExample(), coupon: 'X' })).toThrow('/coupon: not a field of the BookingEvent record');
    const missing = bookingExample();
    delete missing['currency'];
    expect(() => booking.toAvro(missing)).toThrow('/currency: required');
    expect(() => booking.toAvro({ ...bookingExample(), occurredAt: 'yesterday' })).toThrow('/occurredAt: "yesterday" is not an RFC 3339 date-time');
  });
});

describe('Avro derivation', () => {
  const derive = (properties: Json, extra: Json = {}) =>
    deriveAvroContract({ title: 'Sample', type: 'object', additionalProperties: false, properties, ...extra }, { name: 'sample', version: 3 });

  it('maps each JSON Schema shape as documented in avro.ts', () => {
    const { schema } = derive(
      {
        at: { type: 'string', format: 'date-time' },
        name: { type: 'string', maxLength: 5 },
        count: { type: ['integer', 'null'] },
        ratio: { type: 'number' },
        flag: { type: 'boolean', description: 'A flag.' },
        kind: { enum: ['a', 'b', null] },
        fixed: { const: 'x' },
        version: { const: 3 },
        extra: { type: 'object' },
        tags: { type: 'array', items: { type: ['string', 'null'] } },
        inner: { type: 'object', additionalProperties: false, required: ['z'], properties: { z: { type: 'string', format: 'date-time' } } },
      },
      { required: ['at', 'count', 'ratio', 'flag', 'fixed', 'version', 'tags', 'inner'], description: 'A sample.' },
    );
    expect(schema).toEqual({
      type: 'record',
      name: 'Sample',
      namespace: 'nexus.contracts.sample.v3',
      doc: expect.stringMatching(/^A sample\. Derived from sample\.v3\.schema\.json by ingest\/contracts\/avro\.ts/),
      fields: [
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'name', type: ['null', 'string'], default: null },
        { name: 'count', type: ['null', 'long'] },
        { name: 'ratio', type: 'double' },
        { name: 'flag', doc: 'A flag.', type: 'boolean' },
        { name: 'kind', type: ['null', { type: 'enum', name: 'SampleKind', symbols: ['a', 'b'] }], default: null },
        { name: 'fixed', type: { type: 'enum', name: 'SampleFixed', symbols: ['x'] } },
        { name: 'version', doc: 'Always 3.', type: 'long' },
        { name: 'extra', doc: 'Carried as JSON text.', type: ['null', 'string'], default: null },
        { name: 'tags', type: { type: 'array', items: ['null', 'string'] } },
        { name: 'inner', type: { type: 'record', name: 'SampleInner', fields: [{ name: 'z', type: { type: 'long', logicalType: 'timestamp-millis' } }] } },
      ],
    });
    expect(() => avro.Type.forSchema(schema as avro.Schema)).not.toThrow();
  });

  it.each([
    ['a oneOf', { x: { oneOf: [{ type: 'string' }, { type: 'integer' }] } }, 'sample.v3: /properties/x: keyword "oneOf" has no Avro derivation here'],
    ['a $ref', { x: { $ref: '#/definitions/y' } }, 'sample.v3: /properties/x: keyword "$ref" has no Avro derivation here'],
    ['two non-null types', { x: { type: ['string', 'integer'] } }, 'sample.v3: /properties/x: exactly one non-null type maps to Avro'],
    ['an array without items', { x: { type: 'array' } }, 'sample.v3: /properties/x: an array needs one items schema'],
    ['an enum symbol Avro cannot name', { x: { enum: ['two words'] } }, 'sample.v3: /properties/x: "two words" is not a valid Avro enum symbol'],
    ['an open nested object', { x: { type: 'object', properties: { y: { type: 'string' } } } }, 'sample.v3: /properties/x: an object with properties needs additionalProperties: false'],
    ['a field name Avro cannot name', { 'x-y': { type: 'string' } }, 'sample.v3: /properties/x-y: "x-y" is not a valid Avro field name'],
    ['a property without a type', { x: { description: 'anything' } }, 'sample.v3: /properties/x: needs a type, a const or an enum'],
  ])('refuses %s, naming its path', (_, properties, message) => {
    expect(() => derive(properties)).toThrow(message);
  });

  it('refuses conditionals on an object whose shape they would decide', () => {
    expect(() => derive({ x: { type: 'object', allOf: [{ properties: { y: { type: 'string' } } }] } })).toThrow('/properties/x: keyword "allOf" has no Avro derivation here');
  });
});

describe('node ingest/contracts/cli.ts', () => {
  let dir: string;
  const cli = path.join(CONTRACTS_DIR, 'cli.ts');
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [cli, ...args, '--dir', dir], { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nexus-contracts-'));
    for (const files of contracts) {
      cpSync(files.schemaFile, path.join(dir, path.basename(files.schemaFile)));
      cpSync(files.avscFile, path.join(dir, path.basename(files.avscFile)));
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--check passes on the checked-in files', () => {
    expect(run('--check')).toMatchObject({ status: 0, stderr: '' });
  });

  it('--check exits 1 naming an .avsc edited by hand, and writing regenerates it', () => {
    const avsc = path.join(dir, 'weather_observation.v1.avsc');
    writeFileSync(avsc, readFileSync(avsc, 'utf8').replace('"temperatureC"', '"temperature"'));
    const check = run('--check');
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('weather_observation.v1.avsc differs from what its JSON Schema derives');
    expect(run()).toMatchObject({ status: 0, stdout: 'contracts: wrote weather_observation.v1.avsc\n' });
    expect(run('--check').status).toBe(0);
  });

  it('--check exits 1 when a JSON Schema changes without its .avsc', () => {
    const file = path.join(dir, 'tour_update.v1.schema.json');
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { properties: Json };
    schema.properties['season'] = { type: ['string', 'null'] };
    writeFileSync(file, JSON.stringify(schema));
    const check = run('--check');
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('tour_update.v1.avsc differs from what its JSON Schema derives');
  });

  it('--check exits 1 naming a missing .avsc and an .avsc without a contract', () => {
    unlinkSync(path.join(dir, 'cdc_change.v1.avsc'));
    writeFileSync(path.join(dir, 'hotel.v1.avsc'), '{}\n');
    const check = run('--check');
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('cdc_change.v1.avsc is missing');
    expect(check.stderr).toContain('hotel.v1.avsc has no <name>.v<N>.schema.json beside it');
  });

  it('exits 2 naming the path of a contract it cannot derive', () => {
    const file = path.join(dir, 'app_event.v1.schema.json');
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { properties: Json };
    schema.properties['screen'] = { anyOf: [{ type: 'string' }, { type: 'null' }] };
    writeFileSync(file, JSON.stringify(schema));
    const check = run('--check');
    expect(check.status).toBe(2);
    expect(check.stderr).toContain('app_event.v1: /properties/screen: keyword "anyOf" has no Avro derivation here');
  });
});
