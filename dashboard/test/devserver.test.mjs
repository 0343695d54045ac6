// Browser tests of the dashboard against the dev server (test/devserver.mjs),
// not the app: what needs no real pipeline — 1,000 devices, paging, search,
// escaping, the phone layout, an unreachable hub, the message shapes and
// orderings the live hub may deliver, and the fleet figures of
// /api/summary. Screenshots go to ENVIROMON_ARTIFACTS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cardSelector, eventually, field, figure, frames, launch, number, screenshot, search, sleep, watch } from './browser.mjs';
import { startDevServer } from './devserver.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// open loads url in a fresh context; setup runs on the context first.
async function open(t, url, viewport = { width: 1280, height: 900 }, setup = undefined) {
  const context = await browser.newContext({ viewport, locale: 'en-US' });
  t.after(() => context.close());
  if (setup) await setup(context);
  const page = await context.newPage();
  const seen = watch(page);
  await page.goto(url);
  return { context, page, seen };
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
    await eventually(async () => assert.equal(await figure(page, 'devices'), '1,005'));
    assert.equal(await figure(page, 'rejected'), '1'); // with-light's 999 °C
    assert.equal(await page.locator('[data-fleet="rejected"].alert').count(), 1);
    assert.equal(await page.locator('#summary').isVisible(), false, 'no match count without a search');

    await page.click('#page-next');
    await frames(page);
    const second = await cardIds(page);
    assert.equal(second.length, 50);
    assert.equal(second[0], 'sim-0048'); // after 3 extras that sort first and sim-0001..0047
    await page.click('#page-prev');

    await search(page, 'sim-09');
    assert.equal(await page.locator('#page-info').innerText(), 'Page 1 of 2');
    assert.equal(await page.locator('#summary').innerText(), '100 matching');
    assert.equal(await figure(page, 'devices'), '1,005', 'the fleet figures ignore the search');
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
    await page.waitForSelector('#fleet[data-state="current"]');
    const { scroll, width, figures } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: document.documentElement.clientWidth,
      figures: [...document.querySelectorAll('[data-fleet]')].map((e) => {
        const box = e.getBoundingClientRect();
        const style = getComputedStyle(e);
        return { key: e.dataset.fleet, text: e.innerText, right: box.right, bottom: box.bottom, px: parseFloat(style.fontSize), lines: Math.round(box.height / parseFloat(style.lineHeight)), clipped: e.scrollWidth > e.clientWidth };
      }),
    }));
    assert.ok(scroll <= width, `${scroll}px wide on ${width}px`);
    // Every figure on the first screen, in a readable size, on one line.
    assert.deepEqual(figures.map((f) => f.key), ['devices', 'online', 'offline', 'messages', 'rejected']);
    for (const f of figures) {
      assert.ok(f.right <= width && f.bottom <= 844, `${f.key} "${f.text}" off screen: ${JSON.stringify(f)}`);
      assert.ok(f.px >= 16 && f.lines === 1 && !f.clipped, `${f.key} "${f.text}" hard to read: ${JSON.stringify(f)}`);
    }
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

  test('fleet figures come from /api/summary on a timer, not by re-reading the devices', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/?offline=2`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10000 });
    const summary = async () => (await fetch(`${server.url}/api/summary?offlineAfter=2s`)).json();
    const was = await summary();
    await eventually(async () => assert.equal(await figure(page, 'devices'), String(was.devices)));
    const asked = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      // A new card reads its chart's last hour once: not a re-read of the fleet.
      if (u.pathname.startsWith('/api/') && !u.pathname.endsWith('/history')) asked.push(u.pathname + u.search);
    });

    // A new device and a rejected reading, while live: the cards show them at
    // once, the figures at their next refresh.
    const id = `fleet-${Date.now()}`;
    await fetch(`${server.url}/api/telemetry`, { method: 'POST', body: JSON.stringify([{ deviceId: id, temperature: 20 }, { deviceId: id, temperature: 999 }]) });
    await eventually(async () => assert.equal(await field(page, id, 'rejected'), '1'));
    await eventually(
      async () => {
        assert.equal(await figure(page, 'devices'), String(was.devices + 1));
        assert.equal(await figure(page, 'messages'), String(was.messages + 1));
        assert.equal(await figure(page, 'rejected'), String(was.rejected + 1));
      },
      { timeout: 15000 },
    );
    // Nothing sends any more: every device turns offline in the figures too.
    await eventually(
      async () => {
        assert.equal(await figure(page, 'online'), '0');
        assert.equal(await figure(page, 'offline'), String(was.devices + 1));
      },
      { timeout: 15000 },
    );
    // And again, by the timer alone.
    const refreshes = () => page.evaluate(() => globalThis.__enviromon.fleetRefreshes);
    const done = await refreshes();
    await eventually(async () => assert.ok((await refreshes()) > done), { timeout: 15000 });
    assert.ok(asked.length >= 2, `asked ${asked.join(' ')}`);
    assert.deepEqual(new Set(asked), new Set(['/api/summary?offlineAfter=2s']), 'the timer re-reads only the summary');
    assert.deepEqual(seen.errors, []);
  });

  test('fleet figures that are not numbers are refused, then refreshed', { timeout: 40000 }, async (t) => {
    const markup = '<img src=x onerror=alert(1)>';
    const body = JSON.stringify({ devices: markup, online: markup, offline: 0, messages: 1, rejected: 0, lastSeen: markup });
    let route;
    const { context, page, seen } = await open(t, `${server.url}/`, undefined, (ctx) => {
      route = (r) => r.fulfill({ status: 200, contentType: 'application/json', body });
      return ctx.route(/\/api\/summary/, route);
    });
    await page.waitForSelector('#fleet[data-state="unavailable"]', { timeout: 10000 });
    assert.match(await page.locator('#notice').innerText(), /Could not load the fleet figures: GET \/api\/summary: not a fleet summary/);
    assert.equal(await figure(page, 'devices'), '—');
    assert.equal(await page.locator('img').count(), 0);

    await context.unroute(/\/api\/summary/, route);
    await page.waitForSelector('#fleet[data-state="current"]', { timeout: 15000 });
    assert.match(await figure(page, 'devices'), /^\d+$/);
    assert.equal(await page.locator('#notice').isVisible(), false);
    assert.deepEqual(seen.dialogs, []);
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
