import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { findBinary, freePort, waitForPort } from './peers.ts';

/** A `redis-server` child process owned by one test file. */
export interface RedisPeer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
  /** Stops it and starts a fresh, empty one on the same port: an outage and a recovery. */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers, like an overloaded server. */
  pause(): void;
  /** Undoes `pause` (SIGCONT). */
  resume(): void;
}

/** Options of `startRedis`. */
export interface StartRedisOptions {
  /** The `redis-server` executable. Default: found on PATH. */
  binary?: string;
}

const STOP_GRACE_MS = 3_000;

/**
 * Starts a throwaway Redis on a free loopback port, without persistence, and resolves once it
 * accepts connections. Stop it by `stop()`; it is also killed if the test process exits first.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisPeer> {
  const binary = options.binary ?? findBinary('redis-server');
  if (!binary) throw new Error('redis-server not found: apt-get install redis-server');
  const port = await freePort();
  let child = await launch(binary, port);

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => terminate(child),
    async restart() {
      await terminate(child);
      child = await launch(binary, port);
    },
    pause: () => signal(child, 'SIGSTOP'),
    resume: () => signal(child, 'SIGCONT'),
  };
}

async function launch(binary: string, port: number): Promise<ChildProcess> {
  // `--save ""` and `--appendonly no`: nothing touches the disk; `--dir /tmp` in case a future
  // default writes anyway, so no dump file lands in the working tree.
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    if (output.length < 4_000) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));

  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signalName) =>
      reject(new Error(`redis-server exited during start-up (${signalName ?? `code ${code}`}):\n${output}`)),
    );
    child.once('error', reject);
  });
  exited.catch(() => undefined); // only observed while starting
  await Promise.race([waitForPort(port, 10_000), exited]);
  // Output after start-up is not needed; stop buffering it.
  child.stdout?.off('data', collect).resume();
  child.stderr?.off('data', collect).resume();
  return child;
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.exitCode === null && child.signalCode === null) child.kill(name);
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  child.kill('SIGCONT'); // a paused server only acts on SIGTERM once it runs again
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
  });
  if (await Promise.race([exited.then(() => false), timedOut])) {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}
