// Browser tests of the device page (#/devices/{id}) against the dev server,
// which answers what the app answered in test/fixtures: the page opened by
// URL, charts of 24 h of history, the back button, a calibration round trip
// with a refused value, the CSV download, and the phone layout. The page's
// clock is pinned to the fixtures' now, and what it shows is checked
// against the fixture files. Screenshots go to ENVIROMON_ARTIFACTS
// (device-page.png, device-page-phone.png).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { cardSelector, eventually, frames, launch, number, screenshot, watch } from './browser.mjs';
import { NOW, fixture, fixtureNames, startDevServer } from './devserver.mjs';

const devices = new Map(fixture('devices.json').map((d) => [d.deviceId, d]));
const histories = fixtureNames(/^history-/).map(fixture);
const kitchen = [...devices.keys()].find((id) => id.startsWith('kitchen'));

let browser;
let server;
before(async () => {
  browser = await launch();
  server = await startDevServer({ hub: false, tickMs: 0 });
});
after(async () => {
  await server?.close();
  await browser?.close();
});

async function open(t, path, viewport = { width: 1280, height: 900 }, base = server.url) {
  const context = await browser.newContext({ viewport, locale: 'en-US', acceptDownloads: true });
  t.after(() => context.close());
  await context.clock.setFixedTime(NOW);
  const page = await context.newPage();
  const seen = watch(page);
  await page.goto(`${base}${path}`);
  return { page, seen };
}

// historyShown waits for the device page's history and returns its range
// ({ from, to, step } as the page asked for them).
async function historyShown(page) {
  await page.waitForSelector('#device-view[data-history="ready"]', { timeout: 15000 });
  return page.$eval('#device-view', (e) => ({ range: e.dataset.range, from: e.dataset.from, to: e.dataset.to, step: e.dataset.step }));
}

// expected is the app's buckets of id and metric (the fixture) within the
// range q.
function expected(id, metric, q) {
  const h = histories.find((x) => x.deviceId === id && x.metric === metric && x.step === q.step);
  assert.ok(h, `a history fixture of ${id} ${metric} ${q.step}`);
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  return h.points.filter((p) => Date.parse(p.t) >= from && Date.parse(p.t) < to);
}

const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

describe('fleet cards', () => {
  test('each card charts the last hour from history at once, then extends it live', { timeout: 60000 }, async (t) => {
    // A server of its own: the live frames it replays change its answers.
    const live = await startDevServer({ hub: true, tickMs: 0 });
    t.after(() => live.close());
    const { page, seen } = await open(t, '/', undefined, live.url);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10000 });
    const spark = page.locator(`${cardSelector('sim-001')} .spark`);
    const hour = expected('sim-001', 'temperature', { step: '1m', from: iso(NOW - 3600e3), to: iso(NOW) });
    assert.equal(hour.length, 60, 'the fixture has every minute of the last hour');
    // The hour's buckets, and the latest state's own point.
    await eventually(async () => assert.equal(Number(await spark.getAttribute('data-points')), hour.length + 1));
    assert.equal(await spark.locator('canvas').count(), 1, 'drawn by uPlot');
    // The app's live frames after now: sim-001's first is the third.
    const first = live.live.findIndex((f) => f.target === 'newMessage' && f.arguments[0][0].deviceId === 'sim-001');
    live.replay(first + 1);
    await eventually(async () => assert.equal(Number(await spark.getAttribute('data-points')), hour.length + 2));
    assert.equal(await page.locator(`${cardSelector('no-readings')} .spark`).innerText(), 'no temperature yet');
    assert.deepEqual(seen.errors, []);
  });
});

describe('device page', () => {
  test('opened by URL, it charts 24 h of history with min/max bands', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/#/devices/sim-001');
    const q = await historyShown(page);
    assert.deepEqual(q, { range: '24h', step: '1m', from: iso(NOW - 24 * 3600e3), to: iso(NOW) });
    assert.equal(await page.locator('#device-title').innerText(), 'sim-001');
    assert.equal(await page.locator('#fleet-view').isVisible(), false);
    for (const metric of ['temperature', 'humidity', 'pressure']) {
      const want = expected('sim-001', metric, q);
      assert.equal(want.length, 24 * 60, `${metric}: the fixture covers 24 h`);
      const chart = page.locator(`.history-chart[data-metric="${metric}"]`);
      assert.equal(await chart.getAttribute('data-points'), String(want.length), `${metric}: every bucket charted`);
      assert.equal(await chart.locator('canvas').count(), 1, `${metric}: a uPlot canvas`);
      // uPlot's own data: times, min, avg, max, with the band between max and min.
      const drawn = await page.evaluate((m) => {
        const u = window.__enviromon.devicePage.charts[m].chart.plot;
        return { len: u.data[0].length, first: [1, 2, 3].map((i) => u.data[i][0]), last: u.data[2].at(-1), series: u.series.map((s) => s.label), band: u.bands[0].series };
      }, metric);
      assert.equal(drawn.len, want.length, `${metric}: no gap in a day of minutes`);
      assert.deepEqual(drawn.first, [want[0].min, want[0].avg, want[0].max]);
      assert.equal(drawn.last, want.at(-1).avg);
      assert.deepEqual(drawn.series.slice(1), ['min', 'avg', 'max']);
      assert.deepEqual(drawn.band, [3, 1]);
    }
    assert.equal(await page.locator('.chart-box[data-metric="light"]').isVisible(), false, 'no light chart for a device without light');
    assert.equal(number(await page.locator('#device-view [data-field="count"]').innerText()), devices.get('sim-001').count);

    await page.click('button[data-range="7d"]');
    const week = await historyShown(page);
    assert.equal(week.step, '1h');
    const hours = expected('sim-001', 'temperature', week);
    assert.ok(hours.length >= 24, `a day of hours at least (${hours.length})`);
    assert.equal(await page.locator('.history-chart[data-metric="temperature"]').getAttribute('data-points'), String(hours.length));
    await page.click('button[data-range="24h"]');
    await historyShown(page);
    await screenshot(page, 'device-page.png', true);
    assert.deepEqual(seen.errors, []);
  });

  test('cards link to device pages and the back button returns to the fleet', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/');
    await page.locator(cardSelector('with-light')).waitFor();
    await page.click(`${cardSelector('with-light')} a.device-link`);
    await historyShown(page);
    assert.equal(new URL(page.url()).hash, '#/devices/with-light');
    assert.equal(await page.locator('#device-title').innerText(), 'with-light');
    assert.equal(await page.locator('.chart-box[data-metric="light"]').isVisible(), true, 'a light chart for a device with light');
    const reasons = fixture('rejected.json').filter((r) => r.deviceId === 'with-light').map((r) => r.reason);
    assert.equal(reasons.length, 1);
    await eventually(async () => assert.ok((await page.locator('#rejections').innerText()).includes(reasons[0]), reasons[0]));

    await page.goBack();
    await page.locator('#fleet-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#device-view').isVisible(), false);
    assert.equal(await page.locator(`${cardSelector('sim-001')} .spark canvas`).count(), 1, 'the fleet charts drawn again');
    await page.goForward();
    await page.locator('#device-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#device-title').innerText(), 'with-light');
    // An id with quotes, parentheses and %-escapes is text on its page,
    // and so is a geo with markup; links round-trip.
    await page.goto(`${server.url}/#/devices/${encodeURIComponent(kitchen)}`);
    await page.waitForSelector('#device-view[data-history="ready"]');
    assert.equal(await page.locator('#device-title').innerText(), kitchen);
    assert.equal(await page.locator('#device-view [data-field="geo"]').innerText(), devices.get(kitchen).geo);
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
  });

  test('calibration: the stored one shown, a round trip saved, a refused value shown at its field', { timeout: 60000 }, async (t) => {
    const stored = fixture('calibration-sim-002.json');
    const { page, seen } = await open(t, '/#/devices/sim-002');
    await page.waitForSelector('#calibration-form[data-state="loaded"]');
    for (const [field, value] of Object.entries(stored)) {
      assert.equal(await page.inputValue(`#cal-${field}`), value === null ? '' : String(value), field);
    }

    await page.goto(`${server.url}/#/devices/sim-003`);
    await page.waitForSelector('#calibration-form[data-state="none"]');
    assert.equal(await page.inputValue('#cal-temperatureSlope'), '');
    await page.fill('#cal-temperatureSlope', '1.5');
    await page.fill('#cal-temperatureYIntercept', '-2');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="saved"]');
    assert.match(await page.locator('#calibration-status').innerText(), /Saved/);
    assert.deepEqual(server.cals.get('sim-003'), { ...Object.fromEntries(Object.keys(stored).map((k) => [k, null])), temperatureSlope: 1.5, temperatureYIntercept: -2 });

    // Reloaded, the page reads the calibration back from the API.
    await page.reload();
    await page.waitForSelector('#calibration-form[data-state="loaded"]');
    assert.equal(await page.inputValue('#cal-temperatureSlope'), '1.5');
    assert.equal(await page.inputValue('#cal-temperatureYIntercept'), '-2');

    // 1e999 is a JSON number the app refuses: its message goes next to the field.
    const refusal = fixture('calibration-refused.json').find((r) => r.kind === 'number' && r.field === 'humiditySlope');
    await page.fill('#cal-humiditySlope', '1e999');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="refused"]');
    const error = page.locator('[data-error-for="humiditySlope"]');
    assert.ok((await error.innerText()).includes(refusal.body.error), await error.innerText());
    assert.equal(await page.getAttribute('#cal-humiditySlope', 'aria-invalid'), 'true');
    assert.equal(await page.locator('[data-error-for="temperatureSlope"]').isVisible(), false);
    assert.equal(server.cals.get('sim-003').humiditySlope, null, 'nothing saved');

    // Text that is no number is caught before it is sent.
    await page.fill('#cal-humiditySlope', 'abc');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="invalid"]');
    assert.match(await error.innerText(), /Not a number/);

    await page.fill('#cal-humiditySlope', '0.9');
    await page.fill('#cal-humidityYIntercept', '3');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="saved"]');
    assert.equal(await error.isVisible(), false, 'the error goes once the value is accepted');
    assert.equal(server.cals.get('sim-003').humiditySlope, 0.9);
    assert.deepEqual(seen.errors, []);
  });

  test('the CSV download holds the range shown', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/#/devices/sim-002');
    const q = await historyShown(page);
    await page.waitForSelector('#download-csv:not([disabled])');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    assert.equal(download.suggestedFilename(), `sim-002-24h-${q.to.replaceAll(':', '')}.csv`);
    const text = await readFile(await download.path(), 'utf8');
    // Long form, one row per bucket and metric, in time order: the app's
    // buckets as the fixtures hold them, numbers as the API wrote them.
    const metrics = ['temperature', 'humidity', 'pressure', 'light'];
    const rows = metrics.flatMap((m, i) => expected('sim-002', m, q).map((p) => ({ ...p, metric: m, i })));
    rows.sort((a, b) => Date.parse(a.t) - Date.parse(b.t) || a.i - b.i);
    assert.ok(rows.length > 3 * 60, `${rows.length} rows`);
    const want = ['time,metric,min,avg,max,n', ...rows.map((p) => `${p.t},${p.metric},${p.min},${p.avg},${p.max},${p.n}`), ''];
    assert.deepEqual(text.split('\r\n'), want);
    assert.deepEqual(seen.errors, []);
  });

  test('phone layout: usable at 390 px, no horizontal scroll', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/#/devices/with-light', { width: 390, height: 844 });
    await historyShown(page);
    await frames(page);
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(widths.scroll <= widths.client, `no horizontal scroll (${widths.scroll} > ${widths.client})`);
    for (const sel of ['#device-charts canvas', '#calibration-form input', '#calibration-save', '#download-csv', 'button[data-range="7d"]']) {
      const boxes = await page.locator(sel).evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => [r.left, r.right]));
      assert.ok(boxes.length > 0, sel);
      for (const [left, right] of boxes) assert.ok(left >= 0 && right <= 390, `${sel} within the screen: ${left}..${right}`);
    }
    await screenshot(page, 'device-page-phone.png', true);
    assert.deepEqual(seen.errors, []);
  });
});
