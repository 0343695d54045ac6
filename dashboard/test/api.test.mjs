// fetchDevices against a real HTTP server that pages its answer the way the
// Go API does: a JSON array per page, Link: <...>; rel="next" while more remain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fetchDevices, nextPage } from '../js/api.js';

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
