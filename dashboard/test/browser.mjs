// Helpers shared by the browser tests: Debian's Chromium driven by
// playwright-core (never a downloaded browser), and small waits.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

/** CHROMIUM is the browser binary: $CHROMIUM_PATH or Debian's chromium. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** ARTIFACTS is where screenshots go. */
export const ARTIFACTS = resolve(process.env.ENVIROMON_ARTIFACTS || 'test-artifacts');

/** launch starts a headless Chromium with a fresh temporary profile. */
export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * watch records what a page must never do: throw, or open a dialog (an
 * injected onerror=alert(1) would).
 */
export function watch(page) {
  const seen = { errors: [], dialogs: [] };
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  return seen;
}

/** screenshot saves page as ARTIFACTS/name and returns the path. */
export async function screenshot(page, name, fullPage = false) {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage });
  return path;
}

/**
 * eventually retries fn (which throws or rejects until its condition holds)
 * until it succeeds or timeout ms pass, then throws its last error.
 */
export async function eventually(fn, { timeout = 10000, interval = 200 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** number reads a shown value ("-5.3 °C", "1,234") as a number; NaN for "—". */
export function number(text) {
  const m = /-?\d[\d,]*(\.\d+)?/.exec(text ?? '');
  return m ? Number(m[0].replaceAll(',', '')) : NaN;
}

/** cardSelector selects the card of device id (any characters). */
export function cardSelector(id) {
  return `[data-device-id="${id.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"]`;
}

/** field returns the visible text of a card's data-field. */
export async function field(page, id, name) {
  const loc = page.locator(`${cardSelector(id)} [data-field="${name}"]`);
  return (await loc.innerText({ timeout: 2000 })).trim();
}

/** figure returns the visible text of a fleet figure ([data-fleet=key]). */
export async function figure(page, key) {
  return (await page.locator(`[data-fleet="${key}"]`).innerText({ timeout: 2000 })).trim();
}

/** search types q into the page's search box and waits for the redraw. */
export async function search(page, q) {
  await page.fill('#search', q);
  await frames(page);
}

/** frames waits until the page has drawn two animation frames. */
export function frames(page) {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
