// Browser tests of the dashboard's alerts against a running Enviromon app:
// a rule made through the API, readings sent over POST /api/telemetry, and
// the raise, the acknowledgement and the clear as a user sees them. The app
// is started by whoever runs this (app/cmd/enviromon alerts_browser_test.go);
// this file never starts it. Env: ENVIROMON_URL (required),
// ENVIROMON_ARTIFACTS (screenshots, default test-artifacts), CHROMIUM_PATH.
//
//   ENVIROMON_URL=http://127.0.0.1:8080 node --test dashboard/test/alerts-browser.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, field, launch, number, screenshot, search, sleep, watch } from './browser.mjs';
import { api, BASE, run, send } from './appclient.mjs';
import { alertSelector } from '../js/alerts.js';



/** rule creates an alert rule, deleted when the test ends. */
async function rule(t, body) {
  await api('POST', '/api/alert-rules', body);
  t.after(() => fetch(`${BASE}/api/alert-rules/${encodeURIComponent(body.id)}`, { method: 'DELETE' }).catch(() => {}));
}

/** listed returns the API's alert of rule on device, or undefined. */
async function listed(ruleId, deviceId) {
  return (await api('GET', '/api/alerts')).find((a) => a.ruleId === ruleId && a.deviceId === deviceId);
}

const firingCount = async () => (await api('GET', '/api/alerts')).filter((a) => a.state === 'firing').length;

describe('alerts', { skip: BASE === '' && 'ENVIROMON_URL is not set (the app under test)' }, () => {
  let browser;

  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  // open loads the dashboard in a fresh context and waits for the live
  // connection and the first read of the alerts.
  async function open(t, viewport = { width: 1280, height: 900 }) {
    const context = await browser.newContext({ viewport, locale: 'en-US', isMobile: viewport.width < 500 });
    t.after(() => context.close());
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${BASE}/`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 20000 });
    await page.waitForSelector('#alerts[data-state="current"]', { timeout: 10000 });
    return { context, page, seen };
  }

  const active = async (page) => number(await page.locator('[data-alerts="active"]').innerText({ timeout: 2000 }));
  const debug = (page) => page.evaluate(() => ({ refreshes: globalThis.__enviromon.alertRefreshes, events: globalThis.__enviromon.alertEvents }));

  test('an alert is raised, acknowledged and cleared live', { timeout: 90000 }, async (t) => {
    const device = `alert-${run}-room`;
    const ruleId = `hot-${run}`;
    // Above 30 °C for 1 s; cleared at 29 °C or below (hysteresis 1).
    await rule(t, { id: ruleId, metric: 'temperature', above: 30, for: '1s', hysteresis: 1, deviceId: device });
    const baseline = await firingCount();
    await send(device, { temperature: 22 });
    const { page, seen } = await open(t);
    await search(page, device);
    await eventually(async () => assert.equal(await field(page, device, 'temperature'), '22.0 °C'));
    await eventually(async () => assert.equal(await active(page), baseline));
    const item = page.locator(alertSelector(ruleId, device));
    const loaded = await debug(page);

    // One reading above: pending, not firing, until the condition held 1 s.
    await send(device, { temperature: 31.5 });
    await eventually(async () => assert.equal(await field(page, device, 'temperature'), '31.5 °C'));
    assert.equal(await item.count(), 0, 'raised before its "for" ran out');

    // More readings above, until one is judged a second after the first.
    await eventually(
      async () => {
        await send(device, { temperature: 32 });
        await sleep(300);
        assert.equal(await item.getAttribute('data-state', { timeout: 500 }), 'firing');
      },
      { timeout: 20000, interval: 400 },
    );
    await eventually(async () => {
      assert.equal((await item.locator('[data-field="what"]').innerText()).trim(), 'temperature 32.0 °C');
      assert.equal(await active(page), baseline + 1);
    });
    assert.match(await item.locator('[data-field="since"]').innerText(), /^since \d+ s ago$/);
    assert.equal(await page.locator('[data-alerts="active"].alert').count(), 1, 'the figure is drawn as a warning');
    const live = await debug(page);
    assert.equal(live.refreshes, loaded.refreshes, 'the raise came without re-reading the list');
    assert.ok(live.events > loaded.events, 'the raise came on the hub\'s "alert" target');
    const apiAlert = await listed(ruleId, device);
    assert.equal(apiAlert?.state, 'firing');
    console.log(`screenshot: ${await screenshot(page, 'alert-firing.png')}`);

    // Acknowledge: the button goes, the entry says so, and the API agrees.
    const button = item.getByRole('button', { name: 'Acknowledge' });
    assert.equal(await button.isVisible(), true);
    await button.click();
    await eventually(async () => {
      assert.equal(await item.getAttribute('data-acknowledged'), 'true');
      assert.match(await item.locator('[data-field="ack"]').innerText(), /^acknowledged \d+ s ago$/);
      assert.equal(await button.isVisible(), false);
    });
    const acked = await listed(ruleId, device);
    assert.equal(acked?.state, 'firing');
    assert.ok(acked?.acknowledgedAt, `GET /api/alerts: ${JSON.stringify(acked)}`);
    assert.equal(await active(page), baseline + 1, 'acknowledged is still firing');
    // The acknowledgement re-reads the list once; wait for it to settle.
    await eventually(async () => assert.ok((await debug(page)).refreshes > live.refreshes));

    // Back under 30 but within the hysteresis band: still firing.
    await send(device, { temperature: 29.5 });
    await eventually(async () => assert.equal(await field(page, device, 'temperature'), '29.5 °C'));
    await sleep(1000);
    assert.equal(await item.getAttribute('data-state'), 'firing', 'cleared inside the hysteresis band');
    assert.equal((await listed(ruleId, device))?.state, 'firing');

    // Past the band: cleared, live, with the acknowledgement kept.
    const settled = await debug(page);
    await send(device, { temperature: 25 });
    await eventually(async () => {
      assert.equal(await item.getAttribute('data-state'), 'cleared');
      assert.equal((await item.locator('[data-field="what"]').innerText()).trim(), 'temperature back to 25.0 °C');
      assert.equal(await active(page), baseline);
    });
    assert.match(await item.locator('[data-field="ack"]').innerText(), /^acknowledged/);
    const cleared = await debug(page);
    assert.equal(cleared.refreshes, settled.refreshes, 'the clear came without re-reading the list');
    assert.ok(cleared.events > settled.events, 'the clear came on the hub\'s "alert" target');
    assert.equal((await listed(ruleId, device))?.state, 'cleared');
    assert.equal(await page.locator('[data-alerts="active"].alert').count(), baseline > 0 ? 1 : 0);
    console.log(`screenshot: ${await screenshot(page, 'alert-cleared.png')}`);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.dialogs, []);
  });

  test('on a phone an alert fits the screen, and a refused acknowledgement says why', { timeout: 60000 }, async (t) => {
    const device = `alert-${run}-phone`;
    const ruleId = `wet-${run}`;
    await rule(t, { id: ruleId, metric: 'humidity', above: 80, deviceId: device });
    await send(device, { temperature: 20, humidity: 91 });
    await eventually(async () => assert.equal((await listed(ruleId, device))?.state, 'firing'));

    const { context, page, seen } = await open(t, { width: 390, height: 844 });
    const item = page.locator(alertSelector(ruleId, device));
    await item.waitFor({ timeout: 10000 });
    assert.equal((await item.locator('[data-field="what"]').innerText()).trim(), 'humidity 91.0 %');
    const layout = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: document.documentElement.clientWidth,
      overflowing: [...document.querySelectorAll('#alerts, .alert-item, .alert-item [data-field], .alert-ack, [data-alerts]')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .map((e) => e.dataset.field ?? e.className),
      figure: (() => {
        const e = document.querySelector('[data-alerts="active"]');
        const box = e.getBoundingClientRect();
        return { bottom: box.bottom, px: parseFloat(getComputedStyle(e).fontSize) };
      })(),
    }));
    assert.ok(layout.scroll <= layout.width, `page is ${layout.scroll}px wide on a ${layout.width}px screen`);
    assert.deepEqual(layout.overflowing, []);
    assert.ok(layout.figure.bottom <= 844 && layout.figure.px >= 16, `active alerts figure: ${JSON.stringify(layout.figure)}`);
    console.log(`screenshot: ${await screenshot(page, 'alert-phone.png')}`);

    // An app with auth answers 403 to a viewer without the write role.
    const ack = /\/api\/alerts\/.*\/ack$/;
    await context.route(ack, (r) =>
      r.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'forbidden: this change needs the role Telemetry.Write' }) }));
    const button = item.getByRole('button', { name: 'Acknowledge' });
    await button.click();
    await eventually(async () => {
      assert.equal(await item.locator('[data-field="error"]').innerText(), 'Not acknowledged: forbidden: this change needs the role Telemetry.Write');
      assert.equal(await button.isEnabled(), true, 'the button is usable again');
    });
    assert.equal(await item.getAttribute('data-acknowledged'), 'false');
    assert.equal((await listed(ruleId, device))?.acknowledgedAt, undefined);

    // Allowed again, the same button acknowledges and the error goes.
    await context.unroute(ack);
    await button.click();
    await eventually(async () => {
      assert.equal(await item.getAttribute('data-acknowledged'), 'true');
      assert.equal(await item.locator('[data-field="error"]').isVisible(), false);
    });
    assert.deepEqual(seen.errors, []);
  });
});
