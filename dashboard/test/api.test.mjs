// fetchDevices against a real HTTP server that pages its answer the way the
// Go API does: a JSON array per page, Link: <...>; rel="next" while more
// remain. fetchFleet against servers answering GET /api/summary: one that
// records what was asked, and the dev server's fake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fetchDevices, fetchFleet, nextPage, offlineAfterParam } from '../js/api.js';
import { startDevServer } from './devserver.mjs';

function pagingServer(ids, limitCap) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    requests.push(u.pathname + u.search);
    const limit = Math.min(Number(u.searchParams.get('limit') || 1000), limitCap);
    const after = u.searchParams.get('cursor') ? Buffer.from(u.searchParams.get('cursor'), 'base64url').toString() : '';
    const rest = ids.filter((id) => id > after);
    const page = rest.slice(0, limit);
    if (rest.length > limit) {
      const cursor = Buffer.from(page[page.length - 1]).toString('base64url');
      res.setHeader('Link', `</api/devices?limit=${limit}&cursor=${cursor}>; rel="next"`);
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(page.map((deviceId) => ({ deviceId }))));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, base: `http://127.0.0.1:${server.address().port}` })));
}

test('fetchDevices follows every page', async () => {
  const ids = Array.from({ length: 25 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
  const { server, requests, base } = await pagingServer(ids, 10); // the server caps pages at 10
  try {
    const got = await fetchDevices(base);
    assert.deepEqual(got.map((d) => d.deviceId), ids);
    assert.equal(requests.length, 3, `requests: ${requests.join(' ')}`);
  } finally {
    server.close();
  }
});

test('nextPage reads rel="next" among other links and resolves it', () => {
  const page = 'http://h:8080/api/devices?limit=2';
  assert.equal(nextPage('</api/devices?limit=2&cursor=YQ>; rel="next"', page), 'http://h:8080/api/devices?limit=2&cursor=YQ');
  assert.equal(nextPage('<https://a/x>; rel="prev", </y?z=1>; rel=next', page), 'http://h:8080/y?z=1');
  assert.equal(nextPage('<https://a/x>; rel="prev"', page), null);
  assert.equal(nextPage(null, page), null);
});

// fixedServer answers every request with status and body, and records the
// requested paths.
function fixedServer(status, body) {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, base: `http://127.0.0.1:${server.address().port}` })));
}

// fleet is a body as the Go app writes telemetry.Fleet.
const fleet = { devices: 1005, online: 1000, offline: 5, messages: 123456, rejected: 1, lastSeen: '2026-11-23T10:05:00.123456789Z' };

test('fetchFleet asks for the page\'s offline threshold and reads the figures', async () => {
  const { server, requests, base } = await fixedServer(200, fleet);
  try {
    const got = await fetchFleet(base, 90);
    assert.deepEqual(got, { devices: 1005, online: 1000, offline: 5, messages: 123456, rejected: 1, lastSeen: Date.parse('2026-11-23T10:05:00.123Z') });
    assert.deepEqual(requests, ['/api/summary?offlineAfter=90s']);
  } finally {
    server.close();
  }
});

test('fetchFleet fails with the API\'s message, or on a body that is not a summary', async (t) => {
  const cases = [
    { name: 'HTTP 400', status: 400, body: { error: 'bad request: offlineAfter must be a duration from 1s to 24h, such as 90s' }, want: /HTTP 400: bad request: offlineAfter must be/ },
    { name: 'HTTP 404 without JSON', status: 404, body: 'not found', want: /^GET \/api\/summary: HTTP 404$/ },
    { name: 'markup for a figure', status: 200, body: { ...fleet, devices: '<img src=x onerror=alert(1)>' }, want: /not a fleet summary/ },
    { name: 'a device list', status: 200, body: [{ deviceId: 'a' }], want: /not a fleet summary/ },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { server, base } = await fixedServer(c.status, c.body);
      try {
        await assert.rejects(fetchFleet(base, 60), { message: c.want });
      } finally {
        server.close();
      }
    });
  }
});

test('offlineAfterParam writes a Go duration within the API\'s 1 s to 24 h', () => {
  const cases = [
    [60, '60s'],
    [3, '3s'],
    [2.5, '2500ms'],
    [0.5, '1s'],
    [86400, '86400s'],
    [1e9, '86400s'],
  ];
  for (const [seconds, want] of cases) assert.equal(offlineAfterParam(seconds), want, String(seconds));
});

test('the dev server\'s /api/summary adds up its devices as the app does', async () => {
  const server = await startDevServer({ devices: 3, extras: true, tickMs: 0, hub: false });
  try {
    // 3 simulated devices and 5 awkward ones, one of which had a reading rejected.
    const got = await fetchFleet(server.url, 60);
    assert.deepEqual({ ...got, lastSeen: undefined }, { devices: 8, online: 8, offline: 0, messages: 8, rejected: 1, lastSeen: undefined });
    assert.ok(Math.abs(got.lastSeen - Date.now()) < 5000, `lastSeen ${new Date(got.lastSeen).toISOString()}`);
    await new Promise((r) => setTimeout(r, 1100));
    const later = await fetchFleet(server.url, 1);
    assert.equal(later.online, 0);
    assert.equal(later.offline, 8);
    // Out of the app's bounds, as the app answers it.
    const bad = await fetch(`${server.url}/api/summary?offlineAfter=500ms`);
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /offlineAfter must be a duration from 1s to 24h/);
  } finally {
    await server.close();
  }
});
