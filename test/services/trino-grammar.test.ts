import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../scripts/bootstrap.ts';
import { compileQuestion } from '../../src/analytics/compile.ts';
import { analyticsModel } from '../../src/analytics/default-model.ts';
import { questionOf, type AnalyticsQueryInput } from '../../src/analytics/question.ts';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { loadConfig } from '../../src/config.ts';
import { createTrinoEngine } from '../../src/backends/trino/engine.ts';
import type { Principal } from '../../src/security/principal.ts';
import { CatalogueReplica } from '../../src/catalogue/replica.ts';
import { startTestGateway, TEST_ANCHOR, type TestGateway } from '../helpers/gateway.ts';
import { startTrinoFixture, type TrinoFixture } from '../helpers/trino-fixture.ts';
import { statementsSent, trinoGrammar } from '../helpers/trino-grammar.ts';

/**
 * The Trino protocol fixture answers from DuckDB and so accepts DuckDB's syntax (`x::VARCHAR`,
 * `LIMIT n OFFSET m`, ...): a statement it runs is not proof that Trino would. Every statement the
 * bootstrap, a gateway's reads and a full medallion pass on Trino (landing, promotion with
 * quarantine, catalogue updates, gold, metadata, dead letters, housekeeping) send to Trino is therefore parsed by an independent parser
 * generated from Trino's own grammar (dt-sql-parser's `TrinoSQL`, from `SqlBase.g4`): the
 * statements as sent (`EXECUTE … USING <literals>`) and the prepared SQL riding in
 * `X-Trino-Prepared-Statement`, `?` intact.
 */

describe('every statement sent to Trino is Trino SQL', () => {
  let target: DuckDbDatabase;
  let fixture: TrinoFixture;
  let dataDir: string;
  let gateway: TestGateway | undefined;

  beforeAll(async () => {
    target = await DuckDbDatabase.open({ file: ':memory:', readConnections: 2 });
    fixture = await startTrinoFixture({ connect: () => target.dedicatedConnection(), pageSize: 500 });
    dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-trino-grammar-'));
    await bootstrap(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', TRINO_URL: fixture.url, DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR }), () => undefined);
    // The medallion in the gateway, passes on demand only (so the test decides when they run).
    // Catalogue reads in SQL too (the in-process replica would answer them; its own load is parsed below).
    gateway = await startTestGateway({
      env: { TRINO_URL: fixture.url, RESPONSE_CACHE: 'false', MEDALLION: 'in-process', MEDALLION_DEBOUNCE_MS: '600000', MEDALLION_INTERVAL_MS: '0', CATALOGUE_REPLICA: 'false' },
    });
  }, 180_000);
  afterAll(async () => {
    await gateway?.close();
    await fixture?.close();
    await target?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('the parser tells Trino SQL from DuckDB SQL (so a pass below means something)', () => {
    expect(trinoGrammar.validate('SELECT CAST(price AS VARCHAR) FROM silver.tours WHERE region = ? ORDER BY tour_id OFFSET 20 LIMIT 10')).toEqual([]);
    expect(trinoGrammar.validate('SELECT price::VARCHAR FROM silver.tours')).not.toEqual([]);
    expect(trinoGrammar.validate('SELECT * FROM silver.tours LIMIT 10 OFFSET 20')).not.toEqual([]);
  });

  it('parses the bootstrap statements and those of the reads every resolver sends', async () => {
    const reads = [
      'query Tours { tours(first: 25, filter: { regions: ["VN", "JP"], minPrice: 10, categories: ["adventure", "culture"], tags: ["family"] }) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name destination { name } } } } }',
      'query OneTour { tour(id: "TOUR0042") { id name price tags destination { id name country coordinates { latitude longitude } } } }',
      'query Destinations { destinations(first: 50) { totalCount edges { node { id name countryCode rating } } } }',
      'query OneUser { user(id: "USER000001") { id profile { totalBookings segment } bookings(first: 5) { edges { node { id eventType amount } } } recommendations(first: 5) { tour { id } score reason } } }',
      'query Events { events(first: 10, filter: { regions: ["VN"], eventTypes: [BOOKING] }) { edges { node { id eventType occurredAt } } } }',
      'query Recommendations { recommendations(userId: "USER000321", first: 3) { tour { id } score } }',
      'query Platform { platform { tables { name layer rowCount snapshots { id committedAt } } dataSources { id name executions(first: 2) { runId recordsIn } } pipelineRuns(first: 5) { id } lineage { from to } quarantine { eventId } dataQuality(table: "silver.events") { overallScore } } }',
    ];
    for (const query of reads) {
      const answer = await gateway!.request(query);
      // A read that failed proves nothing about its SQL: each must have run.
      expect(answer.body.errors, query).toBeUndefined();
    }
    // Time travel is sent as Trino's `FOR TIMESTAMP AS OF`; this fixture keeps no snapshots, so it
    // answers with an error, but the statement has been sent and is parsed below.
    await gateway!.request('query ToursAsOf { tours(first: 3, asOf: "2026-10-30T00:00:00Z") { edges { node { id } } } }');
    const first = await gateway!.request<{ tours: { pageInfo: { endCursor: string } } }>('query ToursPage1 { tours(first: 5) { pageInfo { endCursor } } }');
    const next = await gateway!.request('query ToursPage2($after: String) { tours(first: 5, after: $after) { edges { cursor } } }', { after: first.body.data?.tours.pageInfo.endCursor });
    expect(next.body.errors).toBeUndefined();
    // The catalogue replica's load, as a gateway with the replica on sends it.
    const replica = new CatalogueReplica({ lakehouse: gateway!.gateway.services.backends.lakehouse, maxRows: 100_000 });
    await replica.start();
    expect(replica.state).toBe('serving');
    const statements = statementsSent(fixture);
    expect(statements.some((s) => /FROM silver\.destinations ORDER BY destination_id LIMIT/.test(s.sql))).toBe(true);
    expect(statements.length).toBeGreaterThan(20);
    expect(statements.some((s) => s.sql.startsWith('CREATE TABLE'))).toBe(true);
    expect(statements.some((s) => s.sql.startsWith('INSERT INTO'))).toBe(true);
    expect(statements.some((s) => /FROM silver\.tours/.test(s.sql))).toBe(true);
    expect(statements.some((s) => s.sql.includes('FOR TIMESTAMP AS OF'))).toBe(true);
    expect(statements.some((s) => s.sql.startsWith('CREATE OR REPLACE VIEW analytics.users'))).toBe(true);
    expect(statements.filter((s) => s.errors.length > 0)).toEqual([]);
  }, 120_000);

  it('parses the analytics questions compiled for Trino, joins to tours and users included', () => {
    const analyst: Principal = { kind: 'open', id: 'grammar', role: 'analyst', userId: null };
    const app: Principal = { kind: 'apiKey', id: 'app', role: 'app', userId: 'USER000001' };
    const questions: [AnalyticsQueryInput, Principal][] = [
      [{ measures: ['REVENUE', 'AVG_AMOUNT', 'CUSTOMERS'], dimensions: ['USER_SEGMENT'], orderBy: [{ member: 'AVG_AMOUNT', direction: 'DESC' }] }, analyst],
      [{ measures: ['BOOKINGS'], dimensions: ['USER_HOME_REGION', 'CATEGORY'], timeDimension: { dimension: 'OCCURRED_AT', granularity: 'MONTH', from: new Date('2026-01-01T00:00:00Z') } }, analyst],
      [{ measures: ['EVENTS'], dimensions: ['DESTINATION_COUNTRY'], filters: [{ member: 'USER_SEGMENT', in: ['VIP'] }, { member: 'USER_HOME_REGION', set: false }] }, analyst],
      [{ measures: ['EVENTS', 'POPULARITY'], dimensions: ['USER_SEGMENT'] }, app],
    ];
    for (const [input, principal] of questions) {
      const { sql } = compileQuestion(analyticsModel, questionOf(analyticsModel, input, principal), 'trino');
      expect(trinoGrammar.validate(sql), sql).toEqual([]);
    }
  });

  it('parses the statements of a full medallion pass on Trino, a malformed record and housekeeping included', async () => {
    const ingested = await gateway!.request<{ ingestEvents: { accepted: number } }>(
      `mutation { ingestEvents(inputs: [
         { eventType: BOOKING, userId: "U-GRAMMAR", tourId: "TOUR0007", amount: 120, currency: "USD" },
         { eventType: VIEW, userId: "U-GRAMMAR", tourId: "T-NOT-IN-CATALOGUE" }
       ]) { accepted } }`,
    );
    expect(ingested.body.data?.ingestEvents.accepted).toBe(2);
    // Catalogue records: a changed tour and a deleted one (silver.tours' MERGE takes both paths), and one quarantined.
    const known = await gateway!.request<{ tour: { region: string; category: string; destination: { destinationId: string } } }>(
      '{ tour(id: "TOUR0007") { region category destination { destinationId } } }',
    );
    const { region, category, destination } = known.body.data!.tour;
    const tourState = { eventType: 'tour_update', name: 'Grammar tour', destinationId: destination.destinationId, region, price: 10, currency: 'USD', rating: null, durationDays: 1, category, tags: ['grammar'], description: null, updatedAt: new Date(Date.now() - 60_000).toISOString() };
    const catalogue = await gateway!.request<{ ingestRecords: { accepted: number } }>(
      'mutation ($records: [JSON!]!) { ingestRecords(source: "tour_catalogue", records: $records) { accepted } }',
      {
        records: [
          { ...tourState, tourId: 'TOUR0007', deleted: false },
          { ...tourState, tourId: 'TOUR0008', deleted: true },
          { ...tourState, tourId: 'T-GRAMMAR', destinationId: 'DEST-NOWHERE', deleted: false },
        ],
      },
    );
    expect(catalogue.body.data?.ingestRecords.accepted).toBe(3);
    // A record no contract would let through, as a misbehaving producer could put on the topic.
    await gateway!.gateway.services.backends.bus.publish([{ topic: 'topic_booking_events', key: 'U-GRAMMAR', eventId: 'E-MALFORMED', value: '{"eventId": "E-MALFORMED", ', idempotencyKey: null }]);
    const runs = await gateway!.request<{ runPipeline: { layer: string; status: string; recordsIn: number; recordsOut: number; recordsRejected: number }[] }>(
      'mutation { runPipeline { layer status recordsIn recordsOut recordsRejected } }',
    );
    expect(runs.body.errors).toBeUndefined();
    expect(runs.body.data!.runPipeline.find((r) => r.layer === 'silver')).toMatchObject({ status: 'SUCCESS', recordsIn: 6, recordsOut: 3, recordsRejected: 3 });
    const quarantine = await gateway!.request<{ platform: { quarantine: { rule: string }[] } }>('{ platform { quarantine(first: 10) { rule } } }');
    expect(quarantine.body.data!.platform.quarantine.map((q) => q.rule).sort()).toEqual(['known_destination', 'known_tour', 'malformed_record']);
    expect(await gateway!.gateway.services.pipeline!.housekeep()).toBeGreaterThan(0);

    const statements = statementsSent(fixture);
    for (const kind of [/^MERGE INTO silver\.events/, /^MERGE INTO silver\.tours/, /^MERGE INTO silver\.quarantine/, /^MERGE INTO platform\.watermarks/, /^DELETE FROM gold\./, /^UPDATE silver\.quarantine/, /EXECUTE optimize\(/, /EXECUTE expire_snapshots\(/, /EXECUTE remove_orphan_files\(/, /\$snapshots"/]) {
      expect(statements.some((s) => kind.test(s.sql.replace(/^\s+/, ''))), String(kind)).toBe(true);
    }
    expect(statements.filter((s) => s.errors.length > 0)).toEqual([]);
  }, 120_000);

  it('refuses what the Iceberg connector refuses: an unknown table procedure, a retention under its 7-day minimum', async () => {
    const trino = createTrinoEngine({ url: fixture.url, timeoutMs: 10_000 });
    try {
      await expect(trino.query("ALTER TABLE silver.events EXECUTE expire_snapshots(retention_threshold => '1d')")).rejects.toThrow(/INVALID_PROCEDURE_ARGUMENT.*shorter than the minimum retention/);
      await expect(trino.query('ALTER TABLE silver.events EXECUTE vacuum')).rejects.toThrow(/PROCEDURE_NOT_FOUND/);
      await expect(trino.query("ALTER TABLE silver.events EXECUTE remove_orphan_files(retention_threshold => '7d')")).resolves.toEqual([]);
    } finally {
      await trino.close();
    }
  });
});
