/**
 * The REST API's docs page in headless Chromium: Swagger UI loads only from the gateway under its
 * content-security policy, shows every route of the generated OpenAPI document, and "Try it out"
 * calls a route on the gateway and shows its answer.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from '../helpers/chromium.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const noChromium = chromiumPath() === undefined;
const underCI = process.env['CI'] === 'true';
if (noChromium && !underCI) console.warn('rest-docs.browser.test: skipped, no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

// CI must not pass by skipping: there a missing browser is a failure of its own.
describe.skipIf(!noChromium || !underCI)('REST docs page in Chromium under CI', () => {
  it('has a Chromium to run in', () => {
    expect.fail('No Chromium: install it (apt-get install chromium) or set CHROMIUM_PATH');
  });
});

describe.skipIf(noChromium)(noChromium ? 'REST docs page in Chromium (skipped: no Chromium)' : 'REST docs page in Chromium', () => {
  let gateway: TestGateway;
  let browser: Browser;
  let page: Page;
  /** Everything the page did that it should not: off-host requests, console errors, uncaught exceptions. */
  const problems: string[] = [];

  beforeAll(async () => {
    gateway = await startTestGateway();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol !== 'data:' && url.protocol !== 'blob:' && !LOCAL_HOSTS.has(url.hostname)) problems.push(`request left localhost: ${request.url()}`);
    });
    page = await context.newPage();
    // CSP violations are reported as console errors.
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text().split('\n')[0]}`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('shows every route and runs one with "Try it out"', async () => {
    const response = await page.goto(`${gateway.url}/docs`);
    expect(response?.status()).toBe(200);
    await page.locator('.opblock').first().waitFor();
    const summaries = await page.locator('.opblock-summary-path').allInnerTexts();
    expect(summaries.map((s) => s.replace(/\u200b/g, '')).sort()).toEqual(
      ['/api/v1/tours', '/api/v1/tours/{id}', '/api/v1/analytics/regional-stats', '/api/v1/recommendations', '/api/v1/events', '/api/events', '/api/events/{id}', '/api/destinations', '/api/search'].sort(),
    );

    const operation = page.locator('#operations-tours-listTours');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.locator('input[placeholder="limit"]').fill('2');
    const answer = page.waitForResponse((r) => r.url().startsWith(`${gateway.url}/api/v1/tours?`));
    await operation.getByRole('button', { name: 'Execute' }).click();
    const body = (await (await answer).json()) as { items: unknown[] };
    expect(body.items).toHaveLength(2);
    await operation.locator('.responses-wrapper .live-responses-table').waitFor();

    expect(problems).toEqual([]);
  });
});
