// fetchDevices against a real HTTP server that pages the app's device list
// the way the Go API does: a JSON array per page, Link: <...>; rel="next"
// while more remain. fetchFleet against servers answering GET /api/summary:
// one that records what was asked, and the dev server. The bodies are the
// app's own (test/fixtures, written by `make fixtures`); the malformed ones
// are hand-made from them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fetchCalibration, fetchDevice, fetchDevices, fetchFleet, fetchHistory, fetchRejected, nextPage, offlineAfterParam, putCalibration } from '../js/api.js';
import { NOW, fixture, startDevServer } from './devserver.mjs';

const listed = fixture('devices.json');
const summary = fixture('summary.json');

// pagingServer pages devices (sorted by id), at most limitCap a page.
function pagingServer(devices, limitCap) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    requests.push(u.pathname + u.search);
    const limit = Math.min(Number(u.searchParams.get('limit') || 1000), limitCap);
    const after = u.searchParams.get('cursor') ? Buffer.from(u.searchParams.get('cursor'), 'base64url').toString() : '';
    const rest = devices.filter((d) => d.deviceId > after);
    const page = rest.slice(0, limit);
    if (rest.length > limit) {
      const cursor = Buffer.from(page[page.length - 1].deviceId).toString('base64url');
      res.setHeader('Link', `</api/devices?limit=${limit}&cursor=${cursor}>; rel="next"`);
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(page));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, base: `http://127.0.0.1:${server.address().port}` })));
}

test('fetchDevices follows every page', async () => {
  assert.equal(listed.length, 7);
  const { server, requests, base } = await pagingServer(listed, 3); // the server caps pages at 3
  try {
    const got = await fetchDevices(base);
    assert.deepEqual(got, listed);
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

test('fetchFleet asks for the page\'s offline threshold and reads the figures', async () => {
  const { server, requests, base } = await fixedServer(200, summary);
  try {
    const got = await fetchFleet(base, 90);
    assert.deepEqual(got, { ...summary, lastSeen: Date.parse(summary.lastSeen) });
    assert.deepEqual(requests, ['/api/summary?offlineAfter=90s']);
  } finally {
    server.close();
  }
});

test('fetchFleet fails with the API\'s message, or on a body that is not a summary', async (t) => {
  const refused = fixture('summary-refused.json')[0];
  const cases = [
    { name: 'HTTP 400', status: refused.status, body: refused.body, want: `GET /api/summary: HTTP 400: ${refused.body.error}` },
    { name: 'HTTP 404 without JSON', status: 404, body: 'not found', want: /^GET \/api\/summary: HTTP 404$/ },
    { name: 'markup for a figure', status: 200, body: { ...summary, devices: '<img src=x onerror=alert(1)>' }, want: /not a fleet summary/ },
    { name: 'a device list', status: 200, body: listed, want: /not a fleet summary/ },
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

test('the dev server answers what the app answered, and the client reads it', async () => {
  const server = await startDevServer({ tickMs: 0, hub: false });
  try {
    const u = server.url;
    assert.deepEqual(await fetchFleet(u, 60), { ...summary, lastSeen: Date.parse(summary.lastSeen) });
    for (const r of fixture('summary-refused.json')) {
      const res = await fetch(`${u}/api/summary?offlineAfter=${r.offlineAfter}`);
      assert.equal(res.status, r.status, r.offlineAfter);
      assert.deepEqual(await res.json(), r.body);
    }
    assert.deepEqual(await fetchDevices(u), listed);
    assert.deepEqual(await fetchDevice(u, 'sim-002'), fixture('device-sim-002.json'));
    assert.equal(await fetchDevice(u, 'no-such-device'), null);
    assert.deepEqual(await fetchCalibration(u, 'sim-002'), fixture('calibration-sim-002.json'));
    assert.equal(await fetchCalibration(u, 'sim-001'), null, 'no calibration: a 404');
    assert.deepEqual(await fetchRejected(u, 'with-light'), fixture('rejected.json').filter((r) => r.deviceId === 'with-light'));

    const q = { from: new Date(NOW - 3600e3).toISOString(), to: new Date(NOW).toISOString(), step: '1m' };
    const hour = await fetchHistory(u, 'sim-001', 'temperature', q);
    const day = fixture('history-sim-001-temperature-1m.json');
    assert.deepEqual(hour, { ...day, points: day.points.slice(-60) });

    const refusal = fixture('calibration-refused.json').find((r) => r.kind === 'number' && r.field === 'pressureSlope');
    assert.deepEqual(await putCalibration(u, 'sim-001', '{"pressureSlope":1e999}'), { ok: false, status: 400, error: refusal.body.error });
    assert.equal(await fetchCalibration(u, 'sim-001'), null, 'nothing refused is stored');
  } finally {
    await server.close();
  }
});
