import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findBinary, freePort } from './peers.ts';

/** A `clickhouse-server` child process on free ports over a temporary directory. */
export interface ClickHouseServer {
  /** `http://127.0.0.1:PORT` (the HTTP interface). */
  readonly url: string;
  /** The running server's PID; undefined while stopped. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM to the PID started; SIGKILL after 1 s). Data is kept for `restart`. */
  stop(): Promise<void>;
  /** Starts it again on the same ports over the same data (stopping it first if running). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. Idempotent. */
  close(): Promise<void>;
}

/** Options of `startClickHouse`. */
export interface ClickHouseServerOptions {
  /** Path of `clickhouse-server`. Default: found on PATH or in the sbin folders. */
  binary?: string;
  /** The server's time zone (`<timezone>`). Default `UTC`. */
  timeZone?: string;
  /** How long start-up may take before it counts as failed. Default 20 s. */
  startTimeoutMs?: number;
}

/**
 * SIGTERM, then SIGKILL after this long. An idle server stops in ~0.2 s, but it waits for open
 * keep-alive connections (an engine not closed yet) for several seconds; MergeTree's written parts
 * survive a SIGKILL, which `restart` relies on no more than on a clean stop.
 */
const STOP_GRACE_MS = 1_000;
/** A server whose freshly picked port got taken meanwhile exits at once: try new ports. */
const START_ATTEMPTS = 3;

/**
 * Starts a throw-away ClickHouse server: a generated minimal config (HTTP and native TCP on free
 * ports, listening on 127.0.0.1 only, data/tmp/user_files/format_schemas in a temp dir, logs to
 * files there, a passwordless `default` user with memory limits so a runaway test query cannot
 * exhaust a shared machine), then waits until `GET /ping` answers `Ok.` (18.16: ~0.3 s).
 */
export async function startClickHouse(options: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
  const binary = options.binary ?? findBinary('clickhouse-server');
  if (!binary) throw new Error('clickhouse-server not found (apt-get install clickhouse-server)');
  const dir = mkdtempSync(path.join(tmpdir(), 'nexus-clickhouse-'));
  const configFile = path.join(dir, 'config.xml');
  writeFileSync(path.join(dir, 'users.xml'), USERS_XML);

  let child: ChildProcess | undefined;
  let ports = { http: 0, tcp: 0 };
  let closed = false;
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  async function launch(): Promise<void> {
    writeFileSync(configFile, configXml(dir, ports.http, ports.tcp, options.timeZone ?? 'UTC'));
    const started = spawn(binary!, [`--config-file=${configFile}`], { cwd: dir, stdio: 'ignore' });
    child = started;
    const exited = new Promise<never>((_, reject) => {
      started.once('exit', (code, signal) => reject(new Error(`clickhouse-server exited during start-up (${signal ?? `code ${code}`}): ${errorLogTail(dir)}`)));
      started.once('error', reject);
    });
    exited.catch(() => undefined);
    try {
      await Promise.race([waitForPing(ports.http, options.startTimeoutMs ?? 20_000), exited]);
    } catch (error) {
      await stopChild();
      throw error;
    }
  }

  async function stopChild(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  for (let attempt = 1; ; attempt += 1) {
    ports = { http: await freePort(), tcp: await freePort() };
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= START_ATTEMPTS) {
        process.removeListener('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const url = `http://127.0.0.1:${ports.http}`;
  return {
    url,
    get pid() {
      return child?.pid;
    },
    stop: stopChild,
    async restart() {
      if (closed) throw new Error('the server was closed');
      await stopChild();
      await launch();
    },
    async close() {
      if (closed) return;
      closed = true;
      await stopChild();
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ping(port))) {
    if (Date.now() > deadline) throw new Error(`clickhouse-server did not answer /ping on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One `GET /ping` on a connection of its own, closed after: a kept-alive one would slow the server's stop. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/ping', agent: false, timeout: 1_000, headers: { connection: 'close' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 && body.startsWith('Ok')));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

function errorLogTail(dir: string): string {
  try {
    const lines = readFileSync(path.join(dir, 'server.err.log'), 'utf8').split('\n').filter((line) => line.includes('<Error>') || line.includes('Exception'));
    return lines.slice(-3).join(' | ') || 'no error logged';
  } catch {
    return 'no error log';
  }
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function configXml(dir: string, httpPort: number, tcpPort: number, timeZone: string): string {
  const at = (name: string): string => xml(`${path.join(dir, name)}/`);
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${xml(path.join(dir, 'server.log'))}</log>
    <errorlog>${xml(path.join(dir, 'server.err.log'))}</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${at('data')}</path>
  <tmp_path>${at('tmp')}</tmp_path>
  <user_files_path>${at('user_files')}</user_files_path>
  <format_schema_path>${at('format_schemas')}</format_schema_path>
  <users_config>${xml(path.join(dir, 'users.xml'))}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>${xml(timeZone)}</timezone>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>1000000000</max_memory_usage>
      <max_memory_usage_for_all_queries>2000000000</max_memory_usage_for_all_queries>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`;
