import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { Logger } from '../../src/logger.ts';

/** A gateway on a free port over its own temporary data directory. */
export interface TestGateway {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `url + '/graphql'` */
  endpoint: string;
  /** `ws://127.0.0.1:PORT/graphql` */
  wsEndpoint: string;
  gateway: Gateway;
  /** Runs one GraphQL operation over HTTP POST and returns the parsed body and status. */
  request<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: GraphQLBody<T> }>;
  close(): Promise<void>;
}

export interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** Demo data anchored to a fixed day, so assertions do not depend on today's date. */
export const TEST_ANCHOR = '2026-11-01T00:00:00.000Z';

/** Starts a gateway with demo data in a fresh directory (removed on close), or in `dataDir` (kept). */
export async function startTestGateway(options: { env?: Record<string, string>; dataDir?: string; logger?: Logger } = {}): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'nexus-gateway-test-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    MEDALLION_DEBOUNCE_MS: '5',
    DEMO_SCALE: '0.2',
    DEMO_ANCHOR: TEST_ANCHOR,
    ...options.env,
  });
  const gateway = await startGateway(config, options.logger);
  const endpoint = `${gateway.url}/graphql`;
  return {
    url: gateway.url,
    endpoint,
    wsEndpoint: endpoint.replace(/^http/, 'ws'),
    gateway,
    async request<T>(query: string, variables?: Record<string, unknown>) {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: (await response.json()) as GraphQLBody<T> };
    },
    async close() {
      await gateway.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
