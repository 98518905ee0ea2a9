import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPublisher } from '../../ingest/publisher.ts';
import { loadSourceRegistry, type SourceRegistry } from '../../ingest/registry.ts';
import { bootstrap } from '../../scripts/bootstrap.ts';
import { decodeCursor } from '../../src/backends/bus/kafka-cursor.ts';
import { createKafkaBus, type KafkaBus } from '../../src/backends/bus/kafka.ts';
import type { PublishAck } from '../../src/backends/bus/port.ts';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { loadConfig } from '../../src/config.ts';
import { statementsSent } from '../helpers/trino-grammar.ts';
import type { FixtureValue } from '../helpers/trino-literals.ts';
import { TEST_ANCHOR } from '../helpers/gateway.ts';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.ts';
import { groupOffsetsAndEnds } from '../helpers/medallion-worker.ts';
import { describeWithPeer } from '../helpers/peers.ts';
import { startTrinoFixture, type FixtureQuery, type TrinoFixture } from '../helpers/trino-fixture.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GROUP_ID = 'medallion-worker-kill';
const EVENTS = 12;

/** A worker process (`npm run medallion`) started by this test, with what it printed. */
interface WorkerProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has exited, however. */
  readonly exited: Promise<void>;
  /** The last lines it printed (stdout and stderr), for failure messages. */
  output(): string;
}

/**
 * The production worker as its own process, killed with SIGKILL between the commit of a bronze
 * landing on Trino/Iceberg and the offset commit to its Kafka consumer group: no shutdown hook
 * runs, the group keeps the dead member until its session times out. The Trino protocol fixture
 * kills it from inside the statement that stores the landing's position in
 * `platform.watermarks` (after the bronze INSERT committed), once that statement ran and before
 * it is answered. A fresh process then lands the batch again (bronze holds it twice), silver
 * keeps each event once, and the group's offsets reach the end of the topics.
 */
describeWithPeer('medallion worker process killed between the landing and the offset commit', 'kcat', 'kcat', () => {
  let lakehouse: DuckDbDatabase;
  let fixture: TrinoFixture;
  let kafka: KafkaMock;
  let admin: Admin;
  let bus: KafkaBus;
  let registry: SourceRegistry;
  const workers: WorkerProcess[] = [];
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nexus-medallion-worker-kill-'));
    dirs.push(dir);
    return dir;
  };

  /** The worker to kill at the landing's watermark, and what it had committed when it died. */
  let victim: WorkerProcess | undefined;
  let bronzeLanded = false;
  let killedAt: { position: string } | undefined;
  let killed!: () => void;
  const killedPromise = new Promise<void>((resolve) => (killed = resolve));

  /** A parameter of a prepared statement, as the fixture parsed it (`{ kind: 'varchar', value }`), when text. */
  const varchar = (param: unknown) => ((param as FixtureValue | undefined)?.kind === 'varchar' ? (param as { value: string }).value : undefined);

  async function onStatement(query: FixtureQuery): Promise<void> {
    if (!victim || killedAt) return;
    const sql = query.sql?.trimStart() ?? '';
    // The landing's rows are committed on Iceberg with the INSERT; the watermark MERGE follows it.
    if (/^INSERT INTO bronze\./i.test(sql)) bronzeLanded = true;
    else if (bronzeLanded && /^MERGE INTO platform\.watermarks\b/i.test(sql) && varchar(query.params[0]) === 'bronze') {
      killedAt = { position: varchar(query.params[2]) ?? '' };
      victim.child.kill('SIGKILL');
      // Dead before the fixture answers: the worker never hears its landing committed.
      await victim.exited;
      killed();
    }
  }

  function startWorker(): WorkerProcess {
    const child = spawn(process.execPath, ['ingest/medallion/worker-main.ts'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TRINO_URL: fixture.url,
        KAFKA_BROKERS: kafka.brokers.join(','),
        DATA_DIR: tempDir(),
        DEMO_ANCHOR: TEST_ANCHOR,
        LOG_LEVEL: 'info',
        MEDALLION_GROUP_ID: GROUP_ID,
        MEDALLION_BATCH_INTERVAL_MS: '20',
        // The mock cluster holds a rebalance open for the session timeout: a dead member delays its successor that long.
        MEDALLION_SESSION_TIMEOUT_MS: '3000',
        MEDALLION_HOUSEKEEPING_INTERVAL_MS: '0',
      },
    });
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const worker: WorkerProcess = { child, exited, output: () => `worker pid ${child.pid} (exit ${child.exitCode ?? child.signalCode ?? 'none yet'}):\n${lines.join('\n')}` };
    workers.push(worker);
    return worker;
  }

  /** Resolves with `promise`, or rejects after `ms` with `what` and the worker's output. */
  async function within<T>(promise: Promise<T>, ms: number, what: string, worker: WorkerProcess): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms\n${worker.output()}`)), ms))),
    ]).finally(() => clearTimeout(timer));
  }

  /** Reads the fixture's DuckDB directly (bounded: a stuck read fails the test, it does not hang it). */
  const read = (sql: string) => lakehouse.query(sql, [], { timeoutMs: 10_000, onTimeout: () => new Error(`read timed out: ${sql}`) });
  const count = async (sql: string) => Number((await read(sql))[0]?.['n'] ?? 0);

  beforeAll(async () => {
    lakehouse = await DuckDbDatabase.open({ file: ':memory:', readConnections: 2 });
    fixture = await startTrinoFixture({ connect: () => lakehouse.dedicatedConnection(), pageSize: 1_000, onStatement });
    kafka = await startKafkaMock();
    admin = new Kafka({ clientId: 'medallion-worker-kill-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    registry = await loadSourceRegistry();
    await bootstrap(loadConfig({ DATA_DIR: tempDir(), LOG_LEVEL: 'silent', DEMO_SCALE: '0.2', DEMO_ANCHOR: TEST_ANCHOR, TRINO_URL: fixture.url }), () => undefined);
    bus = await createKafkaBus({ brokers: kafka.brokers, topics: registry.topics, idempotencyTopic: null, log: () => undefined });
  }, 120_000);
  afterAll(async () => {
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await bus?.close();
    await admin?.disconnect();
    await kafka?.stop();
    await fixture?.close();
    await lakehouse?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('lands the batch again after a SIGKILL between the landing and the offset commit; silver keeps each event once', async () => {
    // Bookings of tours in the catalogue, through the gateway's publisher (validated and enriched as ingestEvents does).
    const publisher = createPublisher({ bus, registry });
    const outcomes = await publisher.ingest(
      Array.from({ length: EVENTS }, (_, i) => ({ eventType: 'booking' as const, userId: `USER-KILL-${i % 3}`, tourId: 'TOUR0005', region: 'VN', amount: 10 + i, currency: 'USD' })),
      Array.from({ length: EVENTS }, () => null),
    );
    const acks: PublishAck[] = outcomes.map((outcome) => {
      if (!outcome.ok) throw new Error(`a booking was refused: ${outcome.rejection.message}`);
      return outcome.ack;
    });
    const ids = acks.map((ack) => `'${ack.eventId}'`).join(', ');
    const bronzeTable = registry.sources.find((source) => source.enabled && source.topic === acks[0]!.topic)!.bronzeTable;

    // First process: killed once its landing committed, before its offsets.
    const first = (victim = startWorker());
    await within(killedPromise, 45_000, 'the worker landed no batch', first);
    expect(first.child.signalCode).toBe('SIGKILL');
    const landed = await read(
      `SELECT log_partition AS p, min(CAST(log_offset AS BIGINT)) AS first FROM ${bronzeTable} WHERE event_id IN (${ids}) GROUP BY log_partition`,
    );
    expect(landed.length, first.output()).toBeGreaterThan(0);
    const position = decodeCursor(killedAt!.position);
    expect(position, killedAt!.position).toBeDefined();
    // The stored position is the batch's: it names a record at or past the first landed in each partition.
    for (const row of landed) expect(position!.positions.get(acks[0]!.topic)?.get(Number(row['p'])) ?? -1n).toBeGreaterThanOrEqual(BigInt(Number(row['first'])));
    // The group's offsets did not move past the batch: each partition at most at the batch's first record.
    const offsets = await admin.fetchOffsets({ groupId: GROUP_ID, topics: [acks[0]!.topic] });
    for (const row of landed) {
      const committed = Number(offsets[0]!.partitions.find((p) => p.partition === Number(row['p']))?.offset ?? '-1');
      expect(committed, `partition ${String(row['p'])}: ${JSON.stringify(offsets)}`).toBeLessThanOrEqual(Number(row['first']));
    }
    expect(await count(`SELECT count(*) AS n FROM silver.events WHERE event_id IN (${ids})`)).toBe(0);

    // A fresh process takes the group over once the dead member's session expired, and lands the batch again.
    const second = startWorker();
    const deadline = Date.now() + 45_000;
    for (;;) {
      const promoted = await count(`SELECT count(DISTINCT event_id) AS n FROM silver.events WHERE event_id IN (${ids})`);
      if (promoted === EVENTS) break;
      if (second.child.exitCode !== null || second.child.signalCode !== null) throw new Error(`the restarted worker exited\n${second.output()}`);
      if (Date.now() > deadline) throw new Error(`silver holds ${promoted} of the ${EVENTS} events after 45 s\n${second.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const silver = await read(`SELECT event_id, count(*) AS n FROM silver.events WHERE event_id IN (${ids}) GROUP BY event_id`);
    expect(silver.map((row) => Number(row['n']))).toEqual(acks.map(() => 1));
    const bronze = await read(`SELECT event_id, count(*) AS n FROM ${bronzeTable} WHERE event_id IN (${ids}) GROUP BY event_id`);
    // Landed by both processes: what the first landed is in bronze twice.
    expect(bronze.filter((row) => Number(row['n']) === 2).length, second.output()).toBeGreaterThan(0);
    expect(bronze.every((row) => Number(row['n']) <= 2)).toBe(true);
    // The silver pass follows the offset commit of its landing: the offsets are at the topics' end now.
    const { committed, ends } = await groupOffsetsAndEnds(admin, GROUP_ID);
    expect(committed, second.output()).toEqual(ends);
    // Both processes, the replayed landing included, sent Trino only Trino SQL.
    expect(statementsSent(fixture).filter((statement) => statement.errors.length > 0)).toEqual([]);
  }, 120_000);
});
