// The dashboard in Debian's Chromium, driven by a Go end-to-end test over
// standard input and output (app/e2e, TestFaultSignalRDown). It opens
// ENVIROMON_URL and prints one JSON line per change of the connection
// indicator ({"state": "live"}). Each line read from standard input is
// {"expect": {"<deviceId>": <count>, ...}, "name": "<screenshot>"}: it waits
// until every card shows that message count and answers {"shown": true}, or
// after 60 s {"shown": false, "got": {...}}. It exits when its input ends.
import { createInterface } from 'node:readline';
import { launch, watch, screenshot, sleep } from './browser.mjs';

const base = process.env.ENVIROMON_URL;
if (!base) {
  console.error('ENVIROMON_URL is not set');
  process.exit(2);
}
const say = (v) => console.log(JSON.stringify(v));

const browser = await launch();
const page = await browser.newPage();
const seen = watch(page);
// Errors the page logs (a refused connection, a CSP violation) go to the
// test's output.
page.on('console', (m) => {
  if (m.type() === 'error') say({ console: m.text() });
});
await page.goto(base + '/');

let last = '';
const poll = setInterval(async () => {
  const state = await page.locator('#connection').getAttribute('data-state').catch(() => '');
  if (state && state !== last) {
    last = state;
    say({ state });
  }
}, 100);

async function shown() {
  return page.evaluate(() => {
    const out = {};
    for (const card of document.querySelectorAll('[data-device-id]')) {
      const v = card.querySelector('[data-field="count"]')?.dataset.value;
      out[card.dataset.deviceId] = v === undefined ? null : Number(v);
    }
    return out;
  });
}

async function waitFor(expect, name) {
  const deadline = Date.now() + 60000;
  let got = {};
  for (;;) {
    got = await shown();
    if (Object.entries(expect).every(([id, n]) => got[id] === n)) break;
    if (Date.now() > deadline) return { shown: false, got };
    await sleep(200);
  }
  if (name) await screenshot(page, name, true);
  return { shown: true };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { expect, name } = JSON.parse(line);
  say(await waitFor(expect, name));
}
clearInterval(poll);
if (seen.errors.length > 0) say({ errors: seen.errors });
await browser.close();
