// Browser tests of the dashboard against a running Enviromon app. The app
// is started by whoever runs this (the Go test suite); this file never
// starts it. Env: ENVIROMON_URL (the app's base URL, required),
// ENVIROMON_ARTIFACTS (screenshots, default test-artifacts), CHROMIUM_PATH.
//
//   ENVIROMON_URL=http://127.0.0.1:8080 node --test dashboard/test/dashboard.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cardSelector, eventually, field, figure, launch, number, screenshot, search, sleep, watch } from './browser.mjs';
import { api, BASE, run, send } from './appclient.mjs';
import { startDevServer } from './devserver.mjs';



describe('dashboard', { skip: BASE === '' && 'ENVIROMON_URL is not set (the app under test)' }, () => {
  let browser;

  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  // open loads the dashboard in a fresh context and waits for the live
  // connection; setup runs on the context before the page loads.
  async function open(t, { query = '', viewport = { width: 1280, height: 900 }, setup, live = true } = {}) {
    const context = await browser.newContext({ viewport, locale: 'en-US', isMobile: viewport.width < 500 });
    t.after(() => context.close());
    if (setup) await setup(context);
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${BASE}/${query}`);
    await page.waitForSelector('h1:text("Environmental Data")');
    if (live) await page.waitForSelector('#connection[data-state="live"]', { timeout: 20000 });
    return { context, page, seen };
  }

  test('device cards appear and their counts rise', { timeout: 60000 }, async (t) => {
    const id = `ui-${run}-count`;
    await send(id, { temperature: 21.5, humidity: 40, pressure: 1010 });
    const { page, seen } = await open(t);
    await search(page, id);
    await eventually(async () => assert.equal(number(await field(page, id, 'count')), 1));

    await send(id, { temperature: 22.5, humidity: 41, pressure: 1011 });
    await send(id, { temperature: 23.5, humidity: 42, pressure: 1012 });
    await eventually(async () => {
      assert.equal(number(await field(page, id, 'count')), 3);
      assert.equal(await field(page, id, 'temperature'), '23.5 °C');
      assert.equal(await field(page, id, 'humidity'), '42.0 %');
      assert.equal(await field(page, id, 'pressure'), '1012.0 hPa');
      assert.equal(await field(page, id, 'status'), 'online');
    });
    const points = await page.locator(`${cardSelector(id)} .spark`).getAttribute('data-points');
    assert.ok(Number(points) >= 2, `chart holds the live points, got ${points}`);

    // A device the app hears from by itself (its simulator) counts up on
    // the page too. Which one is found from the API.
    const counts = async () => new Map((await api('GET', '/api/devices')).map((d) => [d.deviceId, d.count]));
    const first = await counts();
    const busy = await eventually(
      async () => {
        const now = await counts();
        const id = [...now].find(([k, n]) => !k.includes(run) && n > (first.get(k) ?? Infinity))?.[0];
        assert.ok(id, 'no device is sending by itself');
        return id;
      },
      { timeout: 8000, interval: 1000 },
    ).catch(() => null);
    if (busy === null) {
      t.diagnostic('no device sends by itself (no simulator): checked only the devices this test sent for');
    } else {
      await search(page, busy);
      const before = await eventually(async () => number(await field(page, busy, 'count')));
      await eventually(async () => assert.ok(number(await field(page, busy, 'count')) > before, `${busy} count stays ${before}`), { timeout: 20000 });
      await search(page, '');
    }
    assert.match(await page.locator('#last-updated').innerText(), /\d/);
    console.log(`screenshot: ${await screenshot(page, 'dashboard.png')}`);
    reportLatency(t, await page.evaluate(() => globalThis.__enviromon?.receipts ?? []));
    assert.deepEqual(seen.errors, []);
  });

  test('0 is shown as a value and a missing reading as a dash', { timeout: 30000 }, async (t) => {
    const id = `ui-${run}-zero`;
    await send(id, { temperature: 0, humidity: 0 });
    const { page } = await open(t);
    await search(page, id);
    await eventually(async () => {
      assert.equal(await field(page, id, 'temperature'), '0.0 °C');
      assert.equal(await field(page, id, 'humidity'), '0.0 %');
      assert.equal(await field(page, id, 'pressure'), '—');
      assert.equal(await page.locator(`${cardSelector(id)} [data-field="light"]`).isVisible(), false);
    });
  });

  test('a calibration change moves the shown temperature', { timeout: 75000 }, async (t) => {
    const id = `ui-${run}-cal`;
    await send(id, { temperature: 20, humidity: 50, pressure: 1000 });
    const { page } = await open(t);
    await search(page, id);
    await eventually(async () => assert.equal(number(await field(page, id, 'temperature')), 20));

    await api('PUT', `/api/calibration/${encodeURIComponent(id)}`, { temperatureSlope: 1, temperatureYIntercept: 10 });
    t.after(() => fetch(`${BASE}/api/calibration/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch(() => {}));
    // The app may cache calibrations for a while (30 s by default, unless the
    // change reaches the cache): keep the device talking until it shows.
    await eventually(
      async () => {
        await send(id, { temperature: 20, humidity: 50, pressure: 1000 });
        await sleep(300);
        assert.equal(number(await field(page, id, 'temperature')), 30);
      },
      { timeout: 45000, interval: 700 },
    );
    assert.equal(await field(page, id, 'humidity'), '50.0 %');
  });

  test('an invalid reading raises the rejected count and says why', { timeout: 30000 }, async (t) => {
    const { page } = await open(t);
    const id = `ui-${run}-count`; // made by the first test; any card would do
    await send(id, { temperature: 20 });
    await search(page, id);
    const before = await eventually(async () => {
      const n = number(await field(page, id, 'rejected'));
      assert.ok(Number.isInteger(n));
      return n;
    });
    await send(id, { temperature: 999 });
    await eventually(async () => assert.equal(number(await field(page, id, 'rejected')), before + 1));
    const why = await page.locator(`${cardSelector(id)} [data-field="rejected"]`).getAttribute('title');
    assert.match(why ?? '', /temperature/i);
  });

  test('a device that stops sending turns offline', { timeout: 30000 }, async (t) => {
    const id = `stop-test-${run}`;
    const { page } = await open(t, { query: '?offline=3' });
    await search(page, id);
    await send(id, { temperature: 19 });
    const sent = Date.now();
    await eventually(async () => assert.equal(await field(page, id, 'status'), 'online'), { timeout: 2500 });
    await eventually(async () => assert.equal(await field(page, id, 'status'), 'offline'), { timeout: 8000 });
    const took = (Date.now() - sent) / 1000;
    assert.ok(took >= 2.5, `offline after ${took} s, before the 3 s threshold`);
    assert.match(await field(page, id, 'lastSeen'), /\d+ s ago/);
  });

  test('after the live connection drops the page reconnects and resyncs', { timeout: 60000 }, async (t) => {
    const sockets = [];
    const negotiate = /\/api\/negotiate(\?|$)/;
    const { context, page } = await open(t, {
      setup: (ctx) =>
        ctx.routeWebSocket(/.*/, (ws) => {
          sockets.push({ ws, server: ws.connectToServer() });
        }),
    });
    const id = `ui-${run}-resync`;
    await search(page, id);
    await send(id, { temperature: 11.1 });
    await eventually(async () => assert.equal(await field(page, id, 'temperature'), '11.1 °C'));
    assert.ok(sockets.length > 0, 'the live connection used no WebSocket to cut');

    // Cut the connection and refuse new ones, as when the network goes.
    await context.route(negotiate, (route) => route.fulfill({ status: 503, body: 'test: outage' }));
    for (const { ws, server } of sockets.splice(0)) {
      await server.close({ code: 4000, reason: 'test: outage' }).catch(() => {});
      await ws.close({ code: 4000, reason: 'test: outage' }).catch(() => {});
    }
    await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10000 });

    // A change made while the page is away reaches it only by the resync.
    await send(id, { temperature: 22.2 });
    await sleep(1000);
    assert.equal(await field(page, id, 'temperature'), '11.1 °C');

    await context.unroute(negotiate);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30000 });
    await eventually(async () => assert.equal(await field(page, id, 'temperature'), '22.2 °C'), { timeout: 5000 });
  });

  test('the fleet figures are the app\'s /api/summary, and follow it', { timeout: 90000 }, async (t) => {
    const id = `ui-${run}-fleet`;
    await send(id, { temperature: 20 });
    const { page, seen } = await open(t);
    const want = await api('GET', '/api/summary?offlineAfter=60s');
    const figures = async () => Object.fromEntries(await Promise.all(['devices', 'online', 'offline', 'messages', 'rejected'].map(async (k) => [k, number(await figure(page, k))])));
    const shown = await eventually(
      async () => {
        const f = await figures();
        assert.equal(f.devices, want.devices); // no test adds devices meanwhile
        assert.equal(f.online + f.offline, f.devices);
        assert.ok(f.online >= 1, 'this test\'s device is online');
        assert.ok(f.messages >= want.messages && f.rejected >= want.rejected, `shown ${JSON.stringify(f)}, app said ${JSON.stringify(want)}`);
        return f;
      },
      { timeout: 25000 },
    );
    // A message and a rejection reach the figures by their refresh.
    await send(id, { temperature: 21 });
    await send(id, { temperature: 999 });
    await eventually(
      async () => {
        const f = await figures();
        assert.ok(f.messages >= shown.messages + 1 && f.rejected >= shown.rejected + 1, `shown ${JSON.stringify(f)}, before ${JSON.stringify(shown)}`);
      },
      { timeout: 25000 },
    );
    assert.deepEqual(seen.errors, []);

    // The dev server's fake answers in the same shape, and refuses the same.
    const fake = await startDevServer({ devices: 1, tickMs: 0, hub: false });
    t.after(() => fake.close());
    const fakeSummary = await (await fetch(`${fake.url}/api/summary?offlineAfter=60s`)).json();
    assert.deepEqual(Object.keys(fakeSummary).sort(), Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) assert.equal(typeof fakeSummary[k], typeof v, k);
    for (const base of [BASE, fake.url]) {
      const res = await fetch(`${base}/api/summary?offlineAfter=500ms`);
      assert.equal(res.status, 400, base);
      assert.match((await res.json()).error, /offlineAfter/, base);
    }
  });

  // Device ids follow IoT Hub's rules (the app refuses markup in them), so
  // the id carries what those rules let through that HTML or a selector
  // could misread: a quote, parentheses, '=', '$' and %-escapes of markup.
  test('a device id with quotes, parentheses and %-escaped markup is shown as text', { timeout: 30000 }, async (t) => {
    const id = `ui-${run}-x'onerror=window.__xss=1,alert(1)'%3Cb%3E$(alert)`;
    await send(id, { temperature: 20 });
    const { page, seen } = await open(t);
    await search(page, id);
    const card = page.locator(cardSelector(id));
    await card.waitFor({ timeout: 10000 });
    assert.equal((await card.locator('h2').innerText()).trim(), id);
    assert.equal(await page.locator('img').count(), 0, 'an <img> was injected');
    assert.equal(await card.locator('b').count(), 0, 'a <b> was injected');
    assert.equal(await page.evaluate(() => globalThis.__xss), undefined);
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
  });

  test('a phone-sized screen shows the cards without horizontal scrolling', { timeout: 30000 }, async (t) => {
    const { page } = await open(t, { viewport: { width: 390, height: 844 } });
    await page.locator('[data-device-id]').first().waitFor({ timeout: 10000 });
    const { scroll, width, overflowing } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: document.documentElement.clientWidth,
      overflowing: [...document.querySelectorAll('[data-device-id], [data-field], [data-fleet], #connection, #search')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .map((e) => e.dataset.field ?? e.dataset.fleet ?? e.dataset.deviceId ?? e.id),
    }));
    assert.ok(scroll <= width, `page is ${scroll}px wide on a ${width}px screen`);
    assert.deepEqual(overflowing, []);
    console.log(`screenshot: ${await screenshot(page, 'dashboard-phone.png')}`);
  });

  test('the page runs under the app\'s Content-Security-Policy without a violation', { timeout: 30000 }, async (t) => {
    const res = await fetch(`${BASE}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const directive = (name) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `)) ?? '';
    assert.equal(directive('script-src'), "script-src 'self'", `no inline script: ${csp}`);
    assert.equal(directive('frame-ancestors'), "frame-ancestors 'none'");
    assert.match(directive('connect-src'), /^connect-src 'self' .*ws:\/\//, 'the SignalR service, WebSockets included');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');

    // Violations as the page itself sees them, and as Chromium reports them.
    const violations = [];
    const { page } = await open(t, {
      setup: (ctx) =>
        ctx.addInitScript(() => {
          window.__violations = [];
          document.addEventListener('securitypolicyviolation', (e) =>
            window.__violations.push(`${e.effectiveDirective} ${e.blockedURI || 'inline'}`));
        }),
    });
    page.on('console', (m) => {
      if (/Content[ -]Security[ -]Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    // What a visit does: cards, search, the chart's metric, a live update.
    const id = `ui-${run}-csp`;
    await send(id, { temperature: 19.5, humidity: 45, pressure: 1005 });
    await search(page, id);
    await page.selectOption('#metric', 'humidity');
    await eventually(async () => assert.equal(await field(page, id, 'temperature'), '19.5 °C'));
    await send(id, { temperature: 20.5 });
    await eventually(async () => assert.equal(await field(page, id, 'temperature'), '20.5 °C'));
    assert.equal(await page.locator('#connection').getAttribute('data-state'), 'live', 'the live connection works under the policy');
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(violations, []);

    // The watch works: an injected inline script is refused, and reported.
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = true';
      document.body.append(s);
    });
    await eventually(async () => assert.ok((await page.evaluate(() => window.__violations)).some((v) => v.startsWith('script-src'))));
    assert.equal(await page.evaluate(() => window.__inline), undefined, 'an inline script ran');
  });
});

// reportLatency prints how long messages took from the app's lastSeen to
// the page; app and browser share this machine's clock.
function reportLatency(t, receipts) {
  const ms = receipts.filter((r) => r.lastSeen !== null).map((r) => r.at - r.lastSeen).sort((a, b) => a - b);
  if (ms.length === 0) return;
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  const line = `latency lastSeen→page over ${ms.length} messages: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${ms[ms.length - 1]} ms`;
  t.diagnostic(line);
  console.log(line);
}
