// A development server for the dashboard, with no dependencies: serves the
// dashboard folder and a fake of the app's API, so the page can be worked
// on without the Go app. Not the app: the real tests run against that.
//
//   DEVICES=1000 node dashboard/test/devserver.mjs      # negotiate answers 503
//   HUB=1 DEVICES=3 node dashboard/test/devserver.mjs   # a fake live hub too
//
// GET /api/summary?offlineAfter= answers the fleet's figures as the app's
// does (telemetry.Fleet), from the fake devices.
//
// GET /api/devices/{id}/history answers fixed, generated buckets (see
// seedHistory: 1-minute buckets for the last 48 h and 1-hour buckets for 30
// days before the server started, for the sim-* devices and with-light);
// GET/PUT/DELETE /api/calibration/{id} keep calibrations and answer a value
// the app's JSON decoder refuses (1e999, a string) with the app's 400 text;
// GET /api/rejected lists the rejections.
//
// Env: PORT (0 = any), DEVICES (3), HUB (0|1), TICK_MS (simulator period,
// 2000; 0 = no simulator), EXTRAS (1 adds awkward devices: 0 °C, markup id,
// no readings, light, a long id). Dev-only routes: POST /dev/drop cuts the
// hub's connections; POST /dev/hub?on=0|1 makes negotiate fail or work.
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeHub } from './fakehub.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
};
const cities = ['Sydney', 'Melbourne', 'Perth', 'Hobart', 'Darwin', 'Auckland'];
const limits = { temperature: [-40, 80, '°C'], humidity: [0, 100, '%'], pressure: [600, 1600, 'hPa'] };

/** startDevServer starts the server and resolves to { url, close, devices, hub }. */
export async function startDevServer(opts = {}) {
  const env = process.env;
  const o = {
    port: Number(opts.port ?? env.PORT ?? 0),
    devices: Number(opts.devices ?? env.DEVICES ?? 3),
    hub: opts.hub ?? env.HUB === '1',
    tickMs: Number(opts.tickMs ?? env.TICK_MS ?? 2000),
    extras: opts.extras ?? env.EXTRAS === '1',
  };
  const devices = new Map();
  const cals = new Map();
  const rejections = [];
  const history = new Map(); // id → { '1m': { metric: points }, '1h': { … } }
  const historyEnd = Math.floor(Date.now() / 60000) * 60000 + 60000; // the minute in progress has a bucket
  const hub = new FakeHub();
  let hubOn = o.hub;

  const width = String(o.devices).length;
  for (let i = 1; i <= o.devices; i++) {
    const id = `sim-${String(i).padStart(Math.max(3, width), '0')}`;
    ingest({ deviceId: id, geo: cities[i % cities.length], temperature: 15 + (i % 15), humidity: 40 + (i % 40), pressure: 1000 + (i % 30), messageId: `${id}-0` });
  }
  if (o.extras) {
    ingest({ deviceId: 'zero-degrees', temperature: 0, humidity: 0, pressure: 1013 });
    ingest({ deviceId: '<img src=x onerror=alert(1)>', temperature: 20 });
    ingest({ deviceId: 'no-readings' });
    ingest({ deviceId: 'with-light', temperature: 22.5, humidity: 50, light: 345 });
    ingest({ deviceId: 'a-very-long-device-identifier-without-any-spaces-0123456789abcdef', temperature: -5.25 });
    ingest({ deviceId: 'with-light', temperature: 999, messageId: 'bad-1' });
  }

  for (const d of devices.values()) if (d.deviceId.startsWith('sim-') || d.deviceId === 'with-light') history.set(d.deviceId, seedHistory(d, historyEnd));

  // ingest applies one telemetry object as the app does: calibrate, then
  // validate; an invalid message counts as rejected and keeps its reason.
  function ingest(m) {
    const id = m.deviceId ?? m.DeviceId;
    if (typeof id !== 'string' || id === '') return 'invalid';
    const now = new Date().toISOString();
    const d = devices.get(id) ?? { deviceId: id, geo: m.geo ?? '', temperature: null, humidity: null, pressure: null, light: null, raw: {}, count: 0, rejected: 0, lastRejection: '', firstSeen: now, lastSeen: now, messageId: '', schemaVersion: 1, recent: [] };
    if (m.messageId != null && d.recent.includes(String(m.messageId))) return 'duplicate';
    if (m.messageId != null) d.recent = [...d.recent.slice(-99), String(m.messageId)];
    devices.set(id, d);
    d.lastSeen = now;
    const cal = cals.get(id) ?? {};
    const raw = {};
    const out = {};
    let reason = '';
    for (const [k, [lo, hi, unit]] of Object.entries(limits)) {
      const v = typeof m[k] === 'number' ? m[k] : null;
      raw[k] = v;
      const slope = cal[`${k}Slope`];
      const icpt = cal[`${k}YIntercept`];
      out[k] = v !== null && slope != null && icpt != null ? v * slope + icpt : v;
      if (!reason && out[k] !== null && (out[k] < lo || out[k] > hi)) reason = `invalid reading: ${k} ${out[k]} ${unit} outside ${lo}..${hi}`;
    }
    if (reason) {
      d.rejected++;
      d.lastRejection = reason;
      rejections.push({ deviceId: id, messageId: m.messageId == null ? '' : String(m.messageId), reason, at: now });
      if (rejections.length > 100) rejections.shift();
    } else {
      d.count++;
      Object.assign(d, out, { raw, light: typeof m.light === 'number' ? m.light : null, messageId: m.messageId == null ? '' : String(m.messageId) });
      if (m.geo) d.geo = m.geo;
    }
    return reason ? 'rejected' : 'accepted';
  }

  const summary = ({ recent, ...d }) => d;

  let seq = 0;
  const sim =
    o.tickMs > 0 &&
    setInterval(() => {
      seq++;
      const changed = [];
      for (const d of devices.values()) {
        if (!d.deviceId.startsWith('sim-')) continue;
        const r = d.raw;
        ingest({
          deviceId: d.deviceId,
          messageId: `${d.deviceId}-${seq}`,
          temperature: round(clamp((r.temperature ?? 20) + (Math.random() - 0.5), -10, 45)),
          humidity: round(clamp((r.humidity ?? 50) + (Math.random() - 0.5) * 2, 5, 95)),
          pressure: round(clamp((r.pressure ?? 1010) + (Math.random() - 0.5), 950, 1050)),
        });
        changed.push(summary(d));
      }
      if (changed.length) hub.send('newMessage', [changed]);
    }, o.tickMs);

  const server = createServer(async (req, res) => {
    try {
      await route(req, res);
    } catch (err) {
      send(res, 500, { error: String(err?.message ?? err) });
    }
  });

  async function route(req, res) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (path === '/api/devices' && req.method === 'GET') return send(res, 200, [...devices.values()].map(summary));
    if (path === '/api/summary' && req.method === 'GET') {
      const v = url.searchParams.get('offlineAfter') ?? '';
      const offlineAfter = v === '' ? 60000 : parseDuration(v);
      if (!(offlineAfter >= 1000 && offlineAfter <= 24 * 3600 * 1000)) {
        return send(res, 400, { error: 'bad request: offlineAfter must be a duration from 1s to 24h, such as 90s' });
      }
      return send(res, 200, fleetOf(devices.values(), Date.now(), offlineAfter));
    }
    const hist = /^\/api\/devices\/([^/]+)\/history$/.exec(path);
    if (hist && req.method === 'GET') return serveHistory(res, history.get(decodeURIComponent(hist[1])), decodeURIComponent(hist[1]), url.searchParams);
    if (path === '/api/rejected' && req.method === 'GET') return send(res, 200, rejections);
    if (path.startsWith('/api/calibration/') && req.method === 'GET') {
      const id = decodeURIComponent(path.slice('/api/calibration/'.length));
      return cals.has(id) ? send(res, 200, cals.get(id)) : send(res, 404, { error: `calibration ${JSON.stringify(id)}: not found` });
    }
    if (path.startsWith('/api/devices/') && req.method === 'GET') {
      const d = devices.get(decodeURIComponent(path.slice('/api/devices/'.length)));
      return d ? send(res, 200, summary(d)) : send(res, 404, { error: 'device not found' });
    }
    if (path === '/api/telemetry' && req.method === 'POST') {
      const body = JSON.parse(await readBody(req));
      const results = { accepted: 0, rejected: 0, duplicate: 0, invalid: 0 };
      const touched = new Set();
      for (const m of Array.isArray(body) ? body : [body]) {
        results[ingest(m)]++;
        if (devices.has(m.deviceId)) touched.add(m.deviceId);
      }
      hub.send('newMessage', [[...touched].map((id) => summary(devices.get(id)))]);
      return send(res, 200, results);
    }
    if (path.startsWith('/api/calibration/') && req.method === 'PUT') {
      const text = await readBody(req);
      const refused = refusedCalibration(text);
      if (refused) return send(res, 400, { error: `bad request: calibration must be a JSON object of finite numbers: ${refused}` });
      const body = Object.fromEntries(calFields.map((k) => [k, JSON.parse(text)[k] ?? null]));
      cals.set(decodeURIComponent(path.slice('/api/calibration/'.length)), body);
      return send(res, 200, body);
    }
    if (path.startsWith('/api/calibration/') && req.method === 'DELETE') {
      cals.delete(decodeURIComponent(path.slice('/api/calibration/'.length)));
      res.writeHead(204).end();
      return;
    }
    if (path === '/api/negotiate' && req.method === 'POST') {
      if (!hubOn) return send(res, 503, { error: 'no SignalR service in the dev server (HUB=1 fakes one)' });
      return send(res, 200, { url: `http://${req.headers.host}/hub`, accessToken: 'dev-token' });
    }
    if (path === '/hub/negotiate' && req.method === 'POST') return send(res, 200, hub.negotiate());
    if (path === '/dev/drop' && req.method === 'POST') {
      hub.drop();
      return send(res, 200, {});
    }
    if (path === '/dev/hub' && req.method === 'POST') {
      hubOn = url.searchParams.get('on') === '1';
      return send(res, 200, { hub: hubOn });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 404, { error: 'not found' });
    return serveFile(path, res);
  }

  server.on('upgrade', (req, socket) => {
    if (hubOn && new URL(req.url, 'http://x').pathname === '/hub') hub.upgrade(req, socket);
    else socket.destroy();
  });
  await new Promise((resolve) => server.listen(o.port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    devices,
    history,
    cals,
    hub,
    close: () =>
      new Promise((resolve) => {
        if (sim) clearInterval(sim);
        hub.close();
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

const calFields = ['temperatureSlope', 'temperatureYIntercept', 'humiditySlope', 'humidityYIntercept', 'pressureSlope', 'pressureYIntercept'];

// refusedCalibration returns the message of Go's encoding/json for a PUT
// body the app's decoder refuses (DisallowUnknownFields, float64 fields),
// for the cases the dashboard's tests send, or ''.
function refusedCalibration(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return 'invalid character in JSON';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'json: cannot unmarshal into Go value of type api.calibrationBody';
  for (const [k, v] of Object.entries(body)) {
    if (!calFields.includes(k)) return `json: unknown field ${JSON.stringify(k)}`;
    if (v === null) continue;
    if (typeof v !== 'number') return `json: cannot unmarshal ${typeof v} into Go struct field calibrationBody.${k} of type float64`;
    if (!Number.isFinite(v)) {
      const raw = new RegExp(`"${k}"\\s*:\\s*([-0-9.eE+]+)`).exec(text)?.[1] ?? String(v);
      return `json: cannot unmarshal number ${raw} into Go struct field calibrationBody.${k} of type float64`;
    }
  }
  return '';
}

// The history fixture: smooth daily curves, generated once per device from
// its index, so a test can predict every bucket. Not the app's bucketing:
// buckets are made up, not computed from readings.
// Each curve swings around the device's first reading, ending near it.
const seedMetrics = { temperature: [4, 0.4], humidity: [10, 1.5], pressure: [5, 0.3], light: [250, 20] };

/** seedHistory returns the fixed buckets of device d (as first ingested) before end (ms, a whole minute). */
export function seedHistory(d, end) {
  const out = { '1m': {}, '1h': {} };
  for (const [metric, [swing, spread]] of Object.entries(seedMetrics)) {
    const base = d[metric];
    if (base === null) continue;
    for (const [step, stepMs, count] of [['1m', 60e3, 48 * 60], ['1h', 3600e3, 30 * 24]]) {
      const first = Math.floor(end / stepMs) * stepMs - count * stepMs;
      const pts = [];
      for (let i = 0; i < count; i++) {
        const t = first + i * stepMs;
        const avg = round2(base + swing * Math.sin((2 * Math.PI * (end - t)) / 86400e3));
        pts.push({ t: new Date(t).toISOString().replace('.000Z', 'Z'), min: round2(avg - spread), avg, max: round2(avg + spread), n: 6 });
      }
      out[step][metric] = pts;
    }
  }
  return out;
}

const round2 = (v) => Math.round(v * 100) / 100;
const maxSpan = { '1m': 48 * 3600e3, '1h': 31 * 24 * 3600e3 };

// serveHistory answers GET /api/devices/{id}/history as the app's
// contract says: the buckets with from <= t < to, in time order; a 400 for
// a bad metric, step or range.
function serveHistory(res, h, id, q) {
  const metric = q.get('metric');
  const step = q.get('step');
  const from = Date.parse(q.get('from') ?? '');
  const to = Date.parse(q.get('to') ?? '');
  if (!(metric in seedMetrics)) return send(res, 400, { error: `invalid history query: unknown metric ${JSON.stringify(metric)}` });
  if (!(step in maxSpan)) return send(res, 400, { error: `invalid history query: step must be 1m or 1h, not ${JSON.stringify(step)}` });
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) return send(res, 400, { error: 'invalid history query: from and to must be RFC 3339 times, from before to' });
  if (to - from > maxSpan[step]) return send(res, 400, { error: `invalid history query: a query with step ${step} spans at most ${step === '1m' ? '48h' : '744h'}` });
  const points = (h?.[step]?.[metric] ?? []).filter((p) => {
    const t = Date.parse(p.t);
    return t >= from && t < to;
  });
  return send(res, 200, { deviceId: id, metric, step, points });
}

async function serveFile(path, res) {
  const rel = normalize(decodeURIComponent(path === '/' ? '/index.html' : path));
  const file = join(root, rel);
  if (!file.startsWith(root) || rel.split(sep).some((p) => p.startsWith('.') || p === 'node_modules')) {
    return send(res, 404, { error: 'not found' });
  }
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(await readFile(file));
  } catch {
    send(res, 404, { error: 'not found' });
  }
}

// fleetOf adds devices up as telemetry.Fleet.Add does: online when last
// seen within offlineAfter ms of now.
function fleetOf(devices, now, offlineAfter) {
  const f = { devices: 0, online: 0, offline: 0, messages: 0, rejected: 0, lastSeen: '0001-01-01T00:00:00Z' };
  let latest = -Infinity;
  for (const d of devices) {
    f.devices++;
    const seen = Date.parse(d.lastSeen);
    if (now - seen <= offlineAfter) f.online++;
    else f.offline++;
    f.messages += d.count;
    f.rejected += d.rejected;
    if (seen > latest) {
      latest = seen;
      f.lastSeen = d.lastSeen;
    }
  }
  return f;
}

const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

// parseDuration reads a Go duration ("90s", "1m30s", "1.5h") as ms, or NaN.
function parseDuration(s) {
  const m = /^([0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) return NaN;
  let ms = 0;
  for (const [, n, unit] of s.matchAll(/([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * units[unit];
  return ms;
}

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const round = (v) => Math.round(v * 10) / 10;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startDevServer();
  console.log(`dashboard dev server: ${s.url}/ (${s.devices.size} devices)`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
