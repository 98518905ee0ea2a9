import { createHash } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type GraphQLBody, type TestGateway } from './helpers/gateway.ts';

const ANALYST_KEY = 'analyst-key-0123456789abcdef0123456789';
const APP_KEY = 'app-key-0123456789abcdef0123456789abcd';
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    env: {
      API_KEYS: JSON.stringify([
        { id: 'analyst-1', sha256: sha256(ANALYST_KEY), role: 'analyst' },
        { id: 'web-backend', sha256: sha256(APP_KEY), role: 'app' },
      ]),
      RATE_LIMITS: 'false',
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

async function post(query: string, variables: Record<string, unknown> | undefined, headers: Record<string, string> = {}): Promise<GraphQLBody<unknown>> {
  const response = await fetch(gw.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLBody<unknown>;
}

// A misspelt field, argument, type, enum value (inline and in a variable), input field, and an
// interface field: graphql-js would suggest the real names ("Did you mean …").
const MISSPELT: [string, string, Record<string, unknown> | undefined, string, string][] = [
  ['field', '{ tours(first: 1) { edges { node { nam } } } }', undefined, 'Cannot query field "nam" on type "Tour".', '"name"'],
  ['argument', '{ tours(frist: 1) { totalCount } }', undefined, 'Unknown argument "frist" on field "Query.tours".', '"first"'],
  ['type', 'query Q($f: TourFiltr) { tours(filter: $f) { totalCount } }', undefined, 'Unknown type "TourFiltr".', '"TourFilter"'],
  [
    'enum value',
    'mutation { ingestEvent(input: { eventType: BOKING, userId: "U", tourId: "TOUR0001" }) { eventId } }',
    undefined,
    'Value "BOKING" does not exist in "EventType" enum.',
    '"BOOKING"',
  ],
  [
    'enum value in a variable',
    'mutation M($type: EventType!) { ingestEvent(input: { eventType: $type, userId: "U", tourId: "TOUR0001" }) { eventId } }',
    { type: 'BOKING' },
    'Variable "$type" got invalid value "BOKING"; Value "BOKING" does not exist in "EventType" enum.',
    '"BOOKING"',
  ],
];

describe('"Did you mean" suggestions follow introspection rights', () => {
  it.each(MISSPELT)('hides the suggestion for a misspelt %s from a public caller', async (_what, query, variables, message, suggested) => {
    const body = await post(query, variables);
    expect(body.errors?.[0]?.message).toBe(message);
    expect(JSON.stringify(body)).not.toContain(suggested);
  });

  it.each(MISSPELT)('hides the suggestion for a misspelt %s from an app below analyst', async (_what, query, variables, message) => {
    const body = await post(query, variables, { 'x-api-key': APP_KEY });
    expect(body.errors?.[0]?.message).toBe(message);
  });

  it.each(MISSPELT)('keeps the suggestion for a misspelt %s for an analyst', async (_what, query, variables, message, suggested) => {
    const body = await post(query, variables, { 'x-api-key': ANALYST_KEY });
    expect(body.errors?.[0]?.message).toMatch(new RegExp(`^${escape(message)} Did you mean .*${escape(suggested)}`));
  });

  it('hides suggestions over graphql-ws from a public caller, and keeps them for an analyst', async () => {
    const query = 'subscription { eventIngested(filter: { eventTypes: [BOKING] }) { id } }';
    const messages = async (connectionParams: Record<string, string>) => {
      const client = createClient({ url: gw.wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams });
      try {
        return await new Promise<string[]>((resolve, reject) => {
          client.subscribe({ query }, {
            next: () => reject(new Error('the subscription started')),
            error: (errors) => resolve((errors as { message: string }[]).map((e) => e.message)),
            complete: () => reject(new Error('completed without an error')),
          });
        });
      } finally {
        await client.dispose();
      }
    };
    expect(await messages({})).toEqual(['Value "BOKING" does not exist in "EventType" enum.']);
    expect((await messages({ apiKey: ANALYST_KEY }))[0]).toMatch(/Did you mean the enum value "BOOKING"\?$/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
