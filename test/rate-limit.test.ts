import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { hashApiKey } from '../src/security/hash-key.ts';
import { parseRateBudget } from '../src/security/rate-limit-budget.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { describeWithPeer } from './helpers/peers.ts';
import { startRedis, type RedisPeer } from './helpers/redis-server.ts';

const APP_KEY = 'rate-limit-test-app-key-0001';
const OTHER_APP_KEY = 'rate-limit-test-app-key-0002';
const ADMIN_KEY = 'rate-limit-test-admin-key-01';

/**
 * Authentication on, so each caller has a principal: anonymous callers (public, counted per client
 * address) on a one-minute window, so counts within a test never straddle a window; app keys on a
 * one-second window, to watch the budget refill; admins unlimited.
 */
const ENV = {
  AUTH_MODE: 'enforce',
  API_KEYS: JSON.stringify([
    { id: 'mobile-app', sha256: hashApiKey(APP_KEY), role: 'app' },
    { id: 'partner-app', sha256: hashApiKey(OTHER_APP_KEY), role: 'app' },
    { id: 'operator', sha256: hashApiKey(ADMIN_KEY), role: 'admin' },
  ]),
  RATE_LIMIT_PUBLIC: '3/m burst 5',
  RATE_LIMIT_APP: '2/s',
  RATE_LIMIT_ANALYST: '20/s burst 40',
  RATE_LIMIT_ADMIN: 'off',
};

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/**
 * One GraphQL request from a chosen loopback address (Linux routes all of 127/8 to lo), so each
 * test can be a different anonymous caller.
 */
function call(gw: TestGateway, options: { from?: string; apiKey?: string; query?: string; method?: 'GET' | 'POST' } = {}): Promise<Answer> {
  const query = options.query ?? '{ ping }';
  const method = options.method ?? 'POST';
  const url = new URL(gw.endpoint);
  if (method === 'GET') url.search = new URLSearchParams({ query }).toString();
  const payload = method === 'POST' ? JSON.stringify({ query }) : undefined;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        localAddress: options.from ?? '127.0.0.1',
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body'] }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends requests one after another until the first 429 (at most `max`); returns every answer. */
async function untilRefused(send: () => Promise<Answer>, max = 20): Promise<Answer[]> {
  const answers: Answer[] = [];
  while (answers.length < max) {
    const answer = await send();
    answers.push(answer);
    if (answer.status === 429) break;
  }
  return answers;
}

function expectRefusal(answer: Answer | undefined, windowMs: number): number {
  expect(answer?.status).toBe(429);
  const error = answer?.body.errors?.[0];
  expect(error?.extensions?.['code']).toBe('RATE_LIMITED');
  const retryAfterMs = error?.extensions?.['retryAfterMs'] as number;
  expect(retryAfterMs).toBeGreaterThan(0);
  expect(retryAfterMs).toBeLessThanOrEqual(windowMs);
  // Whole seconds, rounded up.
  expect(answer?.headers['retry-after']).toBe(String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  return retryAfterMs;
}

describe('budget syntax', () => {
  it('reads "N/unit burst M" and "off", and names the bad variable', () => {
    expect(parseRateBudget('10/s burst 20')).toEqual({ rate: 10, perSeconds: 1, burst: 20 });
    expect(parseRateBudget('600/m')).toEqual({ rate: 600, perSeconds: 60, burst: 600 });
    expect(parseRateBudget('off')).toBeNull();
    expect(() => loadConfig({ RATE_LIMIT_APP: '10 per second' })).toThrow(/RATE_LIMIT_APP: expected "N\/s"/);
    expect(() => loadConfig({ RATE_LIMIT_PUBLIC: '10/s burst 5' })).toThrow(/RATE_LIMIT_PUBLIC: the burst must be at least the rate/);
    expect(loadConfig({ RATE_LIMITS: 'off' }).rateLimits).toBeUndefined();
    expect(loadConfig({}).rateLimits?.admin).toBeNull();
  });
});

describe('per-principal rate limits (in memory)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: ENV });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('lets an anonymous caller spend its burst, then answers 429 with Retry-After and RATE_LIMITED', async () => {
    const answers = await untilRefused(() => call(gw, { from: '127.0.0.2' }));
    // 3 per minute plus a reserve of 2: five pass, the sixth is refused.
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers[0]?.headers['ratelimit-limit']).toBe('3');
    expect(answers.slice(0, 3).map((a) => a.headers['ratelimit-remaining'])).toEqual(['2', '1', '0']);
    expect(Number(answers[0]?.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
    const refused = answers[5];
    expectRefusal(refused, 60_000);
    expect(refused?.body.errors?.[0]?.message).toMatch(/budget of public callers is 3\/m burst 5/);
    expect(refused?.headers['ratelimit-remaining']).toBe('0');
    // Refused requests are not answered by anything else either: still 429.
    expect((await call(gw, { from: '127.0.0.2' })).status).toBe(429);
  });

  it('counts answers served from the response cache too', async () => {
    const query = '{ tour(id: "TOUR0003") { id name } }';
    const answers = await untilRefused(() => call(gw, { from: '127.0.0.3', method: 'GET', query }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers.slice(1, 5).every((a) => a.headers['x-cache'] === 'HIT')).toBe(true);
  });

  it('keeps one budget per principal: other addresses and API keys are not affected', async () => {
    expect((await untilRefused(() => call(gw, { from: '127.0.0.4' }))).length).toBe(6);
    // Another anonymous address, and keyed callers from the refused address, still pass.
    expect((await call(gw, { from: '127.0.0.5' })).status).toBe(200);
    expect((await call(gw, { from: '127.0.0.4', apiKey: APP_KEY })).status).toBe(200);
    // Two keys of the same role have budgets of their own.
    const first = await untilRefused(() => call(gw, { from: '127.0.0.4', apiKey: APP_KEY }));
    expect(first.at(-1)?.status).toBe(429);
    expect((await call(gw, { from: '127.0.0.4', apiKey: OTHER_APP_KEY })).status).toBe(200);
  });

  it('refills the budget: after Retry-After the caller is served again', async () => {
    const answers = await untilRefused(() => call(gw, { from: '127.0.0.6', apiKey: OTHER_APP_KEY }));
    expect(answers.at(-1)?.status).toBe(429);
    const retryAfterMs = expectRefusal(answers.at(-1), 1_000);
    // Waiting is the behaviour under test: the server said when the budget comes back.
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs + 20));
    const again = await call(gw, { from: '127.0.0.6', apiKey: OTHER_APP_KEY });
    expect(again.status).toBe(200);
    expect(again.headers['ratelimit-limit']).toBe('2');
  });

  it('does not count unlimited roles (admin by default) and sends them no RateLimit headers', async () => {
    for (let i = 0; i < 12; i += 1) {
      const answer = await call(gw, { from: '127.0.0.7', apiKey: ADMIN_KEY });
      expect(answer.status).toBe(200);
      expect(answer.headers['ratelimit-limit']).toBeUndefined();
    }
  });

  it('counts graphql-ws operations against the same budget as HTTP', async () => {
    const from = '127.0.0.8';
    for (let i = 0; i < 3; i += 1) expect((await call(gw, { from })).status).toBe(200);
    // A WebSocket from the same address, as the same anonymous principal.
    class FromAddress extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols, { localAddress: from });
      }
    }
    const client = createClient({ url: gw.wsEndpoint, webSocketImpl: FromAddress, retryAttempts: 0, lazy: false });
    const run = async () => {
      try {
        for await (const result of client.iterate({ query: '{ ping }' })) return { data: result.data };
        return { data: undefined };
      } catch (error) {
        return { errors: error as { message: string; extensions?: Record<string, unknown> }[] };
      }
    };
    try {
      expect(await run()).toEqual({ data: { ping: true } });
      expect(await run()).toEqual({ data: { ping: true } });
      const refused = await run();
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused.errors?.[0]?.extensions?.['retryAfterMs']).toBeGreaterThan(0);
      // And the HTTP side sees the budget the socket spent.
      expect((await call(gw, { from })).status).toBe(429);
    } finally {
      await client.dispose();
    }
  });
});

describeWithPeer('per-principal rate limits shared through Redis', 'redis-server', 'redis-server', () => {
  let redis: RedisPeer;
  let first: TestGateway;
  let second: TestGateway;
  beforeAll(async () => {
    redis = await startRedis();
    const env = { ...ENV, REDIS_URL: redis.url };
    [first, second] = await Promise.all([startTestGateway({ env }), startTestGateway({ env })]);
  }, 120_000);
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await redis?.stop();
  });

  it('gives a caller one budget across instances sharing a Redis', async () => {
    const from = '127.0.0.2';
    const statuses: number[] = [];
    // Alternating instances: five pass in total, not five each.
    for (let i = 0; i < 6; i += 1) statuses.push((await call(i % 2 === 0 ? first : second, { from })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expectRefusal(await call(first, { from }), 60_000);
    expectRefusal(await call(second, { from }), 60_000);
  });

  it('keeps limiting per instance, without failing requests, while Redis is down', async () => {
    await redis.stop();
    const from = '127.0.0.3';
    // Each instance now counts on its own (the insurance limiter): a budget per instance.
    const onFirst = await untilRefused(() => call(first, { from }));
    const onSecond = await untilRefused(() => call(second, { from }));
    expect(onFirst.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(onSecond.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expectRefusal(onFirst.at(-1), 60_000);
  });

  it('shares budgets again once Redis is back', async () => {
    await redis.restart();
    // The limiters reconnect by themselves (backoff up to 2 s); until then each instance counts
    // alone. Each attempt is a new caller spending five requests across both instances: shared
    // budgets refuse the sixth.
    let shared = false;
    for (let attempt = 1; attempt < 250 && !shared; attempt += 1) {
      const from = `127.0.1.${attempt}`;
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) statuses.push((await call(i % 2 === 0 ? first : second, { from })).status);
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      shared = statuses[5] === 429;
    }
    expect(shared).toBe(true);
  });
});
