// Entry point: reads the settings, loads the devices, the fleet's figures
// and the alerts, keeps the live connection and refreshes the clock-driven
// parts of the page each second.
import { AlertsView, activeCount, mergeAlert, normalizeAlert, reconcile } from './alerts.js';
import { ackAlert, coalesce, fetchAlerts, fetchDevices, fetchFleet, fetchHistory } from './api.js';
import { DevicePage } from './device.js';
import { normalizePoints, rangeQuery } from './history.js';
import { FleetView } from './fleet.js';
import { Live } from './live.js';
import { Model, parsePayload } from './model.js';
import { parseRoute } from './route.js';
import { readSettings } from './settings.js';
import { View } from './view.js';

const { settings, problems } = readSettings();
const model = new Model();
const view = new View(model, settings);
const notice = document.getElementById('notice');
const connection = document.getElementById('connection');
const fleetView = new FleetView(document.getElementById('fleet'));
const fleetPage = document.getElementById('fleet-view');
const devicePage = new DevicePage(document.getElementById('device-view'), settings);
const labels = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' };

// debug is read by the browser tests: receipt times give the latency from
// the app's lastSeen to the page.
const debug = {
  settings,
  model,
  state: 'connecting',
  received: 0,
  stale: 0,
  resyncs: 0,
  fleetRefreshes: 0,
  pastLoads: 0, // cards' last hours read from the history API
  pastFailures: 0,
  alertRefreshes: 0, // GET /api/alerts reads that succeeded
  alertEvents: 0, // "alert" invocations from the hub
  receipts: [], // { id, lastSeen, at } of the latest messages, at most 1000
};
debug.devicePage = devicePage;
globalThis.__enviromon = debug;

// standing notices stay shown; show adds the latest problem of each source
// ('devices', 'fleet', 'alerts') to them, until that source works again.
const standing = [...problems];
if (!globalThis.signalR) {
  standing.push('The SignalR client (vendor/signalr.min.js) is missing: run "node dashboard/build.mjs". Polling instead.');
}
const failing = new Map();

function show(source, message = '') {
  if (message) failing.set(source, message);
  else failing.delete(source);
  const text = [...failing.values(), ...standing].join(' ');
  notice.textContent = text;
  notice.hidden = text === '';
}

function apply(devices, fromLive) {
  const now = Date.now();
  const ids = [];
  let added = false;
  for (const raw of devices) {
    const result = model.apply(raw, now);
    if (result === 'stale') debug.stale++;
    if (result !== 'added' && result !== 'updated') continue;
    const d = model.get(raw.deviceId ?? raw.DeviceId);
    ids.push(d.id);
    added ||= result === 'added';
    if (fromLive) {
      debug.receipts.push({ id: d.id, lastSeen: d.lastSeen, at: now });
      if (debug.receipts.length > 1000) debug.receipts.splice(0, debug.receipts.length - 1000);
    }
  }
  if (ids.length > 0 || !fromLive) view.changed(ids, added);
  if (devicePage.id !== null && ids.includes(devicePage.id)) devicePage.update(model.get(devicePage.id));
}

// The fleet's figures are the server's totals, re-read fleetRefreshMs after
// the last read, whatever started it (a resync or the timer), while the page
// is visible: online and offline change with the clock alone. Live messages
// do not adjust them in between: a message's count may already be in the
// totals just read (the hub and the summary race), so adding it could count
// it twice.
const fleetRefreshMs = 10000;
const fleetTimeoutMs = 30000;
let fleetTimer = 0;
const refreshFleet = coalesce(async () => {
  clearTimeout(fleetTimer);
  try {
    fleetView.show(await fetchFleet(settings.apiBase, settings.offlineAfterSeconds, AbortSignal.timeout(fleetTimeoutMs)), Date.now());
    debug.fleetRefreshes++;
    show('fleet');
  } catch (err) {
    fleetView.stale();
    show('fleet', `Could not load the fleet figures: ${err.message}`);
  } finally {
    fleetTimer = setTimeout(fleetDue, fleetRefreshMs);
  }
});

function fleetDue() {
  if (!document.hidden) refreshFleet(); // else when the page is shown again
}
document.addEventListener('visibilitychange', fleetDue);

// The alerts: GET /api/alerts at start, with every resync and after an
// acknowledgement; in between, each raise and clear the hub sends on the
// "alert" target is merged in. Active alerts in the fleet's figures is
// the count of firing ones in this list.
let alerts = [];
const alertsView = new AlertsView(document.getElementById('alerts'), { onAck: acknowledge });
debug.alerts = () => alerts;

function showAlerts() {
  alertsView.show(alerts, Date.now());
  fleetView.showAlerts(activeCount(alerts));
}

const refreshAlerts = coalesce(async () => {
  const started = Date.now();
  try {
    const body = await fetchAlerts(settings.apiBase, AbortSignal.timeout(fleetTimeoutMs));
    show('alerts');
    if (body === null) {
      // An API without alerts (an older app): nothing to show.
      alertsView.unavailable();
      fleetView.showAlerts(null);
      return;
    }
    alerts = reconcile(alerts, body.map(normalizeAlert).filter((a) => a !== null), started);
    debug.alertRefreshes++;
    showAlerts();
  } catch (err) {
    alertsView.stale();
    show('alerts', `Could not load the alerts: ${err.message}`);
  }
});

function onAlert(msg) {
  debug.alertEvents++;
  const now = Date.now();
  for (const raw of parsePayload(msg)) {
    const a = normalizeAlert(raw);
    if (a !== null) alerts = mergeAlert(alerts, a, now);
  }
  showAlerts();
}

// acknowledge acknowledges a and shows the alert as the API answered it at
// once, then re-reads the list: another viewer may have changed it.
async function acknowledge(a) {
  const res = await ackAlert(settings.apiBase, a.ruleId, a.deviceId, AbortSignal.timeout(fleetTimeoutMs));
  if (!res.ok) return res;
  const acked = normalizeAlert(res.body);
  if (acked !== null) {
    alerts = mergeAlert(alerts, acked, Date.now());
    showAlerts();
  }
  refreshAlerts();
  return res;
}

const resync = coalesce(async () => {
  const fleet = refreshFleet();
  const listed = refreshAlerts();
  try {
    apply(await fetchDevices(settings.apiBase), false);
    debug.resyncs++;
    show('devices');
  } catch (err) {
    show('devices', `Could not load devices: ${err.message}`);
  }
  await Promise.all([fleet, listed]);
});

const live = new Live({
  apiBase: settings.apiBase,
  signalR: globalThis.signalR,
  onMessage(msg) {
    debug.received++;
    apply(parsePayload(msg), true);
  },
  onState(state, detail) {
    debug.state = state;
    connection.dataset.state = state;
    connection.querySelector('.label').textContent = detail ? `${labels[state]} (${detail})` : labels[state];
    connection.title = `Live connection: ${state}`;
  },
  resync,
});
debug.live = live;
// Raises and clears come on a target of their own; Live's connection is
// there only when the SignalR client is (else the polling resync reads them).
live.connection?.on('alert', onAlert);

show('devices');

// The cards' charts start with the last hour from the history API: read
// once per device and metric when its card is first shown, a few at a time
// (a page holds up to pageSize cards). A failed read leaves the chart to
// the live points.
const pastRequested = new Set();
const pastQueue = [];
let pastRunning = 0;
const pastConcurrency = 6;
view.onShown = (ids, metric) => {
  for (const id of ids) {
    const key = `${metric}\n${id}`;
    if (pastRequested.has(key)) continue;
    pastRequested.add(key);
    pastQueue.push({ id, metric });
  }
  while (pastRunning < pastConcurrency && pastQueue.length > 0) loadPast(pastQueue.shift());
};
async function loadPast({ id, metric }) {
  pastRunning++;
  try {
    const body = await fetchHistory(settings.apiBase, id, metric, rangeQuery('1h', Date.now()), AbortSignal.timeout(30000));
    const points = normalizePoints(body).map((p) => ({ t: p.t, v: p.avg }));
    if (model.setPast(id, metric, points)) view.changed([id], false);
    debug.pastLoads++;
  } catch {
    debug.pastFailures++;
  } finally {
    pastRunning--;
    if (pastQueue.length > 0) loadPast(pastQueue.shift());
  }
}

// route shows the view location.hash names: the fleet, or one device's page.
// Both stay in the DOM, so going back to the fleet keeps its page and search.
function route() {
  const r = parseRoute(location.hash);
  const device = r.view === 'device';
  fleetPage.hidden = device;
  devicePage.root.hidden = !device;
  document.body.dataset.view = r.view;
  if (device) {
    devicePage.open(r.id);
    devicePage.title.focus({ preventScroll: true });
  } else {
    devicePage.close();
    document.title = 'Environmental Data';
    view.redrawAll(); // canvases are not drawn while hidden
  }
  globalThis.scrollTo?.(0, 0);
}
globalThis.addEventListener('hashchange', route);
route();
// The snapshot shows the devices at once, even when the hub is down; the
// connection resyncs again once it is up.
resync();
live.start();
setInterval(() => {
  view.tick();
  devicePage.tick();
  alertsView.tick(Date.now());
}, 1000);
