import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ANCHOR } from './helpers/gateway.ts';

const root = path.join(import.meta.dirname, '..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'nexus-lifecycle-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  url: string;
  logs: string[];
}

/** Starts `src/main.ts` as `npm start` does and waits for its ready line. */
function startProcess(env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DEMO_SCALE: '0.1', DEMO_ANCHOR: TEST_ANCHOR, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        logs.push(line);
        const entry = JSON.parse(line) as { msg: string; url?: string };
        if (entry.msg.startsWith('Nexus Gateway ready')) resolve({ child, url: entry.url!, logs });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ready:\n${logs.join('\n')}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function post<T>(url: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return ((await response.json()) as { data: T }).data;
}

describe('process lifecycle', () => {
  it('drains on SIGTERM, keeps every acknowledged event, and reuses its data on the next start', async () => {
    const first = await startProcess();
    expect(first.logs.some((l) => l.includes('demo data built'))).toBe(true);
    const receipts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post<{ ingestEvent: { eventId: string } }>(first.url, 'mutation ($i: EventInput!) { ingestEvent(input: $i) { eventId } }', {
          i: { eventType: 'VIEW', userId: `USER-LC-${i}`, tourId: 'TOUR0001' },
        }),
      ),
    );
    const stopping = exited(first.child);
    first.child.kill('SIGTERM');
    expect(await stopping).toBe(0);
    expect(first.logs.some((l) => l.includes('"stopped"'))).toBe(true);

    const second = await startProcess();
    try {
      expect(second.logs.some((l) => l.includes('demo data reused'))).toBe(true);
      const data = await post<{ platform: { tables: { name: string; rowCount: number }[] }; events: { edges: { node: { eventId: string } }[] } }>(
        second.url,
        '{ platform { tables { name rowCount } } events(first: 50, filter: { eventTypes: [VIEW], tourIds: ["TOUR0001"], from: "2026-11-02T00:00:00Z" }) { edges { node { eventId } } } }',
      );
      expect(data.platform.tables.find((t) => t.name === 'bronze.event_log')?.rowCount).toBe(20);
      const stored = new Set(data.events.edges.map((e) => e.node.eventId));
      for (const r of receipts) expect(stored.has(r.ingestEvent.eventId)).toBe(true);
    } finally {
      const done = exited(second.child);
      second.child.kill('SIGINT');
      expect(await done).toBe(0);
    }
  }, 90_000);

  it('refuses to start with one message naming every bad variable', async () => {
    const child = spawn(process.execPath, ['src/main.ts'], {
      cwd: root,
      env: { ...process.env, PORT: 'abc', MAX_PAGE_SIZE: '-1', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await exited(child)).toBe(2);
    expect(stderr).toContain('PORT');
  });
});

describe('draining', () => {
  it('finishes a request already running when asked to stop, and refuses new connections', async () => {
    const { startTestGateway } = await import('./helpers/gateway.ts');
    const gw = await startTestGateway();
    const analytics = gw.gateway.services.backends.analytics;
    const realQuery = analytics.query;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    (analytics as { query: typeof realQuery }).query = async (...args) => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 300));
      return realQuery(...args);
    };
    const slow = gw.request<{ regionalStats: { region: string }[] }>('{ regionalStats(regions: ["VN"]) { region } }');
    await running;
    const stopping = gw.close();
    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.body.data?.regionalStats).toEqual([{ region: 'VN' }]);
    await stopping;
    await expect(fetch(`${gw.url}/health`)).rejects.toThrow();
  });
});
