// Browser tests of the device page (#/devices/{id}) against the dev server's
// fixed history, calibration and rejection fixtures: the page opened by URL,
// charts of 24 h of history, the back button, a calibration round trip with
// a refused value, the CSV download, and the phone layout. Screenshots go
// to ENVIROMON_ARTIFACTS (device-page.png, device-page-phone.png).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { cardSelector, eventually, frames, launch, screenshot, watch } from './browser.mjs';
import { startDevServer } from './devserver.mjs';

let browser;
let server;
before(async () => {
  browser = await launch();
  server = await startDevServer({ devices: 3, hub: false, tickMs: 0, extras: true });
});
after(async () => {
  await server?.close();
  await browser?.close();
});

async function open(t, path, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'en-US', acceptDownloads: true });
  t.after(() => context.close());
  const page = await context.newPage();
  const seen = watch(page);
  await page.goto(`${server.url}${path}`);
  return { page, seen };
}

// historyShown waits for the device page's history and returns its range
// ({ from, to, step } as the page asked for them).
async function historyShown(page) {
  await page.waitForSelector('#device-view[data-history="ready"]', { timeout: 15000 });
  return page.$eval('#device-view', (e) => ({ range: e.dataset.range, from: e.dataset.from, to: e.dataset.to, step: e.dataset.step }));
}

// expected is the fixture's buckets of id and metric within the range shown.
function expected(id, metric, q) {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  return server.history.get(id)[q.step][metric].filter((p) => Date.parse(p.t) >= from && Date.parse(p.t) < to);
}

describe('fleet cards', () => {
  test('each card charts the last hour from history at once, then extends it live', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/');
    const spark = page.locator(`${cardSelector('sim-002')} .spark`);
    // 1-minute buckets of the last hour: 60, or 61 when the hour starts mid-minute.
    await eventually(async () => assert.ok(Number(await spark.getAttribute('data-points')) >= 60, await spark.getAttribute('data-points')));
    assert.equal(await spark.locator('canvas').count(), 1, 'drawn by uPlot');
    const before = Number(await spark.getAttribute('data-points'));
    const res = await fetch(`${server.url}/api/telemetry`, { method: 'POST', body: JSON.stringify({ deviceId: 'sim-002', messageId: 'live-1', temperature: 21 }) });
    assert.equal(res.status, 200);
    // No live hub here: the page's poll stands in for it.
    await page.evaluate(() => window.__enviromon.live.resync());
    await eventually(async () => assert.equal(Number(await spark.getAttribute('data-points')), before + 1));
    assert.equal(await page.locator(`${cardSelector('no-readings')} .spark`).innerText(), 'no temperature yet');
    assert.deepEqual(seen.errors, []);
  });
});

describe('device page', () => {
  test('opened by URL, it charts 24 h of history with min/max bands', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/#/devices/sim-001');
    const q = await historyShown(page);
    assert.equal(q.range, '24h');
    assert.equal(q.step, '1m');
    assert.equal(Date.parse(q.to) - Date.parse(q.from), 24 * 3600e3);
    assert.equal(await page.locator('#device-title').innerText(), 'sim-001');
    assert.equal(await page.locator('#fleet-view').isVisible(), false);
    for (const metric of ['temperature', 'humidity', 'pressure']) {
      const want = expected('sim-001', metric, q);
      assert.ok(want.length >= 1439, `${metric}: the fixture covers 24 h (${want.length} buckets)`);
      const chart = page.locator(`.history-chart[data-metric="${metric}"]`);
      assert.equal(await chart.getAttribute('data-points'), String(want.length), `${metric}: every bucket charted`);
      assert.equal(await chart.locator('canvas').count(), 1, `${metric}: a uPlot canvas`);
      // uPlot's own data: times, min, avg, max, with the band between max and min.
      const drawn = await page.evaluate((m) => {
        const u = window.__enviromon.devicePage.charts[m].chart.plot;
        return { len: u.data[0].length, avg: u.data[2][0], series: u.series.map((s) => s.label), band: u.bands[0].series };
      }, metric);
      assert.equal(drawn.len, want.length);
      assert.equal(drawn.avg, want[0].avg);
      assert.deepEqual(drawn.series.slice(1), ['min', 'avg', 'max']);
      assert.deepEqual(drawn.band, [3, 1]);
    }
    assert.equal(await page.locator('.chart-box[data-metric="light"]').isVisible(), false, 'no light chart for a device without light');
    assert.match(await page.locator('#device-view [data-field="count"]').innerText(), /^\d+$/);

    await page.click('button[data-range="7d"]');
    const week = await historyShown(page);
    assert.equal(week.step, '1h');
    assert.equal(await page.locator('.history-chart[data-metric="temperature"]').getAttribute('data-points'), String(expected('sim-001', 'temperature', week).length));
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
    await eventually(async () => assert.match(await page.locator('#rejections').innerText(), /temperature 999 °C outside -40\.\.80/));

    await page.goBack();
    await page.locator('#fleet-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#device-view').isVisible(), false);
    assert.equal(await page.locator(`${cardSelector('sim-001')} .spark canvas`).count(), 1, 'the fleet charts drawn again');
    await page.goForward();
    await page.locator('#device-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#device-title').innerText(), 'with-light');
    // An id with markup is text on its page, and links round-trip.
    await page.goto(`${server.url}/#/devices/${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
    await page.waitForSelector('#device-view[data-history="ready"]');
    assert.equal(await page.locator('#device-title').innerText(), '<img src=x onerror=alert(1)>');
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
  });

  test('calibration round trip: saved, and a refused value shown at its field', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/#/devices/sim-002');
    await page.waitForSelector('#calibration-form[data-state="none"]');
    assert.equal(await page.inputValue('#cal-temperatureSlope'), '');

    await page.fill('#cal-temperatureSlope', '1.5');
    await page.fill('#cal-temperatureYIntercept', '-2');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="saved"]');
    assert.match(await page.locator('#calibration-status').innerText(), /Saved/);
    assert.deepEqual(server.cals.get('sim-002'), {
      temperatureSlope: 1.5,
      temperatureYIntercept: -2,
      humiditySlope: null,
      humidityYIntercept: null,
      pressureSlope: null,
      pressureYIntercept: null,
    });

    // Reloaded, the page reads the calibration back from the API.
    await page.reload();
    await page.waitForSelector('#calibration-form[data-state="loaded"]');
    assert.equal(await page.inputValue('#cal-temperatureSlope'), '1.5');
    assert.equal(await page.inputValue('#cal-temperatureYIntercept'), '-2');

    // 1e999 is a JSON number the API refuses: its message goes next to the field.
    await page.fill('#cal-humiditySlope', '1e999');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="refused"]');
    const error = page.locator('[data-error-for="humiditySlope"]');
    assert.match(await error.innerText(), /calibrationBody\.humiditySlope/);
    assert.equal(await page.getAttribute('#cal-humiditySlope', 'aria-invalid'), 'true');
    assert.equal(await page.locator('[data-error-for="temperatureSlope"]').isVisible(), false);
    assert.equal(server.cals.get('sim-002').humiditySlope, null, 'nothing saved');

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
    assert.equal(server.cals.get('sim-002').humiditySlope, 0.9);
    assert.deepEqual(seen.errors, []);
  });

  test('the CSV download holds the range shown', { timeout: 60000 }, async (t) => {
    const { page, seen } = await open(t, '/#/devices/sim-003');
    const q = await historyShown(page);
    await page.waitForSelector('#download-csv:not([disabled])');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    assert.match(download.suggestedFilename(), /^sim-003-24h-\d{4}-\d\d-\d\dT\d{6}Z\.csv$/);
    const text = await readFile(await download.path(), 'utf8');
    const lines = text.split('\r\n');
    assert.equal(lines.pop(), '', 'ends with a line break');
    assert.equal(lines[0], 'time,metric,min,avg,max,n');
    const metrics = ['temperature', 'humidity', 'pressure'];
    const want = metrics.flatMap((m, i) => expected('sim-003', m, q).map((p) => ({ ...p, metric: m, i })));
    want.sort((a, b) => Date.parse(a.t) - Date.parse(b.t) || a.i - b.i);
    assert.equal(lines.length - 1, want.length, 'one row per bucket and metric');
    assert.deepEqual(lines.slice(1, 4), want.slice(0, 3).map((p) => `${p.t},${p.metric},${p.min},${p.avg},${p.max},${p.n}`));
    assert.equal(lines.at(-1), (({ t, metric, min, avg, max, n }) => `${t},${metric},${min},${avg},${max},${n}`)(want.at(-1)));
    for (const line of lines.slice(1)) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z,(temperature|humidity|pressure),-?[\d.]+,-?[\d.]+,-?[\d.]+,\d+$/);
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
