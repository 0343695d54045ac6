// Browser tests of the fleet cards' history and the device page against the
// real app (embedded mode: SQLite, the embedded MQTT broker, the local
// SignalR service), whose store the Go driver seeded with days of history
// before starting it (app/cmd/enviromon/device_browser_test.go). This file
// never starts the app. Env: ENVIROMON_URL (the app's base URL, required),
// ENVIROMON_SEEDED (JSON [{id, light}] of the seeded devices),
// ENVIROMON_ARTIFACTS (screenshots, default test-artifacts), CHROMIUM_PATH.
//
//   go test -run TestDevicePageInChromium -count=1 -v ./app/cmd/enviromon/
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { rangeQuery } from '../js/history.js';
import { cardSelector, eventually, frames, launch, screenshot, watch } from './browser.mjs';
import { api, BASE, run, send } from './appclient.mjs';

const SEEDED = JSON.parse(process.env.ENVIROMON_SEEDED || '[]');
const enc = encodeURIComponent;
const METRICS = ['temperature', 'humidity', 'pressure', 'light'];
const desktop = { width: 1280, height: 900 };
const phone = { width: 390, height: 844 };


/** history returns the app's buckets of id and metric for q ({from, to, step}). */
async function history(id, metric, q) {
  const body = await api('GET', `/api/devices/${enc(id)}/history?metric=${metric}&from=${enc(q.from)}&to=${enc(q.to)}&step=${q.step}`);
  return body.points;
}

/**
 * heartbeat has every seeded device report its latest raw values again, so
 * that the fleet shows them online (heard from within 60 s).
 */
async function heartbeat() {
  for (const { id } of SEEDED) {
    const d = await api('GET', `/api/devices/${enc(id)}`);
    await send(id, d.light === null ? d.raw : { ...d.raw, light: d.light });
  }
}

describe('device page on the real app', { skip: BASE === '' && 'ENVIROMON_URL is not set (the app under test)' }, () => {
  let browser;
  before(async () => {
    assert.ok(SEEDED.length > 0, 'ENVIROMON_SEEDED names the seeded devices');
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  // open loads path in a fresh context and waits for the live connection.
  async function open(t, path, viewport = desktop) {
    const context = await browser.newContext({ viewport, locale: 'en-US', isMobile: viewport.width < 500, acceptDownloads: true });
    t.after(() => context.close());
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${BASE}${path}`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 20000 });
    return { page, seen };
  }

  // historyShown waits for the device page's history and returns the query
  // of what it shows ({ range, from, to, step }).
  async function historyShown(page, range) {
    const sel = range ? `#device-view[data-history="ready"][data-range="${range}"]` : '#device-view[data-history="ready"]';
    await page.waitForSelector(sel, { timeout: 20000 });
    return page.$eval('#device-view', (e) => ({ range: e.dataset.range, from: e.dataset.from, to: e.dataset.to, step: e.dataset.step }));
  }

  // shown is what the device page holds of metric: its points (t in ms)
  // and uPlot's x values (s) and x scale.
  function shown(page, metric) {
    return page.evaluate((m) => {
      const p = window.__enviromon.devicePage;
      const u = p.charts[m].chart.plot;
      return { points: p.data[m] ?? [], xs: u ? [...u.data[0]] : [], scale: u ? [u.scales.x.min, u.scales.x.max] : null };
    }, metric);
  }

  // sparkPoints is how many points the card of id charts.
  async function sparkPoints(page, id) {
    return Number(await page.locator(`${cardSelector(id)} .spark`).getAttribute('data-points'));
  }

  test('after a reload, cards and the device page chart the history ingested before it', { timeout: 90000 }, async (t) => {
    await heartbeat();
    const id = `reload-${run}`;
    const { page, seen } = await open(t, '/');
    const temps = [20, 21, 22, 23, 24];
    for (const temperature of temps) await send(id, { temperature, humidity: 40 + temperature, pressure: 1000 + temperature });
    await eventually(async () => assert.equal(await page.locator(`${cardSelector(id)} [data-field="count"]`).getAttribute('data-value'), '5'));

    // A reload forgets every live point: what the charts show comes from
    // the history API, which reads the SQLite store.
    await page.reload();
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 20000 });
    for (const { id: seeded } of SEEDED) {
      // 1-minute buckets of the last hour: only history holds that many.
      await eventually(async () => assert.ok((await sparkPoints(page, seeded)) >= 55, `${seeded}: ${await sparkPoints(page, seeded)} points`), { timeout: 15000 });
      assert.equal(await page.locator(`${cardSelector(seeded)} .spark canvas`).count(), 1, `${seeded}: drawn by uPlot`);
    }
    const want = await history(id, 'temperature', rangeQuery('1h', Date.now()));
    assert.ok(want.length >= 1, 'the app kept the readings');
    await eventually(async () => {
      const past = await page.evaluate((i) => window.__enviromon.model.get(i)?.past.temperature ?? null, id);
      assert.deepEqual(past, want.map((p) => ({ t: Date.parse(p.t), v: p.avg })), 'the card read its hour from the history API');
    });
    assert.ok((await sparkPoints(page, id)) >= want.length);
    assert.equal(await page.locator(`${cardSelector(id)} [data-field="count"]`).getAttribute('data-value'), '5');
    await frames(page);
    console.log(`screenshot: ${await screenshot(page, 'fleet-view.png')}`);

    // The device page, opened from the card and reloaded, shows the five
    // readings in its 1 h chart: bucket counts, min and max.
    await page.click(`${cardSelector(id)} a.device-link`);
    await historyShown(page, '24h');
    for (const reload of [false, true]) {
      if (reload) await page.reload();
      await page.click('button[data-range="1h"]');
      await historyShown(page, '1h');
      const { points } = await shown(page, 'temperature');
      assert.equal(points.reduce((n, p) => n + p.n, 0), temps.length, `reload ${reload}: every reading counted once`);
      assert.equal(Math.min(...points.map((p) => p.min)), 20);
      assert.equal(Math.max(...points.map((p) => p.max)), 24);
      assert.equal(await page.locator('.history-chart[data-metric="temperature"] canvas').count(), 1);
    }
    assert.deepEqual(seen.errors, []);
  });

  test('a seeded device page charts 1 h, 24 h and 7 d of history', { timeout: 90000 }, async (t) => {
    const dev = SEEDED[0];
    const { page, seen } = await open(t, `/#/devices/${enc(dev.id)}`);
    const ranges = {
      '24h': { step: '1m', span: 24 * 3600e3, min: 1430, slack: 5 * 60e3 },
      '1h': { step: '1m', span: 3600e3, min: 55, slack: 5 * 60e3 },
      '7d': { step: '1h', span: 7 * 24 * 3600e3, min: 167, slack: 2 * 3600e3 },
    };
    for (const [range, r] of Object.entries(ranges)) {
      if (range !== '24h') await page.click(`button[data-range="${range}"]`); // 24 h is what the page opens with
      const q = await historyShown(page, range);
      assert.equal(q.step, r.step, range);
      assert.equal(Date.parse(q.to) - Date.parse(q.from), r.span, range);
      assert.equal(await page.locator(`button[data-range="${range}"]`).getAttribute('aria-pressed'), 'true');
      for (const metric of METRICS.filter((m) => m !== 'light' || dev.light)) {
        const want = await history(dev.id, metric, q);
        const got = await shown(page, metric);
        const label = `${range} ${metric}`;
        assert.ok(want.length >= r.min, `${label}: ${want.length} buckets seeded`);
        assert.equal(await page.locator(`.history-chart[data-metric="${metric}"]`).getAttribute('data-points'), String(want.length), label);
        assert.deepEqual(got.points, want.map((p) => ({ t: Date.parse(p.t), min: p.min, avg: p.avg, max: p.max, n: p.n })), `${label}: the API's buckets`);
        // The chart spans the range: points from its start to its end.
        assert.deepEqual(got.scale, [Date.parse(q.from) / 1000, Date.parse(q.to) / 1000], `${label}: x scale`);
        assert.ok(got.xs[0] * 1000 - Date.parse(q.from) <= r.slack, `${label}: first point ${new Date(got.xs[0] * 1000).toISOString()} near ${q.from}`);
        assert.ok(Date.parse(q.to) - got.xs.at(-1) * 1000 <= r.slack, `${label}: last point ${new Date(got.xs.at(-1) * 1000).toISOString()} near ${q.to}`);
        assert.equal(await page.locator(`.history-chart[data-metric="${metric}"] canvas`).count(), 1, `${label}: a uPlot canvas`);
      }
    }
    await page.click('button[data-range="24h"]');
    await historyShown(page, '24h');
    await frames(page);
    console.log(`screenshot: ${await screenshot(page, 'device-page.png', true)}`);
    assert.deepEqual(seen.errors, []);
  });

  test('calibration round trip through the form, with a refused value shown at its field', { timeout: 90000 }, async (t) => {
    const id = `cal-${run}`;
    await send(id, { temperature: 20, humidity: 50, pressure: 1000 });
    const { page, seen } = await open(t, `/#/devices/${enc(id)}`);
    const stored = () => api('GET', `/api/calibration/${enc(id)}`);
    await page.waitForSelector('#calibration-form[data-state="none"]');
    assert.equal(await page.inputValue('#cal-temperatureSlope'), '');

    await page.fill('#cal-temperatureSlope', '1.5');
    await page.fill('#cal-temperatureYIntercept', '-2');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="saved"]');
    const saved = { temperatureSlope: 1.5, temperatureYIntercept: -2, humiditySlope: null, humidityYIntercept: null, pressureSlope: null, pressureYIntercept: null };
    assert.deepEqual(await stored(), saved);

    // New readings use it: 20 °C × 1.5 − 2 shows as 28 °C. The app may
    // trust a cached calibration for a while: the device keeps talking.
    await eventually(
      async () => {
        await send(id, { temperature: 20, humidity: 50, pressure: 1000 });
        await page.waitForSelector('#device-view [data-field="temperature"][data-value="28"]', { timeout: 700 });
      },
      { timeout: 45000, interval: 300 },
    );

    // Reloaded, the page reads the calibration back from the app.
    await page.reload();
    await page.waitForSelector('#calibration-form[data-state="loaded"]');
    assert.equal(await page.inputValue('#cal-temperatureSlope'), '1.5');
    assert.equal(await page.inputValue('#cal-temperatureYIntercept'), '-2');

    // 1e999 is a JSON number beyond float64: the API refuses it, and its
    // message goes next to the field it names.
    await page.fill('#cal-humiditySlope', '1e999');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="refused"]');
    const error = page.locator('[data-error-for="humiditySlope"]');
    assert.ok(await error.isVisible(), 'the error is shown');
    assert.match(await error.innerText(), /humiditySlope/);
    assert.equal(await page.getAttribute('#cal-humiditySlope', 'aria-invalid'), 'true');
    const row = page.locator('label.cal-field', { has: page.locator('#cal-humiditySlope') });
    assert.equal(await row.locator('[data-error-for="humiditySlope"]').count(), 1, 'in the field\'s own row');
    for (const other of ['temperatureSlope', 'temperatureYIntercept', 'humidityYIntercept', 'pressureSlope', 'pressureYIntercept']) {
      assert.equal(await page.locator(`[data-error-for="${other}"]`).innerText(), '', `no error at ${other}`);
    }
    assert.deepEqual(await stored(), saved, 'nothing stored');

    await page.fill('#cal-humiditySlope', '0.9');
    await page.fill('#cal-humidityYIntercept', '3');
    await page.click('#calibration-save');
    await page.waitForSelector('#calibration-status[data-state="saved"]');
    assert.equal(await error.innerText(), '', 'the error goes once the value is accepted');
    assert.equal(await page.getAttribute('#cal-humiditySlope', 'aria-invalid'), null);
    assert.deepEqual(await stored(), { ...saved, humiditySlope: 0.9, humidityYIntercept: 3 });
    assert.deepEqual(seen.errors, []);
  });

  test('the CSV download holds the history API\'s buckets of the range shown', { timeout: 90000 }, async (t) => {
    const dev = SEEDED[0];
    const { page, seen } = await open(t, `/#/devices/${enc(dev.id)}`);
    for (const range of ['24h', '7d']) {
      if (range !== '24h') await page.click(`button[data-range="${range}"]`);
      const q = await historyShown(page, range);
      await page.waitForSelector('#download-csv:not([disabled])');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
      assert.equal(download.suggestedFilename(), `${dev.id}-${range}-${q.to.replaceAll(':', '')}.csv`);
      const lines = (await readFile(await download.path(), 'utf8')).split('\r\n');
      assert.equal(lines.pop(), '', 'ends with a line break');
      assert.equal(lines[0], 'time,metric,min,avg,max,n', 'one header row');
      assert.equal(lines.filter((l) => l.startsWith('time,')).length, 1, 'one header row only');

      // The app's answer for the same range, in the CSV's order: by time,
      // then metric.
      const want = [];
      for (const [i, metric] of METRICS.entries()) {
        for (const p of await history(dev.id, metric, q)) want.push({ ...p, metric, i });
      }
      want.sort((a, b) => Date.parse(a.t) - Date.parse(b.t) || a.i - b.i);
      assert.ok(want.length > 0);
      assert.deepEqual(lines.slice(1), want.map((p) => [p.t, p.metric, p.min, p.avg, p.max, p.n].join(',')), `${range}: one row per bucket and metric`);
      const time = q.step === '1h' ? /^\d{4}-\d\d-\d\dT\d\d:00:00Z$/ : /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/;
      for (const line of lines.slice(1)) {
        const [t0, ...rest] = line.split(',');
        assert.match(t0, time, 'RFC 3339 UTC bucket start');
        assert.ok(Date.parse(t0) >= Date.parse(q.from) && Date.parse(t0) < Date.parse(q.to), `${t0} within the range shown`);
        assert.equal(rest.length, 5);
      }
      if (dev.light) assert.ok(lines.some((l) => l.split(',')[1] === 'light'), 'light rows for a device with light');
    }
    assert.deepEqual(seen.errors, []);
  });

  test('phone layout: the device page has no horizontal scroll and its charts fit', { timeout: 60000 }, async (t) => {
    const dev = SEEDED[0];
    const { page, seen } = await open(t, `/#/devices/${enc(dev.id)}`, phone);
    await historyShown(page, '24h');
    await frames(page);
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.equal(widths.client, phone.width);
    assert.ok(widths.scroll <= widths.client, `no horizontal scroll (${widths.scroll} > ${widths.client})`);
    const charts = await page.locator('.history-chart').evaluateAll((hosts) =>
      hosts
        .filter((h) => !h.closest('[hidden]'))
        .map((h) => {
          const host = h.getBoundingClientRect();
          const c = h.querySelector('canvas')?.getBoundingClientRect();
          return { metric: h.dataset.metric, host: [host.left, host.right], canvas: c ? [c.left, c.right] : null };
        }),
    );
    assert.equal(charts.length, dev.light ? 4 : 3);
    for (const { metric, host, canvas } of charts) {
      assert.ok(canvas, `${metric}: drawn`);
      assert.ok(canvas[0] >= 0 && canvas[1] <= phone.width, `${metric}: chart ${canvas} within the screen`);
      assert.ok(canvas[0] >= host[0] - 0.5 && canvas[1] <= host[1] + 0.5, `${metric}: chart ${canvas} within its box ${host}`);
    }
    for (const sel of ['#calibration-form input', '#calibration-save', '#download-csv', 'button[data-range="7d"]']) {
      for (const [left, right] of await page.locator(sel).evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => [r.left, r.right]))) {
        assert.ok(left >= 0 && right <= phone.width, `${sel} within the screen: ${left}..${right}`);
      }
    }
    console.log(`screenshot: ${await screenshot(page, 'device-page-phone.png', true)}`);
    assert.deepEqual(seen.errors, []);
  });

  test('phone layout: the fleet has no horizontal scroll and its sparklines fit', { timeout: 60000 }, async (t) => {
    await heartbeat();
    const { page, seen } = await open(t, '/', phone);
    for (const { id } of SEEDED) {
      await eventually(async () => assert.ok((await sparkPoints(page, id)) >= 55, `${id}: ${await sparkPoints(page, id)} points`), { timeout: 15000 });
    }
    await frames(page);
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(widths.scroll <= widths.client, `no horizontal scroll (${widths.scroll} > ${widths.client})`);
    const sparks = await page.locator('.spark canvas').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => [r.left, r.right]));
    assert.ok(sparks.length >= SEEDED.length);
    for (const [left, right] of sparks) assert.ok(left >= 0 && right <= phone.width, `sparkline within the screen: ${left}..${right}`);
    console.log(`screenshot: ${await screenshot(page, 'fleet-view-phone.png', true)}`);
    assert.deepEqual(seen.errors, []);
  });
});
