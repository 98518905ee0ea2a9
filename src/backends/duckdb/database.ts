import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBValue } from '@duckdb/node-api';
import { duckDbSize } from '../../memory-budget.ts';
import type { SqlRow, SqlValue } from '../sql/port.ts';

/** Options of the embedded DuckDB database. */
export interface DuckDbOptions {
  /** Database file; `:memory:` for a throw-away database. */
  file: string;
  /** Connections kept for reads (queries run in parallel up to this many). Default 4. */
  readConnections?: number;
  /** DuckDB worker threads. Default: the cores this process may run on (`os.availableParallelism()`). */
  threads?: number;
  /**
   * DuckDB's `memory_limit` in bytes (its buffer pool; operators past it spill to `tempDirectory`).
   * Default: DuckDB's own, 80% of the machine, whatever the container allows.
   */
  memoryLimitBytes?: number;
  /** Memory DuckDB's allocator may keep after a task before giving it back to the system, in bytes. Default: DuckDB's (128 MiB). */
  allocatorFlushBytes?: number;
  /** Where operators larger than the memory limit spill. Default: DuckDB's (`<file>.tmp`). */
  tempDirectory?: string;
}

/** Prepared statements kept per read connection (the gateway issues a few dozen distinct shapes). */
const PREPARED_PER_CONNECTION = 256;

/**
 * One embedded DuckDB database file shared by the lakehouse, analytics and bus roles. Reads use
 * a small pool of connections; `withWriter` serialises writes on one dedicated connection so
 * multi-statement writes see one consistent transaction.
 */
export class DuckDbDatabase {
  readonly file: string;
  private readonly instance: DuckDBInstance;
  private readonly idle: DuckDBConnection[];
  /** Per connection: SQL text → prepared statement, least recently used first. */
  private readonly prepared = new Map<DuckDBConnection, Map<string, DuckDBPreparedStatement>>();
  private readonly waiting: { resolve: (connection: DuckDBConnection) => void; reject: (error: Error) => void }[] = [];
  private readonly writer: DuckDBConnection;
  private writerQueue: Promise<unknown> = Promise.resolve();
  private readonly dedicated: DuckDBConnection[] = [];
  /** Read connections with a statement still running (possibly abandoned by its caller). */
  private readonly busy = new Map<DuckDBConnection, Promise<void>>();
  private closed = false;

  private constructor(file: string, instance: DuckDBInstance, readers: DuckDBConnection[], writer: DuckDBConnection) {
    this.file = file;
    this.instance = instance;
    this.idle = readers;
    this.writer = writer;
  }

  /** Opens (creating if needed) the database file. */
  static async open(options: DuckDbOptions): Promise<DuckDbDatabase> {
    if (options.file !== ':memory:') await mkdir(path.dirname(options.file), { recursive: true });
    // DuckDB sizes its pool by the machine's cores, ignoring the CPU set the process may run on.
    const threads = options.threads ?? availableParallelism();
    // Statistics propagation folds a constant filter the table's statistics exclude (e.g. any
    // `x = 'k'` on a table that was empty) into an empty result at prepare time, and a prepared
    // statement keeps that plan after rows arrive: the statement cache would answer stale empty
    // results. Off, every cached statement stays correct as data changes.
    const settings: Record<string, string> = { threads: String(threads), disabled_optimizers: 'statistics_propagation' };
    if (options.memoryLimitBytes !== undefined) settings['memory_limit'] = duckDbSize(options.memoryLimitBytes);
    if (options.allocatorFlushBytes !== undefined) {
      settings['allocator_flush_threshold'] = duckDbSize(options.allocatorFlushBytes);
      // Without the background thread, cached memory is only given back when a later task ends:
      // an idle gateway would keep its peak.
      settings['allocator_background_threads'] = 'true';
    }
    if (options.tempDirectory !== undefined) settings['temp_directory'] = options.tempDirectory;
    const instance = await DuckDBInstance.create(options.file, settings);
    const readers: DuckDBConnection[] = [];
    for (let i = 0; i < (options.readConnections ?? 4); i += 1) readers.push(await instance.connect());
    const writer = await instance.connect();
    return new DuckDbDatabase(options.file, instance, readers, writer);
  }

  /**
   * Runs one read statement on a pooled connection. `timeoutMs` interrupts the statement;
   * `signal` too. Rejects with the engine's error (callers wrap it).
   */
  async query<R extends SqlRow>(
    sql: string,
    params: readonly SqlValue[],
    options: { timeoutMs: number; signal?: AbortSignal; onTimeout: () => Error },
  ): Promise<R[]> {
    const connection = await this.acquire();
    let timer: NodeJS.Timeout | undefined;
    let abortListener: (() => void) | undefined;
    let cancelled = false;
    const cancel = () => {
      cancelled = true;
      connection.interrupt();
    };
    // Parsing and planning is a large share of a small query: reuse prepared statements. An
    // interrupt that lands while the statement is being prepared is lost, so a cancelled query
    // is not started at all.
    const run = this.statement(connection, sql).then((statement) => {
      if (cancelled) throw new Error('cancelled before it started');
      statement.bind(toDuckValues(params));
      return statement.runAndReadAll();
    });
    // The connection goes back to the pool only once its statement has really ended, even when
    // the caller already gave up on it.
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.busy.set(connection, settled);
    try {
      const guards = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          cancel();
          reject(options.onTimeout());
        }, options.timeoutMs);
        if (options.signal) {
          abortListener = () => {
            cancel();
            reject(options.signal?.reason ?? new Error('aborted'));
          };
          if (options.signal.aborted) abortListener();
          else options.signal.addEventListener('abort', abortListener, { once: true });
        }
      });
      const reader = await Promise.race([run, guards]);
      return reader.getRowObjectsJS().map(normaliseRow) as R[];
    } finally {
      clearTimeout(timer);
      if (abortListener) options.signal?.removeEventListener('abort', abortListener);
      void settled.then(() => {
        this.busy.delete(connection);
        this.release(connection);
      });
    }
  }

  /** Runs `work` alone on the writer connection (writes are serialised, in call order). */
  withWriter<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const next = this.writerQueue.then(() => {
      // A connection closed under a running statement crashes the process: refuse instead.
      if (this.closed) throw new Error('database is closed');
      return work(this.writer);
    });
    this.writerQueue = next.catch(() => undefined);
    return next;
  }

  /**
   * A connection of its own for a writer that must not queue behind others (the event log's
   * appends next to the medallion's transactions; DuckDB lets connections write concurrently).
   * Closed with the database.
   */
  async dedicatedConnection(): Promise<DuckDBConnection> {
    const connection = await this.instance.connect();
    this.dedicated.push(connection);
    return connection;
  }

  /** Runs a script of statements on the writer (DDL, bulk loads). */
  async exec(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    await this.withWriter((c) => c.run(sql, toDuckValues(params)));
  }

  /** Flushes the WAL into the database file and closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Statements not started yet are refused; running ones are interrupted and awaited, because
    // closing a connection under a running statement crashes the process.
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('database is closing'));
    const deadline = Date.now() + 5_000;
    while (this.busy.size > 0) {
      if (Date.now() > deadline) for (const connection of this.busy.keys()) connection.interrupt();
      await Promise.race([Promise.all(this.busy.values()), new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    await this.writerQueue;
    try {
      if (this.file !== ':memory:') await this.writer.run('CHECKPOINT');
    } finally {
      this.prepared.clear();
      for (const connection of [...this.idle, ...this.dedicated, this.writer]) connection.closeSync();
      this.instance.closeSync();
    }
  }

  private async statement(connection: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
    let cache = this.prepared.get(connection);
    if (!cache) {
      cache = new Map();
      this.prepared.set(connection, cache);
    }
    const cached = cache.get(sql);
    if (cached) {
      cache.delete(sql);
      cache.set(sql, cached);
      return cached;
    }
    const statement = await connection.prepare(sql);
    cache.set(sql, statement);
    if (cache.size > PREPARED_PER_CONNECTION) {
      const oldest = cache.keys().next().value;
      // Dropped, not destroyed: the connection tracks every statement it prepared and destroys
      // the live ones when it closes (the garbage collector frees the rest); destroying it here
      // too would free it twice and abort the process.
      if (oldest !== undefined) cache.delete(oldest);
    }
    return statement;
  }

  private acquire(): Promise<DuckDBConnection> {
    if (this.closed) return Promise.reject(new Error('database is closed'));
    const connection = this.idle.pop();
    if (connection) return Promise.resolve(connection);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(connection: DuckDBConnection): void {
    const waiter = this.closed ? undefined : this.waiting.shift();
    if (waiter) waiter.resolve(connection);
    else this.idle.push(connection);
  }
}

export function toDuckValues(params: readonly SqlValue[]): DuckDBValue[] {
  return params.map((value) => {
    if (value instanceof Date) return value.toISOString();
    return value as DuckDBValue;
  });
}

/** BIGINT/HUGEINT arrive as `bigint`: numbers when exact, decimal strings otherwise. */
export function normaliseRow(row: Record<string, unknown>): SqlRow {
  for (const key in row) {
    const value = row[key];
    if (typeof value === 'bigint') {
      row[key] = value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
    }
  }
  return row;
}
