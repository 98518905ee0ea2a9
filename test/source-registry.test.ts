import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DEFAULT_REGISTRY_FILE, loadSourceRegistry } from '../ingest/registry.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const contractsDir = path.join(path.dirname(DEFAULT_REGISTRY_FILE), 'contracts');
const shipped = parseYaml(readFileSync(DEFAULT_REGISTRY_FILE, 'utf8')) as { sources: Record<string, unknown>[] };

/** A copy of the shipped registry in `dir`, with contract paths made absolute, plus `extra` entries. */
function registryWith(dir: string, extra: Record<string, unknown>[], edit: (entries: Record<string, unknown>[]) => void = () => undefined): string {
  const sources = shipped.sources.map((s) => ({ ...s, contract: path.join(contractsDir, path.basename(String(s['contract']))) }));
  edit(sources);
  const file = path.join(dir, 'sources.yaml');
  writeFileSync(file, stringifyYaml({ dead_letter_topic: 'topic_dead_letter', sources: [...sources, ...extra] }));
  return file;
}

/** A new source's contract: partner reviews of tours (the shape a partner API sends). */
const REVIEW_CONTRACT = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'PartnerReview',
  type: 'object',
  additionalProperties: false,
  required: ['eventId', 'eventType', 'partnerId', 'tourId', 'stars', 'reviewedAt', 'ingestedAt', 'sourceId', 'contractVersion'],
  properties: {
    eventId: { type: 'string', minLength: 1, maxLength: 64 },
    eventType: { const: 'partner_review' },
    partnerId: { type: 'string', pattern: '^P[0-9]{3}$' },
    tourId: { type: 'string', minLength: 1, maxLength: 64 },
    stars: { type: 'integer', minimum: 1, maximum: 5 },
    text: { type: ['string', 'null'], maxLength: 2000 },
    reviewedAt: { type: 'string', format: 'date-time' },
    ingestedAt: { type: 'string', format: 'date-time' },
    sourceId: { type: 'string' },
    contractVersion: { const: 1 },
  },
};

const REVIEW_SOURCE = {
  source_id: 'partner_reviews',
  source_name: 'Tour reviews from travel partners',
  source_type: 'api',
  kafka_topic: 'topic_partner_reviews',
  target_table: 'bronze.partner_reviews',
  contract: 'partner_review.v1.schema.json',
  partitioning: 'partnerId',
  retention_days: 60,
  enabled: true,
};

describe('adding a source is a YAML entry and a contract', () => {
  let dir: string;
  let gw: TestGateway;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nexus-sources-'));
    writeFileSync(path.join(dir, 'partner_review.v1.schema.json'), JSON.stringify(REVIEW_CONTRACT));
    const file = registryWith(dir, [{ ...REVIEW_SOURCE, contract: path.join(dir, 'partner_review.v1.schema.json') }]);
    gw = await startTestGateway({ env: { SOURCES_FILE: file, MEDALLION_DEBOUNCE_MS: '60000', MEDALLION_INTERVAL_MS: '0' } });
  });
  afterAll(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the new source in the platform metadata', async () => {
    const { body } = await gw.request<{ platform: { dataSources: { sourceId: string; topic: string; bronzeTable: string; contractVersion: number; partitioning: string }[] } }>(
      '{ platform { dataSources { sourceId topic bronzeTable contractVersion partitioning } } }',
    );
    expect(body.data!.platform.dataSources).toContainEqual({
      sourceId: 'partner_reviews',
      topic: 'topic_partner_reviews',
      bronzeTable: 'bronze.partner_reviews',
      contractVersion: 1,
      partitioning: 'partnerId',
    });
  });

  it('validates records against its contract, routes them to its topic and lands them in its bronze table', async () => {
    const { body } = await gw.request<{ ingestRecords: { accepted: number; rejected: number; results: { receipt: { topic: string } | null; rejection: { path: string[]; message: string } | null }[] } }>(
      `mutation ($records: [JSON!]!) { ingestRecords(source: "partner_reviews", records: $records) {
         accepted rejected results { receipt { topic } rejection { path message } } } }`,
      {
        records: [
          { eventType: 'partner_review', partnerId: 'P001', tourId: 'T0001', stars: 5, text: 'Superb guide', reviewedAt: '2026-10-30T10:00:00Z' },
          { eventType: 'partner_review', partnerId: 'P002', tourId: 'T0002', stars: 9, reviewedAt: '2026-10-30T11:00:00Z' },
          { eventType: 'partner_review', partnerId: 'P003', tourId: 'T0003', stars: 4, reviewedAt: '2026-10-30T12:00:00Z', eventId: 'mine' },
        ],
      },
    );
    expect(body.errors).toBeUndefined();
    const out = body.data!.ingestRecords;
    expect(out).toMatchObject({ accepted: 1, rejected: 2 });
    expect(out.results[0]!.receipt!.topic).toBe('topic_partner_reviews');
    expect(out.results[1]!.rejection!.path).toEqual(['records', '1', 'stars']);
    expect(out.results[2]!.rejection!.path).toEqual(['records', '2', 'eventId']);

    const runs = await gw.request<{ runPipeline: { layer: string; sources: { sourceId: string; recordsOut: number }[] }[] }>(
      'mutation { runPipeline { layer sources { sourceId recordsOut } } }',
    );
    const bronze = runs.body.data!.runPipeline.find((r) => r.layer === 'bronze')!;
    expect(bronze.sources).toContainEqual({ sourceId: 'partner_reviews', recordsOut: 1 });

    const { body: platform } = await gw.request<{
      platform: { tables: { name: string; rowCount: number }[]; lineage: { from: string; to: string; records: number }[]; dataQuality: { table: string; sourceId: string | null; rowCount: number }[] };
    }>('{ platform { tables { name rowCount } lineage { from to records } dataQuality(table: "bronze.partner_reviews") { table sourceId rowCount } } }');
    expect(platform.data!.platform.tables).toContainEqual({ name: 'bronze.partner_reviews', rowCount: 1 });
    expect(platform.data!.platform.lineage).toContainEqual({ from: 'source:partner_reviews', to: 'topic:topic_partner_reviews', records: 1 });
    expect(platform.data!.platform.lineage).toContainEqual({ from: 'topic:topic_partner_reviews', to: 'table:bronze.partner_reviews', records: 1 });
    expect(platform.data!.platform.dataQuality).toEqual([{ table: 'bronze.partner_reviews', sourceId: 'partner_reviews', rowCount: 1 }]);
  });

  it('refuses an unknown source by name', async () => {
    const { body } = await gw.request('mutation { ingestRecords(source: "nope", records: [{}]) { accepted } }');
    expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/"nope" is not an enabled source.*partner_reviews/);
  });
});

describe('an invalid registry fails start-up naming the entry and the field', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nexus-sources-bad-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, (entries: Record<string, unknown>[]) => void, RegExp][] = [
    ['a bad topic name', (e) => (e[0]!['kafka_topic'] = 'bookings!'), /sources\[0\] \(gateway_bookings\): field "kafka_topic"/],
    ['a missing contract file', (e) => (e[1]!['contract'] = path.join(contractsDir, 'missing.v1.schema.json')), /sources\[1\] \(gateway_user_events\): field "contract": cannot read/],
    ['a partitioning field the contract lacks', (e) => (e[2]!['partitioning'] = 'nowhere'), /sources\[2\] \(mobile_app_events\): field "partitioning": "nowhere" is not a field/],
    ['an event type routed twice', (e) => (e[1]!['event_types'] = ['view', 'booking']), /field "event_types": "booking" is already routed by gateway_bookings/],
    ['two sources on one bronze table', (e) => (e[3]!['target_table'] = 'bronze.app_events'), /field "target_table": bronze.app_events is already the bronze table of mobile_app_events/],
    ['an unknown silver table', (e) => (e[0]!['silver_table'] = 'silver.nothing'), /sources\[0\] \(gateway_bookings\): field "silver_table"/],
    ['a catalogue promotion of records that are not tour states', (e) => (e[4]!['silver_table'] = 'silver.tours'), /sources\[4\] \(oltp_cdc\): field "silver_table": .* lacks tourId, updatedAt, deleted/],
    ['a missing field', (e) => delete e[4]!['source_name'], /sources\[4\] \(oltp_cdc\): field "source_name" must have required property/],
  ];
  for (const [name, edit, message] of cases) {
    it(name, async () => {
      const file = registryWith(dir, [], edit);
      await expect(loadSourceRegistry(file)).rejects.toThrow(message);
    });
  }

  it('a gateway does not start on it', async () => {
    const file = registryWith(dir, [], (e) => (e[0]!['kafka_topic'] = 'bookings!'));
    await expect(startTestGateway({ env: { SOURCES_FILE: file } })).rejects.toThrow(/field "kafka_topic"/);
  });
});
