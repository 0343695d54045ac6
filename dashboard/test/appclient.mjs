// The real app's API as the browser tests against it use it: ENVIROMON_URL
// is the app; every test run gets its own id (run), so that device ids and
// message ids never meet those of an earlier run against the same app.
import assert from 'node:assert/strict';

/** BASE is the app's URL, without a trailing slash. */
export const BASE = (process.env.ENVIROMON_URL ?? '').replace(/\/+$/, '');

/** run is this test run's id, for device, rule and message ids. */
export const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;

let seq = 0;

/** api calls the app and returns its JSON answer (null for none); it fails the test on a non-2xx answer. */
export async function api(method, path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** send posts one reading of deviceId over POST /api/telemetry, with a message id of its own. */
export function send(deviceId, reading) {
  return api('POST', '/api/telemetry', { deviceId, messageId: `${deviceId}-${run}-${++seq}`, ...reading });
}
