// Helpers for browser tests of the board: Debian's Chromium driven by
// playwright-core. Shared by the page tests (against fixture_server.mjs) and
// the end-to-end tests against the real daemon.
//
//   const browser = await launchChromium();
//   const { page, problems } = await openBoardPage(browser, `${url}/board/?lang=en`);
//   await waitForTestId(page, 'actual-h3', '40');
//   await saveScreenshot(page, 'team-en');
//   assert.deepEqual(problems(), []);

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve(process.env.BOARD_SCREENSHOTS || path.join(HERE, 'out'));

export const VIEWPORTS = {
  tv: { width: 1920, height: 1080 },
  desktop: { width: 1366, height: 900 },
  phone: { width: 390, height: 844 },
};

// playwright-core is loaded lazily, so that a missing `npm ci` is reported as
// such rather than as a module resolution error.
async function playwright() {
  try {
    return await import('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed in ${HERE}/node_modules: run scripts/bootstrap (or npm ci there). ${e.message}`);
  }
}

// Launch Chromium headless. Fails (never skips) when it is not installed.
export async function launchChromium(options = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/bootstrap (Debian package chromium) or set CHROMIUM`);
  }
  const { chromium } = await playwright();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine's network is closed: without these Chromium keeps trying to
    // reach Google's services at every start.
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
    ],
    ...options,
  });
}

// A new context (own cookies) and page that records everything a test should
// fail on: Content-Security-Policy violations, uncaught exceptions, console
// errors and failed requests. `problems()` lists them; `ignore` filters out
// expected ones (a function of the message string).
export async function openBoardPage(browser, url, options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport || VIEWPORTS.desktop,
    locale: options.locale || 'en-US',
    timezoneId: options.timezoneId || 'UTC',
    ...(options.context || {}),
  });
  const page = await context.newPage();
  const found = [];
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile || ''}:${e.lineNumber || ''})`);
    });
  });
  page.on('pageerror', (err) => found.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') found.push(`console error: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => {
    // An event stream cut on purpose, or by closing the page, is not a failure of the page.
    if (req.resourceType() === 'eventsource') return;
    found.push(`request failed: ${req.url()} ${req.failure()?.errorText || ''}`);
  });
  if (url) await page.goto(url, { waitUntil: 'load' });
  const ignore = options.ignore || (() => false);
  return {
    page,
    context,
    async problems() {
      let csp = [];
      try {
        csp = await page.evaluate(() => window.__cspViolations || []);
      } catch (e) {
        csp = [`could not read CSP violations: ${e.message}`];
      }
      return [...found, ...csp.map((v) => `CSP violation: ${v}`)].filter((m) => !ignore(m));
    },
    close: () => context.close(),
  };
}

// A CSS selector for a data-testid value (team codes can hold any character).
export function byTestId(id) {
  return `[data-testid="${String(id).replace(/["\\]/g, '\\$&')}"]`;
}

// Wait until the element with data-testid `id` (inside `within`, a selector,
// when given) shows `expected` as its trimmed text, or matches it when
// `expected` is a RegExp. On timeout the error says what was shown instead.
export async function waitForTestId(page, id, expected, { timeout = 5000, within } = {}) {
  const selector = within ? `${within} ${byTestId(id)}` : byTestId(id);
  const isRegExp = expected instanceof RegExp;
  try {
    await page.waitForFunction(
      ({ selector, source, flags, text }) => {
        const node = document.querySelector(selector);
        if (!node) return false;
        const shown = node.textContent.trim();
        return source !== null ? new RegExp(source, flags).test(shown) : shown === text;
      },
      { selector, source: isRegExp ? expected.source : null, flags: isRegExp ? expected.flags : '', text: isRegExp ? null : String(expected) },
      { timeout, polling: 100 },
    );
  } catch (e) {
    const shown = await textOf(page, selector);
    throw new Error(`${selector}: expected ${isRegExp ? expected : JSON.stringify(String(expected))} within ${timeout} ms, shown ${shown === null ? '(no such element)' : JSON.stringify(shown)}`);
  }
}

// The trimmed text of the first element matching `selector`, or null.
export async function textOf(page, selector) {
  return page.evaluate((s) => {
    const node = document.querySelector(s);
    return node ? node.textContent.trim() : null;
  }, selector);
}

export async function testIdText(page, id, within) {
  return textOf(page, within ? `${within} ${byTestId(id)}` : byTestId(id));
}

export async function isVisible(page, id, within) {
  return page.locator(within ? `${within} ${byTestId(id)}` : byTestId(id)).first().isVisible();
}

// Put a marker into the page's window; `samePage` is true while it survives
// (that is, the page was not reloaded or navigated).
export async function markPage(page) {
  const marker = `m${Math.random().toString(36).slice(2)}`;
  await page.evaluate((m) => {
    window.__boardMarker = m;
  }, marker);
  return { samePage: () => page.evaluate((m) => window.__boardMarker === m, marker) };
}

// Page size against the viewport: scroll sizes and the viewport's.
export async function pageExtent(page) {
  return page.evaluate(() => {
    const s = document.scrollingElement;
    return { scrollWidth: s.scrollWidth, scrollHeight: s.scrollHeight, innerWidth: window.innerWidth, innerHeight: window.innerHeight };
  });
}

// Save a full-page PNG as BOARD_SCREENSHOTS/<name>.png; returns its path.
export async function saveScreenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
