import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { describe, it } from 'vitest';

/**
 * Helpers for suites that run against a real service peer (Redis, ClickHouse, the Kafka mock
 * cluster). A missing binary skips the suite with a one-line reason; under `CI=true` it fails,
 * because CI installs every peer and a skipped service suite would hide a broken adapter.
 */

/** Absolute path of an executable on PATH (or in the usual sbin folders), if present. */
export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const candidate = `${dir}/${name}`;
    if (dir && existsSync(candidate)) return candidate;
  }
  const which = spawnSync('which', [name], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

/**
 * `describe` for a suite that needs `binary`: runs it when present; otherwise skips it with a
 * reason, or under CI=true reports one failing test naming the missing package.
 */
export function describeWithPeer(title: string, binary: string, debianPackage: string, body: (path: string) => void): void {
  const path = findBinary(binary);
  if (path) {
    describe(title, () => body(path));
    return;
  }
  if (process.env['CI'] === 'true') {
    describe(title, () => {
      it(`needs ${binary} (Debian package ${debianPackage}), which CI must install`, () => {
        throw new Error(`${binary} not found: .ci/run must apt-get install ${debianPackage}`);
      });
    });
    return;
  }
  describe.skip(`${title} (skipped: ${binary} not found; apt-get install ${debianPackage})`, () => body(''));
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves once something accepts TCP connections on `port` (polling), or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
