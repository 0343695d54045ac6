// Browser tests of the dashboard against the dev server (test/devserver.mjs),
// which answers what the app answered in test/fixtures: what needs no real
// pipeline — 1,000 devices, paging, search, escaping, the phone layout, an
// unreachable hub, the app's live frames and the shapes and orderings the
// hub may deliver, and the fleet figures of /api/summary. The page's clock
// is pinned to the fixtures' now. Screenshots go to ENVIROMON_ARTIFACTS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cardSelector, eventually, field, figure, frames, launch, number, screenshot, search, sleep, watch } from './browser.mjs';
import { NOW, fixture, startDevServer } from './devserver.mjs';

const devices = new Map(fixture('devices.json').map((d) => [d.deviceId, d]));
const summary = fixture('summary.json');
const kitchen = [...devices.keys()].find((id) => id.startsWith('kitchen'));

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// open loads url in a fresh context at the fixtures' now; setup runs on
// the context first.
async function open(t, url, viewport = { width: 1280, height: 900 }, setup = undefined) {
  const context = await browser.newContext({ viewport, locale: 'en-US' });
  t.after(() => context.close());
  await context.clock.setFixedTime(NOW);
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
    server = await startDevServer({ devices: 1000, hub: false, tickMs: 0 });
  });
  after(() => server?.close());

  test('shows the snapshot, says the live connection is down, pages and searches', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/`);
    await page.waitForSelector('#connection[data-state="offline"]', { timeout: 10000 });
    await page.locator('[data-device-id]').first().waitFor();
    assert.match(await page.locator('#connection').innerText(), /Offline/);
    assert.equal((await cardIds(page)).length, 50, 'one page of cards in the DOM');
    assert.equal(await page.locator('#page-info').innerText(), `Page 1 of ${Math.ceil((devices.size + 1000) / 50)}`);
    // The figures are the app's (summary.json), not a count of the cards:
    // the 1,000 copies are in no figure.
    await eventually(async () => assert.equal(await figure(page, 'devices'), String(summary.devices)));
    assert.equal(await figure(page, 'rejected'), String(summary.rejected));
    assert.equal(await figure(page, 'offline'), String(summary.offline));
    assert.equal(await page.locator('[data-fleet="rejected"].alert').count(), 1);
    assert.equal(await page.locator('#summary').isVisible(), false, 'no match count without a search');

    await page.click('#page-next');
    await frames(page);
    const second = await cardIds(page);
    assert.equal(second.length, 50);
    assert.equal(second[0], 'load-0050'); // after kitchen… and load-0001..0049
    await page.click('#page-prev');

    await search(page, 'load-09');
    assert.equal(await page.locator('#page-info').innerText(), 'Page 1 of 2');
    assert.equal(await page.locator('#summary').innerText(), '100 matching');
    assert.equal(await figure(page, 'devices'), String(summary.devices), 'the fleet figures ignore the search');
    assert.ok((await cardIds(page)).every((id) => id.includes('load-09')));
    await search(page, 'no such device');
    assert.equal(await page.locator('#empty').innerText(), 'No device id matches the search.');
    await search(page, '');

    console.log(`screenshot: ${await screenshot(page, 'devserver-1000.png')}`);
    assert.deepEqual(seen.errors, []);
  });

  test('awkward devices: quotes and %-escapes in an id, markup in geo, 0 °C, no readings, light, rejections', { timeout: 30000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/`);
    await page.locator(cardSelector(kitchen)).waitFor();
    assert.equal(await page.locator(`${cardSelector(kitchen)} h2`).innerText(), kitchen);
    assert.equal(await field(page, kitchen, 'geo'), devices.get(kitchen).geo);
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.locator(`${cardSelector(kitchen)} b`).count(), 0);
    await search(page, 'zero-degrees');
    assert.equal(devices.get('zero-degrees').temperature, 0);
    assert.equal(await field(page, 'zero-degrees', 'temperature'), '0.0 °C');
    assert.equal(await field(page, 'zero-degrees', 'humidity'), '0.0 %');
    await search(page, 'no-readings');
    assert.equal(await field(page, 'no-readings', 'temperature'), '—');
    assert.equal(await page.locator(`${cardSelector('no-readings')} [data-field="light"]`).isVisible(), false);
    await search(page, 'with-light');
    const light = devices.get('with-light');
    assert.equal(await field(page, 'with-light', 'light'), String(light.light));
    assert.equal(await field(page, 'with-light', 'rejected'), String(light.rejected));
    assert.equal(await page.locator(`${cardSelector('with-light')} [data-field="rejected"]`).getAttribute('title'), `Last rejection: ${light.lastRejection}`);
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

  // Last: the frames it replays change what the server answers.
  test('polling while offline brings what the app answers next, without adding cards', { timeout: 40000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/`);
    await page.locator(cardSelector(kitchen)).waitFor();
    assert.equal(number(await field(page, kitchen, 'count')), devices.get(kitchen).count);
    await search(page, 'sim-001');
    assert.equal(number(await field(page, 'sim-001', 'count')), devices.get('sim-001').count);
    const first = server.live.findIndex((f) => f.target === 'newMessage' && f.arguments[0][0].deviceId === 'sim-001');
    server.replay(first + 1);
    const next = server.live[first].arguments[0][0].count;
    await eventually(async () => assert.equal(number(await field(page, 'sim-001', 'count')), next), { timeout: 25000, interval: 500 });
    await search(page, '');
    assert.equal((await cardIds(page)).length, 50);
    assert.deepEqual(seen.errors, []);
  });
});

describe('a live hub', () => {
  let server;
  before(async () => {
    server = await startDevServer({ hub: true, tickMs: 0 });
  });
  after(() => server?.close());

  test('shows the app\'s live frames: updates, a new device, its alerts', { timeout: 30000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10000 });
    server.replay(server.live.length);
    const last = new Map();
    for (const f of server.live) if (f.target === 'newMessage') for (const d of f.arguments[0]) last.set(d.deviceId, d);
    assert.ok(!devices.has('sim-004') && last.has('sim-004'), 'the frames bring a device the snapshot lacks');
    await search(page, 'sim-004');
    await page.locator(cardSelector('sim-004')).waitFor({ timeout: 10000 });
    await search(page, '');
    for (const [id, d] of last) {
      await search(page, id);
      await eventually(async () => assert.equal(number(await field(page, id, 'count')), d.count, id));
      assert.equal(number(await field(page, id, 'temperature')), Math.round(d.temperature * 10) / 10, id);
    }
    assert.deepEqual(seen.errors, []);
  });

  // The shapes and orderings the hub may deliver: hand-made states, each a
  // fixture device with the fields under test changed.
  const at = (s) => new Date(NOW + s * 1000).toISOString();
  const state = (id, count, seconds, temperature) => ({ ...devices.get('sim-001'), deviceId: id, temperature, count, rejected: 0, lastSeen: at(seconds) });

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

  test('fleet figures come from /api/summary on a timer, not from the cards or live frames', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, `${server.url}/?offline=2`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10000 });
    await eventually(async () => assert.equal(await figure(page, 'devices'), String(summary.devices)));
    const asked = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      // A new card reads its chart's last hour once: not a re-read of the fleet.
      if (u.pathname.startsWith('/api/') && !u.pathname.endsWith('/history')) asked.push(u.pathname + u.search);
    });

    // New devices, live: the cards show them at once; the figures stay the
    // app's until it answers others.
    server.hub.send('newMessage', [[state('fleet-a', 1, 1, 20), state('fleet-b', 1, 1, 21)]]);
    await page.locator(cardSelector('fleet-b')).waitFor({ timeout: 10000 });
    const refreshes = () => page.evaluate(() => globalThis.__enviromon.fleetRefreshes);
    const done = await refreshes();
    await eventually(async () => assert.ok((await refreshes()) > done), { timeout: 15000 });
    for (const key of ['devices', 'online', 'offline', 'messages', 'rejected']) assert.equal(number(await figure(page, key)), summary[key], key);
    assert.ok(asked.length >= 1, `asked ${asked.join(' ')}`);
    assert.deepEqual(new Set(asked), new Set(['/api/summary?offlineAfter=2s']), 'the timer re-reads only the summary');
    assert.deepEqual(seen.errors, []);
  });

  test('fleet figures that are not numbers are refused, then refreshed', { timeout: 40000 }, async (t) => {
    const markup = '<img src=x onerror=alert(1)>';
    const body = JSON.stringify({ ...summary, devices: markup, online: markup, lastSeen: markup });
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
    assert.equal(await figure(page, 'devices'), String(summary.devices));
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
