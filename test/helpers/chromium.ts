/** Headless Chromium for browser tests, from the system install (no Playwright download). */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * Path of a Chromium binary: `CHROMIUM_PATH` when set (even if it does not exist, so a wrong
 * setting fails loudly at launch), else the first Debian/Ubuntu install found; undefined if none.
 */
export function chromiumPath(): string | undefined {
  const fromEnv = process.env['CHROMIUM_PATH'];
  if (fromEnv) return fromEnv;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

// The machine running tests may be offline: without the background-networking flags Chromium
// keeps dialling Google services (updates, sync, field trials) and floods refused connections.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium; throws when {@link chromiumPath} finds none. Close the browser when done. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    throw new Error(`No Chromium found: set CHROMIUM_PATH or install one at ${CANDIDATES.join(' or ')}`);
  }
  return chromium.launch({ executablePath, args: ARGS });
}
