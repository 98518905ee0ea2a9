/**
 * CORS at the wire: preflights answered before routing with the GraphQL-over-HTTP headers allowed,
 * only configured origins (exact or wildcard) get `Access-Control-Allow-Origin`, and graphql-ws
 * upgrades and event streams from pages of other origins are refused; plus CORS_* validation.
 */
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const APP = 'https://app.example.com';
const API_KEYS = JSON.stringify([{ id: 'ops', sha256: createHash('sha256').update('admin-key-0123456789abcdef0123456789ab').digest('hex'), role: 'admin' }]);

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { API_KEYS, CORS_ORIGINS: `${APP}, https://*.preview.example.com`, CORS_MAX_AGE: '300', MEDALLION_INTERVAL_MS: '0' } });
}, 120_000);
afterAll(async () => {
  await gw?.close();
});

const preflight = (origin: string, path = '/graphql') =>
  fetch(`${gw.url}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization, x-api-key, traceparent' },
  });

/** Opens a WebSocket to the GraphQL path; resolves with `open` or the refused upgrade's HTTP status. */
function upgrade(origin: string | undefined): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(gw.wsEndpoint, 'graphql-transport-ws', origin === undefined ? {} : { origin });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

describe('CORS preflight', () => {
  it('answers an allowed origin with 204 and the headers a GraphQL client sends', async () => {
    const response = await preflight(APP);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET,HEAD,POST,PUT,PATCH,DELETE');
    const allowed = response.headers.get('access-control-allow-headers')?.split(',') ?? [];
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'authorization', 'x-api-key', 'traceparent', 'apollo-require-preflight', 'x-apollo-operation-name', 'last-event-id']));
    expect(response.headers.get('access-control-max-age')).toBe('300');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('answers for every route, not only GraphQL', async () => {
    const response = await preflight(APP, '/api/anything');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('matches wildcard subdomains, and not the bare domain', async () => {
    const sub = await preflight('https://pr-12.preview.example.com');
    expect(sub.status).toBe(204);
    expect(sub.headers.get('access-control-allow-origin')).toBe('https://pr-12.preview.example.com');
    const bare = await preflight('https://preview.example.com');
    expect(bare.status).toBe(403);
    expect(bare.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses other origins with 403 and no CORS headers', async () => {
    for (const origin of ['https://evil.example', 'http://app.example.com', 'https://app.example.com.evil.example', 'null']) {
      const response = await preflight(origin);
      expect(response.status, origin).toBe(403);
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(response.headers.get('vary')).toBe('Origin');
      expect(await response.json()).toEqual({
        errors: [{ message: `Origin ${origin} may not call this gateway from a browser: it is not in CORS_ORIGINS.`, extensions: { code: 'FORBIDDEN' } }],
      });
    }
  });
});

describe('CORS on answers', () => {
  const post = (origin: string) =>
    fetch(gw.endpoint, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });

  it('lets an allowed origin read the answer and its rate-limit headers', async () => {
    const response = await post(APP);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('access-control-expose-headers')?.split(',')).toEqual(
      expect.arrayContaining(['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after', 'x-request-id']),
    );
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('gives another origin no CORS headers (the browser withholds the answer)', async () => {
    const response = await post('https://evil.example');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('refuses an event stream opened by a page of another origin', async () => {
    const response = await fetch(`${gw.endpoint}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'text/event-stream', origin: 'https://evil.example' } });
    expect(response.status).toBe(403);
    const allowed = await fetch(`${gw.endpoint}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'text/event-stream', origin: APP } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(await allowed.text()).toBe(':\n\nevent: next\ndata: {"data":{"__typename":"Query"}}\n\nevent: complete\ndata:\n\n');
  });
});

describe('graphql-ws upgrades', () => {
  it('refuses a page of another origin with 403', async () => {
    expect(await upgrade('https://evil.example')).toBe(403);
  });

  it('accepts an allowed origin, the gateway itself (GraphiQL) and clients that send no Origin', async () => {
    expect(await upgrade(APP)).toBe('open');
    expect(await upgrade(gw.url)).toBe('open');
    expect(await upgrade(undefined)).toBe('open');
  });
});

describe('CORS settings', () => {
  const allows = (env: Record<string, string>, origin: string) => loadConfig(env).cors.patterns.some((p) => p.test(origin));
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    return '';
  };

  it('allows no origin by default with access enforced', () => {
    expect(loadConfig({ API_KEYS }).cors.patterns).toEqual([]);
  });

  it('allows pages on this machine by default in open mode, any port, and nothing else', () => {
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:5173', 'https://localhost', 'http://[::1]:8080']) expect(allows({}, origin), origin).toBe(true);
    for (const origin of ['https://app.example.com', 'http://localhost.evil.example', 'null']) expect(allows({}, origin), origin).toBe(false);
    expect(allows({ CORS_ORIGINS: 'none' }, 'http://localhost:3000')).toBe(false);
  });

  it('reads exact origins, wildcards, anchored regular expressions and *', () => {
    const env = { CORS_ORIGINS: 'https://app.example.com,http://localhost:*, /^https:\\/\\/tenant-\\d{1,3}\\.example\\.org$/' };
    expect(allows(env, 'https://app.example.com')).toBe(true);
    expect(allows(env, 'https://app.example.com:8443')).toBe(false);
    expect(allows(env, 'http://localhost:3000')).toBe(true);
    expect(allows(env, 'https://tenant-42.example.org')).toBe(true);
    expect(allows(env, 'https://tenant-4242.example.org')).toBe(false);
    expect(allows({ CORS_ORIGINS: '*' }, 'https://anything.example')).toBe(true);
  });

  it('names each bad entry at start-up', () => {
    const message = problems({ CORS_ORIGINS: 'https://app.example.com/, ftp://files.example.com, /example\\.com/, /^(unclosed$/', CORS_MAX_AGE: '-1' });
    expect(message).toContain('CORS_ORIGINS: entry "https://app.example.com/" has a path: an origin is scheme://host[:port] only');
    expect(message).toContain('CORS_ORIGINS: entry "ftp://files.example.com" is not an origin');
    expect(message).toContain('CORS_ORIGINS: entry "/example\\.com/" must be anchored with ^ and $');
    expect(message).toContain('CORS_ORIGINS: entry "/^(unclosed$/" is not a valid regular expression');
    expect(message).toContain('CORS_MAX_AGE: must be a whole number of seconds ≥ 0, got -1');
    expect(problems({ CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' })).toContain('CORS_CREDENTIALS: cannot be true with CORS_ORIGINS=*');
  });
});
