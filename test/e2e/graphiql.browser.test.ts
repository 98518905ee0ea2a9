/**
 * The offline GraphiQL page against the real gateway: served at the endpoint to browsers only,
 * and in headless Chromium it loads only from the gateway (nothing leaves localhost), runs a
 * query over HTTP, and a subscription over graphql-ws on the same URL; an analyst builds a
 * question by clicking in the explorer, runs it, and the chart panel draws it.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildGraphiQL } from '../../scripts/build-graphiql.ts';
import { PALETTE } from '../../web/graphiql/chart-spec.ts';
import { chromiumPath, launchChromium } from '../helpers/chromium.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { countPixels, decodePng } from '../helpers/png.ts';

const noChromium = chromiumPath() === undefined;
const underCI = process.env['CI'] === 'true';
if (noChromium && !underCI) {
  console.warn('graphiql.browser.test: skipped, no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');
}
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

let gateway: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  // Rebuild so the test exercises the current web/graphiql sources, not a stale dist/.
  await buildGraphiQL();
  gateway = await startTestGateway();
});

afterAll(async () => {
  await gateway?.close();
});

describe('GraphiQL page over HTTP', () => {
  const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

  it('is served at the endpoint to browsers, with its assets cached for good', async () => {
    const page = await fetch(gateway.endpoint, { headers: { accept: BROWSER_ACCEPT } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain(`<meta name="graphql-endpoint" content="${new URL(gateway.endpoint).pathname}" />`);

    const script = /<script type="module" src="([^"]+)">/.exec(html)?.[1];
    expect(script).toMatch(/^\/graphiql\/main-[A-Z0-9]{8}\.js$/);
    const asset = await fetch(new URL(script ?? '', gateway.url));
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-encoding')).toBe('gzip'); // fetch asks for it by default

    expect((await fetch(`${gateway.url}/graphiql/missing-AAAAAAAA.js`)).status).toBe(404);
  });

  it('leaves GraphQL-over-HTTP GET requests and JSON clients to GraphQL', async () => {
    const withQuery = await fetch(`${gateway.endpoint}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: BROWSER_ACCEPT, 'apollo-require-preflight': 'true' },
    });
    expect(withQuery.headers.get('content-type')).toMatch(/json/);
    expect(await withQuery.json()).toMatchObject({ data: { __typename: 'Query' } });

    const jsonClient = await fetch(gateway.endpoint, { headers: { accept: 'application/json' } });
    expect(jsonClient.headers.get('content-type')).not.toMatch(/html/);
  });
});

// CI must not pass by skipping: there a missing browser is a failure of its own.
describe.skipIf(!noChromium || !underCI)('GraphiQL page in Chromium under CI', () => {
  it('has a Chromium to run in', () => {
    expect.fail('No Chromium: install it (apt-get install chromium) or set CHROMIUM_PATH');
  });
});

describe.skipIf(noChromium)(
  noChromium ? 'GraphiQL page in Chromium (skipped: no Chromium; install it or set CHROMIUM_PATH)' : 'GraphiQL page in Chromium',
  () => {
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    /** Everything the page did that it should not: off-host requests, console errors or warnings, uncaught exceptions. */
    let problems: string[];

    beforeAll(async () => {
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
    });

    async function openPage(): Promise<void> {
      problems = [];
      // A fresh context per test: GraphiQL keeps tabs and queries in localStorage.
      context = await browser.newContext({ viewport: { width: 1400, height: 850 } });
      context.on('request', (request) => {
        const url = new URL(request.url());
        if (url.protocol === 'data:' || url.protocol === 'blob:') return;
        if (!LOCAL_HOSTS.has(url.hostname)) problems.push(`request left localhost: ${request.url()}`);
      });
      page = await context.newPage();
      page.on('websocket', (ws) => {
        if (!LOCAL_HOSTS.has(new URL(ws.url()).hostname)) problems.push(`WebSocket left localhost: ${ws.url()}`);
      });
      // A healthy session logs nothing; warnings count too, as GraphiQL reports some failures
      // only that way (e.g. Prettify without its prettier parser).
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') {
          problems.push(`console ${message.type()}: ${message.text().split('\n')[0]}`);
        }
      });
      page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));

      const response = await page.goto(gateway.endpoint);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-type']).toMatch(/^text\/html/);
      await queryEditor().locator('.monaco-editor').waitFor();
    }

    afterEach(async () => {
      await context?.close();
      expect(problems).toEqual([]);
    });

    const queryEditor = () => page.locator('.graphiql-query-editor');
    const executeButton = (state: 'Execute' | 'Stop') =>
      page.locator(`.graphiql-execute-button[aria-label^="${state} query"]`);

    it('prettifies and runs the default query over HTTP and shows the data', async () => {
      await openPage();
      await queryEditor().locator('.view-lines', { hasText: 'tours(first: 5)' }).waitFor();
      // Prettify loads prettier's GraphQL plugin on demand; the build must bundle it usably.
      await page.locator('[aria-label^="Prettify"]').click();

      const answer = page.waitForResponse(
        (r) => r.request().method() === 'POST' && r.url() === gateway.endpoint && !!r.request().postData()?.includes('tours'),
      );
      await executeButton('Execute').click();
      const body = (await (await answer).json()) as { data?: { tours?: { edges?: unknown[] } }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(Array.isArray(body.data?.tours?.edges)).toBe(true);

      await page.locator('.graphiql-response', { hasText: '"tours"' }).waitFor();
    });

    it('runs a subscription over graphql-ws on the same URL until stopped', async () => {
      await openPage();
      const socket = recordSocket(page);

      await queryEditor().locator('.monaco-editor').click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Delete');
      // Typed key by key: Monaco auto-closes each `{` and types over the matching `}`.
      await page.keyboard.type('subscription IngestedEvents { eventIngested { id eventType } }');
      await page.keyboard.press('Escape'); // closes the completion popup, if open
      // GraphiQL re-parses the editor 100 ms after a change; the tab takes the operation's name
      // once the parse routes the run to the WebSocket fetcher rather than HTTP.
      await page.locator('.graphiql-tab-active', { hasText: 'IngestedEvents' }).waitFor();

      await page.keyboard.press('ControlOrMeta+Enter');
      expect(await socket.url).toBe(gateway.endpoint.replace(/^http/, 'ws'));
      await expect.poll(() => socket.sent).toContain('subscribe');
      await executeButton('Stop').waitFor();
      // Events (`next`) may or may not arrive meanwhile; an `error` or `complete` would end the run.
      expect(socket.received.filter((type) => type !== 'next')).toEqual(['connection_ack']);

      await executeButton('Stop').click();
      await expect.poll(() => socket.sent).toEqual(['connection_init', 'subscribe', 'complete']);
      await executeButton('Execute').waitFor();
    });

    /** The explorer's node for a field, under the path of fields above it (`['revenueSeries']`). */
    const explorerField = (...path: string[]) =>
      path
        .reduce((scope, name) => scope.locator(`.graphiql-explorer-${name}`).first(), page.locator('.graphiql-explorer-root'))
        .locator(`[data-field-name="${path.at(-1)}"]`)
        .first();
    const explorerArg = (field: string, arg: string) =>
      page.locator(`.graphiql-explorer-${field} [data-arg-name="${arg}"]`).first();
    const chartPanel = () => page.locator('.nexus-chart-panel');

    /** Empties the operation editor, so the explorer starts from a blank query. */
    async function clearOperation(): Promise<void> {
      await queryEditor().locator('.monaco-editor').click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Delete');
    }

    /** Runs the operation with GraphiQL's run button and returns the gateway's answer. */
    async function runAndAnswer(field: string): Promise<{ data?: Record<string, unknown[]>; errors?: unknown }> {
      const answer = page.waitForResponse(
        (r) => r.request().method() === 'POST' && r.url() === gateway.endpoint && !!r.request().postData()?.includes(field),
      );
      await executeButton('Execute').click();
      return (await (await answer).json()) as { data?: Record<string, unknown[]>; errors?: unknown };
    }

    /**
     * Pixels of the first two series' colours in a screenshot of the chart's canvas, above its
     * bottom fifth: the legend and the x-axis labels live there, so what is counted was drawn
     * as data (a legend swatch alone is up to 40 × 12 pixels).
     */
    async function seriesPixels(): Promise<number[]> {
      await chartPanel().locator('figure[data-drawn="true"]').waitFor();
      const image = decodePng(await chartPanel().locator('canvas').screenshot());
      expect(image.width).toBeGreaterThan(200);
      expect(image.height).toBeGreaterThan(300);
      const plotArea = { bottom: Math.floor(image.height * 0.8) };
      return [countPixels(image, PALETTE[0], plotArea), countPixels(image, PALETTE[1], plotArea)];
    }

    // Loading GraphiQL takes seconds, many more on a busy machine; clicking through the explorer adds more.
    const EXPLORER_TEST = { timeout: 90_000 };

    it('builds a monthly revenue series by clicking in the explorer, runs it, and charts it as lines', EXPLORER_TEST, async () => {
      await openPage();
      await clearOperation();
      await page.locator('[aria-label="Show GraphiQL Explorer"]').click();

      // Ticking the field fills in its required arguments; then tick what to see and set the range.
      await explorerField('revenueSeries').click();
      for (const field of ['bucket', 'bookings', 'revenue']) await explorerField('revenueSeries', field).click();
      await explorerArg('revenueSeries', 'interval').locator('select').selectOption('MONTH');
      await explorerArg('revenueSeries', 'from').locator('input').fill('2026-01-01T00:00:00Z');
      await explorerArg('revenueSeries', 'to').locator('input').fill('2027-01-01T00:00:00Z');
      await queryEditor().locator('.view-lines', { hasText: 'interval: MONTH' }).waitFor();
      await queryEditor().locator('.view-lines', { hasText: 'revenue' }).waitFor();

      const body = await runAndAnswer('revenueSeries');
      expect(body.errors).toBeUndefined();
      expect(body.data?.['revenueSeries']).toHaveLength(12);

      await page.locator('[aria-label="Show Chart"]').click();
      await expect.poll(() => chartPanel().getAttribute('data-chart-kind')).toBe('line');
      expect(await chartPanel().getAttribute('data-source')).toBe('data.revenueSeries');
      expect(await chartPanel().getAttribute('data-series')).toBe('bookings,revenue');
      const [bookings, revenue] = await seriesPixels();
      // Two lines of 12 points each, 2 px wide, with 3 px markers: hundreds of pixels per colour.
      expect(bookings).toBeGreaterThan(150);
      expect(revenue).toBeGreaterThan(150);
    });

    it('builds regional bookings and revenue by ticking fields, and charts them as bars per region', EXPLORER_TEST, async () => {
      await openPage();
      await clearOperation();
      await page.locator('[aria-label="Show GraphiQL Explorer"]').click();

      await explorerField('regionalStats').click();
      for (const field of ['region', 'bookings', 'revenue']) await explorerField('regionalStats', field).click();
      await queryEditor().locator('.view-lines', { hasText: 'revenue' }).waitFor();

      const body = await runAndAnswer('regionalStats');
      expect(body.errors).toBeUndefined();
      expect(Object.keys(body.data?.['regionalStats']?.[0] ?? {})).toEqual(['region', 'bookings', 'revenue']);

      await page.locator('[aria-label="Show Chart"]').click();
      await expect.poll(() => chartPanel().getAttribute('data-chart-kind')).toBe('bar');
      expect(await chartPanel().getAttribute('data-source')).toBe('data.regionalStats');
      expect(await chartPanel().getAttribute('data-series')).toBe('bookings,revenue');
      const [bookings, revenue] = await seriesPixels();
      // Solid bars, one per region and measure.
      expect(bookings).toBeGreaterThan(500);
      expect(revenue).toBeGreaterThan(500);
    });

    it('answers "bookings and revenue by destination country per month for 2026, top 10" built by clicking, as lines per country', EXPLORER_TEST, async () => {
      await openPage();
      await clearOperation();
      await page.locator('[aria-label="Show GraphiQL Explorer"]').click();

      // Ticking `analytics` adds its required `query`; an input-object argument opens on a click
      // of its name, an optional one is ticked the same way and then set.
      const tickArg = (field: string, arg: string) => explorerArg(field, arg).locator(':scope > span').first().click();
      await explorerField('analytics').click();
      await tickArg('query', 'timeDimension');
      await tickArg('timeDimension', 'granularity');
      await explorerArg('timeDimension', 'granularity').locator('select').selectOption('MONTH');
      await tickArg('timeDimension', 'from');
      await explorerArg('timeDimension', 'from').locator('input').fill('2026-01-01T00:00:00Z');
      await tickArg('timeDimension', 'to');
      await explorerArg('timeDimension', 'to').locator('input').fill('2027-01-01T00:00:00Z');
      await tickArg('query', 'orderBy');
      await explorerArg('orderBy', 'member').locator('select').selectOption('BOOKINGS');
      await tickArg('orderBy', 'direction');
      await explorerArg('orderBy', 'direction').locator('select').selectOption('DESC');
      await tickArg('query', 'limit');
      await explorerArg('query', 'limit').locator('input').fill('10');
      // No `measures` or `dimensions`: the question takes them from the fields ticked on `rows`.
      await explorerField('analytics', 'rows').click();
      for (const field of ['time', 'destinationCountry', 'bookings', 'revenue']) {
        await explorerField('analytics', 'rows', field).click();
      }
      for (const text of ['granularity: MONTH', 'direction: DESC', 'limit: 10', 'destinationCountry', 'revenue']) {
        await queryEditor().locator('.view-lines', { hasText: text }).waitFor();
      }

      const body = await runAndAnswer('analytics');
      expect(body.errors).toBeUndefined();
      const answer = body.data?.['analytics'] as unknown as { rows: Record<string, unknown>[] } | undefined;
      const rows = answer?.rows ?? [];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThanOrEqual(10);
      for (const row of rows) {
        expect(Object.keys(row)).toEqual(['time', 'destinationCountry', 'bookings', 'revenue']);
        expect(row['time']).toMatch(/^2026-\d{2}-01T00:00:00(\.000)?Z$/);
        expect(row['destinationCountry']).toEqual(expect.any(String));
        expect(row['bookings']).toEqual(expect.any(Number));
        expect(row['revenue']).toEqual(expect.any(Number));
      }
      // Top 10: the most bookings first.
      const bookingCounts = rows.map((row) => row['bookings'] as number);
      expect(bookingCounts).toEqual([...bookingCounts].sort((a, b) => b - a));
      const countries = [...new Set(rows.map((row) => row['destinationCountry'] as string))];
      expect(countries.length).toBeGreaterThan(1);

      // Months along x, a colour per country, a line per country and measure (revenue dashed).
      await page.locator('[aria-label="Show Chart"]').click();
      await expect.poll(() => chartPanel().getAttribute('data-chart-kind')).toBe('line');
      expect(await chartPanel().getAttribute('data-source')).toBe('data.analytics.rows');
      expect(await chartPanel().getAttribute('data-measures')).toBe('bookings,revenue');
      expect(await chartPanel().getAttribute('data-categories')).toBe(countries.join(','));
      expect(await chartPanel().getAttribute('data-series')).toBe(
        countries.flatMap((country) => [`${country} bookings`, `${country} revenue`]).join(','),
      );
      const [firstCountry, secondCountry] = await seriesPixels();
      // The first two countries' lines (a few months each), not just their legend swatches.
      expect(firstCountry).toBeGreaterThan(50);
      expect(secondCountry).toBeGreaterThan(50);
    });

    it('shows rows it cannot chart as a table', EXPLORER_TEST, async () => {
      await openPage();
      // Cursors and ids, no numbers: neither lines nor bars.
      await clearOperation();
      await page.keyboard.type('{ tours(first: 3) { edges { cursor node { id } } } }');
      await page.keyboard.press('Escape');
      const body = await runAndAnswer('tours');
      expect(body.errors).toBeUndefined();

      await page.locator('[aria-label="Show Chart"]').click();
      await expect.poll(() => chartPanel().getAttribute('data-chart-kind')).toBe('table');
      expect(await chartPanel().locator('th').allTextContents()).toEqual(['cursor', 'node.id']);
      expect(await chartPanel().locator('tbody tr').count()).toBe(3);
    });
  },
);

/** graphql-ws message types on the page's first WebSocket, recorded from its opening frame on. */
interface SocketRecord {
  url: Promise<string>;
  sent: string[];
  received: string[];
}

function recordSocket(page: Page): SocketRecord {
  const record: Omit<SocketRecord, 'url'> = { sent: [], received: [] };
  // Listeners go on in the `websocket` event itself: by the time a test could await the
  // socket, graphql-ws may already have sent `connection_init` and `subscribe`.
  const url = new Promise<string>((resolve) =>
    page.once('websocket', (ws) => {
      ws.on('framesent', (frame) => record.sent.push(messageType(frame.payload)));
      ws.on('framereceived', (frame) => record.received.push(messageType(frame.payload)));
      resolve(ws.url());
    }),
  );
  return { url, ...record };
}

/** The `type` of a graphql-ws message (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md). */
function messageType(payload: string | Buffer): string {
  try {
    const message: unknown = JSON.parse(payload.toString());
    if (typeof message === 'object' && message !== null && 'type' in message) return String(message.type);
  } catch {
    // not JSON: reported as-is below
  }
  return `unparseable: ${payload.toString().slice(0, 80)}`;
}
