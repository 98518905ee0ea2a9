import { IncomingMessage, ServerResponse, type Server } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestGateway } from './helpers/gateway.ts';

/**
 * Asks the gateway's HTTP handler for `path` as a probe would, without a connection: once the
 * gateway drains, its listener refuses new connections, and what is checked here is what the
 * handler itself answers while requests already running finish.
 */
function probe(server: Server, path: string): Promise<{ status: number; body: unknown }> {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = path;
  req.headers = {};
  const res = new ServerResponse(req);
  return new Promise((resolve) => {
    let status = 0;
    res.writeHead = ((code: number) => {
      status = code;
      return res;
    }) as typeof res.writeHead;
    res.end = ((body: string) => {
      resolve({ status, body: JSON.parse(body) });
      // Lets the gateway count this request as finished.
      res.emit('close');
      return res;
    }) as typeof res.end;
    server.emit('request', req, res);
  });
}

describe('probes while draining', () => {
  it('fail readiness from the moment the gateway drains, and keep liveness', async () => {
    const gw = await startTestGateway();
    const server = gw.gateway.server;
    expect(await probe(server, '/ready')).toEqual({ status: 200, body: { ready: true, status: 'OK' } });

    // A request still running holds the drain open; the probes are asked meanwhile.
    const analytics = gw.gateway.services.backends.analytics;
    const realQuery = analytics.query;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    (analytics as { query: typeof realQuery }).query = async (...args) => {
      started();
      await released;
      return realQuery(...args);
    };
    const slow = gw.request<{ regionalStats: { region: string }[] }>('{ regionalStats(regions: ["VN"]) { region } }');
    await running;
    const stopping = gw.close();
    try {
      expect(await probe(server, '/ready')).toEqual({ status: 503, body: { ready: false, status: 'OK' } });
      expect(await probe(server, '/live')).toEqual({ status: 200, body: { live: true } });
    } finally {
      release();
    }
    expect((await slow).status).toBe(200);
    await stopping;
  });

  it('keep readiness while a shared backend is down (health says so), so the Service keeps partial and stale answers', async () => {
    const gw = await startTestGateway();
    try {
      const backends = gw.gateway.services.backends as { health: () => Promise<{ role: string; adapter: string; status: string; latencyMs: number; error: string | null }[]> };
      const realHealth = backends.health;
      backends.health = async () => (await realHealth()).map((b) => (b.role === 'lakehouse' ? { ...b, status: 'DOWN', error: 'stopped' } : b));
      expect(await probe(gw.gateway.server, '/ready')).toEqual({ status: 200, body: { ready: true, status: 'DOWN' } });
      expect((await probe(gw.gateway.server, '/health')).status).toBe(503);
      expect(await probe(gw.gateway.server, '/live')).toEqual({ status: 200, body: { live: true } });
    } finally {
      await gw.close();
    }
  });
});
