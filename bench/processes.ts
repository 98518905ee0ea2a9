import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';

/** Which core each side runs on: servers on one, the load generator on the other. */
export type Role = 'server' | 'load';

const pinning = (() => {
  const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  return { enabled: hasTaskset && availableParallelism() >= 2 };
})();

/** True when children are pinned with `taskset` (servers on core 0, load on core 1). */
export const PINNED = pinning.enabled;

/**
 * Spawns `node <script>` (the Node running this file, so type stripping works) pinned to its
 * role's core. `taskset` execs node in place, so `child.pid` is node's own pid.
 */
export function spawnNode(
  script: string,
  options: { role: Role; env?: Record<string, string>; stdin?: 'pipe' | 'ignore' },
): ChildProcess {
  const node = [process.execPath, script];
  const [command, ...args] = PINNED ? ['taskset', '-c', options.role === 'server' ? '0' : '1', ...node] : node;
  const child = spawn(command!, args, {
    // Servers run as the image runs them (the Dockerfile sets NODE_ENV=production; graphql-js, for
    // one, skips its development-mode checks then), baselines and gateway alike.
    env: { ...process.env, ...(options.role === 'server' ? { NODE_ENV: 'production' } : {}), ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

const live = new Set<ChildProcess>();

/** Moves a running process, every thread of it, to `role`'s core (no-op when not pinning). */
export function repin(pid: number, role: Role): void {
  if (!PINNED) return;
  const result = spawnSync('taskset', ['-a', '-p', '-c', role === 'server' ? '0' : '1', String(pid)], { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`taskset could not move process ${pid} to the ${role} core`);
}

/** SIGKILLs every child still running (the runner is being interrupted). */
export function killChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** A child that printed its ready line: the JSON object `{ "benchReady": true, … }`. */
export interface ReadyChild<T> {
  child: ChildProcess;
  ready: T;
  /** Other output lines (logs, warnings), kept for the report. */
  output: string[];
}

/**
 * Resolves with the first stdout line that parses as `{ benchReady: true }` (or starts with
 * `marker`); rejects with the child's output when it exits first or stays silent past `timeoutMs`.
 */
export function awaitReady<T>(child: ChildProcess, timeoutMs: number, marker = '{"benchReady"'): Promise<ReadyChild<T>> {
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${why}\n${output.slice(-20).join('\n')}`));
    };
    const timer = setTimeout(() => {
      fail(`no ready line within ${timeoutMs} ms`);
      child.kill('SIGKILL');
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!settled && line.startsWith(marker)) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, ready: JSON.parse(line) as T, output });
        return;
      }
      keep(output, line);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => keep(output, line));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
    child.once('error', (error) => fail(`failed to spawn: ${error.message}`));
  });
}

function keep(output: string[], line: string): void {
  // Bounded: a server that logs every request must not grow the runner's memory.
  if (output.length < 200) output.push(line);
}

/** Resident set size of a live process in MiB (from /proc), or undefined where there is no /proc. */
export function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on every common build). */
const CLOCK_TICKS = 100;

/** CPU time (user + system, every thread) of a process so far, from /proc; undefined where unknown. */
export function cpuMsOf(pid: number | string | undefined): number | undefined {
  if (pid === undefined || pid === '') return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Resolves once the child exits by itself; SIGKILLs it after `timeoutMs`. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** This process's soft limit of open files (children inherit it), or undefined where there is no /proc. */
export function openFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
