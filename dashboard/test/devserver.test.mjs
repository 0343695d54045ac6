// Browser tests of the dashboard against the dev server (test/devserver.mjs),
// not the app: what needs no real pipeline — 1,000 devices, paging, search,
// escaping, the phone layout, an unreachable hub, and the message shapes and
// orderings the live hub may deliver. Screenshots go to ENVIROMON_ARTIFACTS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cardSelector, eventually, field, frames, launch, number, screenshot, search, sleep, watch } from './browser.mjs';
import { startDevServer } from './devserver.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function open(t, url, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'en-US' });
  t.after(() => context.close());
  const page = await context.newPage();
  const seen = watch(page);
  await page.goto(url);
  return { page, seen };
}

const cardIds = (page) => page.$$eval('[data-device-id]', (els) => els.map((e) => e.dataset.deviceId));

describe('1,000 devices and no live hub', () => {
  let server;
  before(async () => {
    server = await startDevServer({ devices: 1000, hub: false, tickMs: 1000, extras: true });
  });
  after(() => server?.close());

  test('shows the snapshot, says the live connection is down, pages and searches', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/`);
    await page.waitForSelector('#connection[data-state="offline"]', { timeout: 10000 });
    await page.locator('[data-device-id]').first().waitFor();
    assert.match(await page.locator('#connection').innerText(), /Offline/);
    assert.equal((await cardIds(page)).length, 50, 'one page of cards in the DOM');
    assert.equal(await page.locator('#page-info').innerText(), 'Page 1 of 21');
    assert.match(await page.locator('#summary').innerText(), /^1,005 devices/);

    await page.click('#page-next');
    await frames(page);
    const second = await cardIds(page);
    assert.equal(second.length, 50);
    assert.equal(second[0], 'sim-0048'); // after 3 extras that sort first and sim-0001..0047
    await page.click('#page-prev');

    await search(page, 'sim-09');
    assert.equal(await page.locator('#page-info').innerText(), 'Page 1 of 2');
    assert.match(await page.locator('#summary').innerText(), /100 matching/);
    assert.ok((await cardIds(page)).every((id) => id.includes('sim-09')));
    await search(page, 'no such device');
    assert.equal(await page.locator('#empty').innerText(), 'No device id matches the search.');
    await search(page, '');

    // Polling while offline brings newer counts, without adding cards.
    const before = number(await field(page, 'sim-0001', 'count'));
    await eventually(async () => assert.ok(number(await field(page, 'sim-0001', 'count')) > before), { timeout: 25000, interval: 500 });
    assert.equal((await cardIds(page)).length, 50);
    console.log(`screenshot: ${await screenshot(page, 'devserver-1000.png')}`);
    assert.deepEqual(seen.errors, []);
  });

  test('awkward devices: markup id, 0 °C, no readings, light, rejections', { timeout: 30000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/`);
    const xss = '<img src=x onerror=alert(1)>';
    await page.locator(cardSelector(xss)).waitFor();
    assert.equal(await page.locator(`${cardSelector(xss)} h2`).innerText(), xss);
    assert.equal(await page.locator('img').count(), 0);
    await search(page, 'zero-degrees');
    assert.equal(await field(page, 'zero-degrees', 'temperature'), '0.0 °C');
    assert.equal(await field(page, 'zero-degrees', 'humidity'), '0.0 %');
    await search(page, 'no-readings');
    assert.equal(await field(page, 'no-readings', 'temperature'), '—');
    assert.equal(await page.locator(`${cardSelector('no-readings')} [data-field="light"]`).isVisible(), false);
    await search(page, 'with-light');
    assert.equal(await field(page, 'with-light', 'light'), '345');
    assert.equal(await field(page, 'with-light', 'rejected'), '1');
    assert.match(await page.locator(`${cardSelector('with-light')} [data-field="rejected"]`).getAttribute('title'), /temperature 999/);
    assert.deepEqual(seen.dialogs, []);
  });

  test('a 390×844 phone screen has no horizontal scrolling', { timeout: 30000 }, async (t) => {
    const { page } = await open(t, `${server.url}/`, { width: 390, height: 844 });
    await page.locator('[data-device-id]').first().waitFor();
    const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth }));
    assert.ok(scroll <= width, `${scroll}px wide on ${width}px`);
    console.log(`screenshot: ${await screenshot(page, 'devserver-phone.png')}`);
  });
});

describe('a live hub', () => {
  let server;
  before(async () => {
    server = await startDevServer({ devices: 1, hub: true, tickMs: 0 });
  });
  after(() => server?.close());

  const at = (s) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000).toISOString();
  const state = (id, count, seconds, temperature) => ({ deviceId: id, temperature, humidity: 50, pressure: 1000, light: null, count, rejected: 0, lastSeen: at(seconds) });

  test('takes arrays, single objects and JSON strings, new devices, and never goes back in time', { timeout: 30000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/?offline=100000000`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10000 });
    server.hub.send('newMessage', [[state('new-a', 5, 50, 0)]]);
    server.hub.send('newMessage', [state('new-b', 1, 10, 12.5)]);
    server.hub.send('newMessage', [JSON.stringify([state('new-c', 1, 10, -3)])]);
    await eventually(async () => {
      assert.equal(await field(page, 'new-a', 'temperature'), '0.0 °C');
      assert.equal(await field(page, 'new-b', 'temperature'), '12.5 °C');
      assert.equal(await field(page, 'new-c', 'temperature'), '-3.0 °C');
    });
    // An older state arriving late (the hub may reorder) changes nothing.
    server.hub.send('newMessage', [[state('new-a', 4, 40, 99)]]);
    server.hub.send('newMessage', [[state('new-a', 6, 60, 7)], 'ignored extra argument']);
    await eventually(async () => assert.equal(await field(page, 'new-a', 'count'), '6'));
    server.hub.send('newMessage', [[state('new-a', 5, 50, 99)]]);
    await sleep(300);
    assert.equal(await field(page, 'new-a', 'temperature'), '7.0 °C');
    assert.equal(await page.evaluate(() => globalThis.__enviromon.stale), 2);
    // Garbage is ignored, not fatal.
    server.hub.send('newMessage', ['{not json']);
    server.hub.send('newMessage', [[{ temperature: 1 }]]);
    await sleep(300);
    assert.deepEqual(seen.errors, []);
  });

  test('shows reconnecting while the hub is away, then live again and resyncs', { timeout: 120000 }, async (t) => {
    const { page } = await open(t, `${server.url}/`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10000 });
    await fetch(`${server.url}/dev/hub?on=0`, { method: 'POST' });
    server.hub.drop();
    await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10000 });
    await fetch(`${server.url}/dev/hub?on=1`, { method: 'POST' });
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 20000 });
    const resyncs = await page.evaluate(() => globalThis.__enviromon.resyncs);
    assert.ok(resyncs >= 2, `resynced ${resyncs} times`);
  });
});
