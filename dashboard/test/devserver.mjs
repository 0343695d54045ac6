// A development server for the dashboard, with no dependencies: it serves
// the dashboard folder and the app's API as the app answered it in
// test/fixtures (written from the Go code by `make fixtures`; see
// fixtures/README.md), so the page can be worked on without the Go app.
// Not the app: it holds no domain rule (no de-duplication, counting,
// validation or figures of its own); every body it sends is a recorded
// answer, and the real tests run against the app itself.
//
//   node dashboard/test/devserver.mjs                   # negotiate answers 503
//   HUB=1 node dashboard/test/devserver.mjs             # a fake live hub, replaying live.json
//   HUB=1 DEVICES=1000 node dashboard/test/devserver.mjs
//
// What it does itself is transport:
//   - GET /api/devices, /api/devices/{id}, /api/summary, /api/rejected,
//     /api/alerts, /api/alert-rules, /api/calibration/{id}: the fixtures.
//     /api/summary?offlineAfter= answers the recorded refusal of a value
//     summary-refused.json holds, and summary.json (the app's figures at
//     its default 60 s) for any other: the figures are the app's, not
//     counted here, so the copies DEVICES adds are not in them.
//   - GET /api/devices/{id}/history: the history-*.json answer of that
//     device, metric and step, cut to the points with from <= t < to.
//   - PUT /api/calibration/{id} stores the fields it receives, in the
//     shape of calibration-*.json; a body the app's decoder refuses (not
//     an object, an unknown field, a value that is no finite number) gets
//     the 400 calibration-refused.json recorded for that kind of value.
//     DELETE forgets it.
//   - POST /api/alerts/{rule}/{device}/ack sets acknowledgedAt of a listed
//     alert to the server's time, once.
//   - The live frames (live.json: the device updates and alert changes
//     the app sent after the fixtures' now) replayed through the fake hub
//     (fakehub.mjs) as their time comes on the server's clock, which starts
//     at the fixtures' now; over and over, each round a round's span later
//     and its counts a round's messages higher: a replay, not a simulation.
//     GET answers follow what was replayed (the device or alert of that id
//     replaced).
//
// Env: PORT (0 = any), HUB (0|1), DEVICES (copies of sim-001 as load-0001…,
// for paging; 0), TICK_MS (how often the replay looks for due frames: 1000
// when run by hand, 0 = no replay), SHIFT (1 when run by hand: every time in
// the answers moves by whole minutes so that the fixtures' now is the
// server's start; 0 for tests, which pin the page's clock to now.json).
// startDevServer's options (port, devices, hub, tickMs, shift) override
// them; without, replay and shift are off.
// Dev-only routes: POST /dev/drop cuts the hub's connections; POST
// /dev/hub?on=0|1 makes negotiate fail or work; POST /dev/replay?n=1 sends
// the next n live frames now.
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeHub } from './fakehub.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtureDir = fileURLToPath(new URL('./fixtures/', import.meta.url));
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
};

/** fixture returns the parsed fixture file name (as in test/fixtures). */
export function fixture(name) {
  return JSON.parse(readFileSync(join(fixtureDir, name), 'utf8'));
}

/** fixtureNames lists the fixture files whose names match re. */
export function fixtureNames(re) {
  return readdirSync(fixtureDir).filter((n) => re.test(n));
}

/** NOW is the fixtures' now: when the app answered them, in ms. */
export const NOW = Date.parse(fixture('now.json').now);

/**
 * startDevServer starts the server and resolves to { url, close, hub,
 * devices, cals, alerts, live, replay }: devices, cals and alerts are what
 * it serves now (keyed by id; alerts a list), live the recorded frames,
 * replay(n) sends the next n of them.
 */
export async function startDevServer(opts = {}) {
  const env = process.env;
  const o = {
    port: Number(opts.port ?? env.PORT ?? 0),
    devices: Number(opts.devices ?? env.DEVICES ?? 0),
    hub: opts.hub ?? env.HUB === '1',
    tickMs: Number(opts.tickMs ?? env.TICK_MS ?? 0),
    shift: opts.shift ?? env.SHIFT === '1',
  };
  const started = Date.now();
  // offset moves the fixtures' times to now, in whole minutes so that the
  // history buckets stay on their minutes.
  const offset = o.shift ? Math.floor((started - NOW) / 60e3) * 60e3 : 0;
  // clock is the server's time in the fixtures' time: shifted, the wall
  // clock less the offset; else the fixtures' now when it started.
  const clock = o.shift ? () => Date.now() - offset : () => NOW + (Date.now() - started);
  const out = (body) => moved(body, offset);

  const devices = new Map(fixture('devices.json').map((d) => [d.deviceId, d]));
  const snapshot = new Map([...devices].map(([id, d]) => [id, d.count]));
  const historyOf = new Map(); // device id → the fixtures' id whose history it has
  for (const id of devices.keys()) historyOf.set(id, id);
  const width = Math.max(4, String(o.devices).length);
  for (let i = 1; i <= o.devices; i++) {
    const id = `load-${String(i).padStart(width, '0')}`;
    devices.set(id, { ...devices.get('sim-001'), deviceId: id });
    historyOf.set(id, 'sim-001');
  }
  const history = new Map();
  for (const name of fixtureNames(/^history-.*\.json$/)) {
    const h = fixture(name);
    history.set(`${h.deviceId}\n${h.metric}\n${h.step}`, h);
  }
  const cals = new Map(fixtureNames(/^calibration-(?!refused).*\.json$/).map((n) => [n.slice('calibration-'.length, -'.json'.length), fixture(n)]));
  const calFields = Object.keys(fixture('calibration-sim-002.json'));
  const calRefusals = fixture('calibration-refused.json');
  const summaryRefusals = new Map(fixture('summary-refused.json').map((r) => [r.offlineAfter, r]));
  const alerts = fixture('alerts.json');
  const live = fixture('live.json');
  const hub = new FakeHub();
  let hubOn = o.hub;

  // The replay: frame k is live[k % n] of round k / n, its times a round's
  // span later and its counts a round's messages higher each round.
  const at = (f) => f.arguments.flat(2).map((x) => Date.parse(x.lastSeen ?? x.since))[0]; // a frame's time
  const span = Math.ceil((Math.max(NOW, ...live.map(at)) - NOW) / 60e3) * 60e3 || 60e3;
  const perRound = new Map();
  for (const f of live) {
    if (f.target === 'newMessage') for (const d of f.arguments[0]) perRound.set(d.deviceId, d.count - (snapshot.get(d.deviceId) ?? 0));
  }
  let next = 0;
  function frame(k) {
    const round = Math.floor(k / live.length);
    const f = moved(live[k % live.length], round * span);
    if (f.target === 'newMessage') for (const d of f.arguments[0]) d.count += round * (perRound.get(d.deviceId) ?? 0);
    return f;
  }
  function replay(n = 1) {
    for (let i = 0; i < n; i++) {
      const f = frame(next++);
      if (f.target === 'newMessage') {
        for (const d of f.arguments[0]) devices.set(d.deviceId, d);
      } else if (f.target === 'alert') {
        const a = f.arguments[0];
        const i = alerts.findIndex((x) => x.ruleId === a.ruleId && x.deviceId === a.deviceId);
        if (i >= 0) alerts[i] = a;
        else alerts.unshift(a);
      }
      hub.send(f.target, out(f.arguments));
    }
  }
  const due = (k) => at(frame(k)) <= clock();
  const replayer =
    o.tickMs > 0 &&
    setInterval(() => {
      while (due(next)) replay(1);
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
    const get = req.method === 'GET';
    let m;
    if (get && path === '/api/devices') return send(res, 200, out([...devices.values()]));
    if (get && path === '/api/summary') {
      const refused = summaryRefusals.get(url.searchParams.get('offlineAfter'));
      return refused ? send(res, refused.status, refused.body) : send(res, 200, out(fixture('summary.json')));
    }
    if (get && (m = /^\/api\/devices\/([^/]+)\/history$/.exec(path))) return serveHistory(res, decodeURIComponent(m[1]), url.searchParams);
    if (get && (m = /^\/api\/devices\/([^/]+)$/.exec(path))) {
      const d = devices.get(decodeURIComponent(m[1]));
      return d ? send(res, 200, out(d)) : notFound(res);
    }
    if (get && path === '/api/rejected') return send(res, 200, out(fixture('rejected.json')));
    if (get && path === '/api/alerts') return send(res, 200, out(alerts));
    if (get && path === '/api/alert-rules') return send(res, 200, fixture('alert-rules.json'));
    if ((m = /^\/api\/calibration\/([^/]+)$/.exec(path))) {
      const id = decodeURIComponent(m[1]);
      if (get) return cals.has(id) ? send(res, 200, cals.get(id)) : notFound(res);
      if (req.method === 'PUT') {
        const text = await readBody(req);
        const refused = refusedCalibration(text, calFields, calRefusals);
        if (refused) return send(res, refused.status, refused.body);
        const body = JSON.parse(text);
        const cal = Object.fromEntries(calFields.map((k) => [k, body[k] ?? null]));
        cals.set(id, cal);
        return send(res, 200, cal);
      }
      if (req.method === 'DELETE') {
        cals.delete(id);
        res.writeHead(204).end();
        return;
      }
    }
    if (req.method === 'POST' && (m = /^\/api\/alerts\/([^/]+)\/([^/]+)\/ack$/.exec(path))) {
      const [rule, device] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
      const a = alerts.find((x) => x.ruleId === rule && x.deviceId === device);
      if (!a) return notFound(res);
      a.acknowledgedAt ??= iso(clock());
      return send(res, 200, out(a));
    }
    if (req.method === 'POST' && path === '/api/negotiate') {
      if (!hubOn) return send(res, 503, { error: 'no SignalR service in the dev server (HUB=1 fakes one)' });
      return send(res, 200, { url: `http://${req.headers.host}/hub`, accessToken: 'dev-token' });
    }
    if (req.method === 'POST' && path === '/hub/negotiate') return send(res, 200, hub.negotiate());
    if (req.method === 'POST' && path === '/dev/drop') {
      hub.drop();
      return send(res, 200, {});
    }
    if (req.method === 'POST' && path === '/dev/hub') {
      hubOn = url.searchParams.get('on') === '1';
      return send(res, 200, { hub: hubOn });
    }
    if (req.method === 'POST' && path === '/dev/replay') {
      replay(Number(url.searchParams.get('n') ?? 1));
      return send(res, 200, { sent: next });
    }
    if (!get && req.method !== 'HEAD') return notFound(res);
    return serveFile(path, res);
  }

  // serveHistory answers the recorded history of id (a DEVICES copy has
  // sim-001's), cut to [from, to) of the query.
  function serveHistory(res, id, q) {
    const h = history.get(`${historyOf.get(id)}\n${q.get('metric')}\n${q.get('step')}`);
    if (!h) return notFound(res);
    const from = Date.parse(q.get('from') ?? '');
    const to = Date.parse(q.get('to') ?? '');
    const body = out({ ...h, deviceId: id });
    body.points = body.points.filter((p) => Date.parse(p.t) >= from && Date.parse(p.t) < to);
    return send(res, 200, body);
  }

  server.on('upgrade', (req, socket) => {
    if (hubOn && new URL(req.url, 'http://x').pathname === '/hub') hub.upgrade(req, socket);
    else socket.destroy();
  });
  await new Promise((resolve) => server.listen(o.port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    devices,
    cals,
    alerts,
    live,
    hub,
    replay,
    close: () =>
      new Promise((resolve) => {
        if (replayer) clearInterval(replayer);
        hub.close();
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

// refusedCalibration returns the recorded refusal (calibration-refused.json)
// of the kind of value the app's decoder refuses first in text, or null
// when it takes every value: a body that is not a JSON object, a field not
// among fields, a value neither null nor a finite number.
function refusedCalibration(text, fields, refusals) {
  const pick = (kind, field) => refusals.find((r) => r.kind === kind && (field === undefined || r.field === field));
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return pick('notAnObject');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return pick('notAnObject');
  for (const [k, v] of Object.entries(body)) {
    if (!fields.includes(k)) return pick('unknownField');
    if (v === null) continue;
    if (typeof v !== 'number') return pick('string', k);
    if (!Number.isFinite(v)) return pick('number', k); // 1e999 parses as Infinity
  }
  return null;
}

const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

// moved returns a copy of v with every RFC 3339 UTC time in it ms later
// (Go's zero time stays: it means never).
function moved(v, ms) {
  if (typeof v === 'string') return ms !== 0 && stamp.test(v) && !v.startsWith('0001-') ? iso(Date.parse(v) + ms) : v;
  if (Array.isArray(v)) return v.map((x) => moved(x, ms));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, moved(x, ms)]));
  return v;
}

const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

async function serveFile(path, res) {
  const rel = normalize(decodeURIComponent(path === '/' ? '/index.html' : path));
  const file = join(root, rel);
  if (!file.startsWith(root) || rel.split(sep).some((p) => p.startsWith('.') || p === 'node_modules')) return notFound(res);
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(await readFile(file));
  } catch {
    notFound(res);
  }
}

const notFound = (res) => send(res, 404, { error: 'not found in the dev server' });

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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startDevServer({ shift: process.env.SHIFT !== '0', tickMs: Number(process.env.TICK_MS ?? 1000) });
  console.log(`dashboard dev server: ${s.url}/ (${s.devices.size} devices from test/fixtures)`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
