// The dashboard's HTTP API client.
import { normalizeFleet } from './fleet.js';

/** pageSize is how many devices the dashboard asks for per request. */
const pageSize = 5000;

/**
 * fetchDevices returns every device's state from GET {apiBase}/api/devices,
 * following the API's pages (RFC 8288 `Link: <...>; rel="next"`) to the end.
 */
export async function fetchDevices(apiBase, signal) {
  const all = [];
  let url = `${apiBase}/api/devices?limit=${pageSize}`;
  const seen = new Set();
  while (url) {
    if (seen.has(url)) throw new Error(`GET /api/devices: the next page repeats ${url}`);
    seen.add(url);
    const res = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' }, signal });
    if (!res.ok) throw new Error(`GET /api/devices: HTTP ${res.status}`);
    const body = await res.json();
    if (!Array.isArray(body)) throw new Error('GET /api/devices: not a JSON array');
    for (const d of body) all.push(d);
    url = nextPage(res.headers.get('Link'), res.url || url);
  }
  return all;
}

/**
 * fetchFleet returns the fleet's figures from GET {apiBase}/api/summary,
 * normalized (see normalizeFleet), with online meaning heard from within
 * offlineAfterSeconds: the same threshold as the cards' badges.
 */
export async function fetchFleet(apiBase, offlineAfterSeconds, signal) {
  const url = `${apiBase}/api/summary?offlineAfter=${offlineAfterParam(offlineAfterSeconds)}`;
  const res = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' }, signal });
  if (!res.ok) throw new Error(`GET /api/summary: HTTP ${res.status}${await errorText(res)}`);
  const fleet = normalizeFleet(await res.json());
  if (fleet === null) throw new Error('GET /api/summary: not a fleet summary');
  return fleet;
}

// The API takes offlineAfter from 1 s to 24 h; the page's setting may go
// down to 0.5 s, so the figures then use the API's shortest threshold.
const minOfflineAfterMs = 1000;
const maxOfflineAfterMs = 24 * 3600 * 1000;

/**
 * offlineAfterParam writes seconds as the Go duration ?offlineAfter= takes
 * ("60s", "1500ms"), within the API's bounds.
 */
export function offlineAfterParam(seconds) {
  const ms = Math.min(maxOfflineAfterMs, Math.max(minOfflineAfterMs, Math.round(seconds * 1000)));
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

// errorText is ": " and the API's {"error": "..."} message, or "".
async function errorText(res) {
  try {
    const body = await res.json();
    return typeof body?.error === 'string' && body.error !== '' ? `: ${body.error}` : '';
  } catch {
    return '';
  }
}

/**
 * nextPage returns the absolute URL of a Link header's rel="next" target,
 * resolved against the URL of the page that carried it, or null.
 */
export function nextPage(link, pageURL) {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(m[2])) {
      return new URL(m[1], new URL(pageURL, globalThis.location?.href)).href;
    }
  }
  return null;
}

/**
 * coalesce wraps an async task so that calls made while it runs lead to one
 * more run after it, not to a pile of concurrent ones.
 */
export function coalesce(task) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await task();
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
  return run;
}

// getJSON reads url as JSON; what names the request in errors. A 404 is
// null when notFoundIsNull, so "no calibration yet" is not an error.
async function getJSON(url, what, signal, notFoundIsNull = false) {
  const res = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' }, signal });
  if (notFoundIsNull && res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${what}: HTTP ${res.status}${await errorText(res)}`);
  return res.json();
}

const enc = encodeURIComponent;

/** fetchDevice returns one device from GET {apiBase}/api/devices/{id}, or null if unknown. */
export function fetchDevice(apiBase, id, signal) {
  return getJSON(`${apiBase}/api/devices/${enc(id)}`, '/api/devices/{id}', signal, true);
}

/**
 * fetchHistory returns GET {apiBase}/api/devices/{id}/history for one
 * metric, q being { from, to, step } (see history.js rangeQuery).
 */
export function fetchHistory(apiBase, id, metric, q, signal) {
  const params = new URLSearchParams({ metric, from: q.from, to: q.to, step: q.step });
  return getJSON(`${apiBase}/api/devices/${enc(id)}/history?${params}`, `/api/devices/{id}/history (${metric})`, signal);
}

/** fetchCalibration returns a device's calibration, or null when it has none (404). */
export function fetchCalibration(apiBase, id, signal) {
  return getJSON(`${apiBase}/api/calibration/${enc(id)}`, '/api/calibration/{id}', signal, true);
}

/**
 * fetchRejected returns the recent rejections of device id: the API lists
 * every device's, so they are filtered here.
 */
export async function fetchRejected(apiBase, id, signal) {
  const all = await getJSON(`${apiBase}/api/rejected`, '/api/rejected', signal);
  return Array.isArray(all) ? all.filter((r) => r?.deviceId === id) : [];
}

/**
 * putCalibration sends body (a JSON text, so that numbers reach the API as
 * typed) to PUT {apiBase}/api/calibration/{id}. It resolves to
 * { ok: true, body } or { ok: false, status, error }: a refusal is an
 * answer to show, not an exception.
 */
export function putCalibration(apiBase, id, body, signal) {
  return write('PUT', `${apiBase}/api/calibration/${enc(id)}`, body, signal);
}

/**
 * fetchAlerts returns GET {apiBase}/api/alerts: the firing alerts and the
 * recently cleared ones, as raw bodies (see alerts.js normalizeAlert), or
 * null when the API has no alerts (404).
 */
export async function fetchAlerts(apiBase, signal) {
  const body = await getJSON(`${apiBase}/api/alerts`, '/api/alerts', signal, true);
  if (body !== null && !Array.isArray(body)) throw new Error('GET /api/alerts: not a JSON array');
  return body;
}

/**
 * ackAlert acknowledges the alert of rule on device with POST
 * {apiBase}/api/alerts/{rule}/{device}/ack. It resolves as putCalibration
 * does; body is the alert as acknowledged.
 */
export function ackAlert(apiBase, ruleId, deviceId, signal) {
  return write('POST', `${apiBase}/api/alerts/${enc(ruleId)}/${enc(deviceId)}/ack`, undefined, signal);
}

// write sends a change and resolves to { ok: true, body } or
// { ok: false, status, error }, error being the API's message when it
// gave one.
async function write(method, url, body, signal) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, cache: 'no-store', headers, body, signal });
  let json = null;
  try {
    json = await res.json();
  } catch {
    // an empty or non-JSON answer: judged by its status alone
  }
  if (res.ok) return { ok: true, body: json };
  const error = typeof json?.error === 'string' && json.error !== '' ? json.error : `HTTP ${res.status}`;
  return { ok: false, status: res.status, error };
}
