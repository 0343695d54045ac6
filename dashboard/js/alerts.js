// Alerts: the latest episode of each rule on each device, as GET
// /api/alerts lists them and the hub's "alert" target announces each raise
// and clear (alert.Alert in the app). The pure functions read, merge and
// order them; AlertsView shows them with an Acknowledge button per
// unacknowledged firing alert. Every piece of alert data goes in as text.
import { el } from './card.js';
import { ago, clock, integer, parseTime, plain, reading } from './format.js';
import { deviceHref } from './route.js';

/** STATES are the states an alert reports. */
export const STATES = Object.freeze(['firing', 'cleared']);

// units of the metrics a threshold rule watches; light has none.
const units = { temperature: '°C', humidity: '%', pressure: 'hPa', light: '' };

/** alertKey is the key of an alert: one per rule and device. */
export function alertKey(ruleId, deviceId) {
  return `${ruleId}\n${deviceId}`; // neither id may hold a line break
}

/**
 * normalizeAlert reads one alert body of the API or the hub into
 * { key, ruleId, deviceId, metric, state, since, value, acknowledgedAt,
 * received } (times in ms), or null when it lacks what the page needs to
 * show and key it: the ids, a known state, a since.
 */
export function normalizeAlert(raw) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const { ruleId, deviceId, state } = raw;
  if (typeof ruleId !== 'string' || ruleId === '' || typeof deviceId !== 'string' || deviceId === '') return null;
  if (!STATES.includes(state)) return null;
  const since = parseTime(raw.since);
  if (since === null) return null;
  return {
    key: alertKey(ruleId, deviceId),
    ruleId,
    deviceId,
    metric: typeof raw.metric === 'string' ? raw.metric : '',
    state,
    since,
    value: typeof raw.value === 'number' && Number.isFinite(raw.value) ? raw.value : null,
    acknowledgedAt: parseTime(raw.acknowledgedAt),
    received: null, // when it came live (or from an acknowledgement), ms
  };
}

// pick returns which of two states of one alert to keep: the later episode
// or transition (since), the incoming one at the same since. An ack does not
// move since, so at the same since an acknowledgement already known stays.
function pick(cur, next) {
  if (cur === undefined) return next;
  if (next.since < cur.since) return cur;
  if (next.since > cur.since || next.acknowledgedAt !== null || cur.acknowledgedAt === null) return next;
  return { ...next, acknowledgedAt: cur.acknowledgedAt };
}

/**
 * mergeAlert returns list with alert a in it, keyed by rule and device:
 * a replaces the state it is newer than (see pick) and is dropped when it
 * is older. received (ms) marks a state that came live or from an
 * acknowledgement, which reconcile keeps against an older snapshot.
 */
export function mergeAlert(list, a, received = null) {
  const i = list.findIndex((x) => x.key === a.key);
  const next = { ...a, received };
  if (i < 0) return [...list, next];
  const kept = pick(list[i], next);
  if (kept === list[i]) return list;
  const out = list.slice();
  out[i] = kept;
  return out;
}

/**
 * reconcile returns the list after a GET /api/alerts read that started at
 * startedAt (ms): the snapshot, merged with what arrived live since the read
 * started (a raise the snapshot may have missed). An alert the snapshot no
 * longer lists (its rule was deleted, or it cleared long ago) goes.
 */
export function reconcile(list, snapshot, startedAt) {
  const byKey = new Map();
  for (const a of list) if (a.received !== null && a.received >= startedAt) byKey.set(a.key, a);
  for (const a of snapshot) byKey.set(a.key, pick(byKey.get(a.key), { ...a, received: null }));
  return [...byKey.values()];
}

/** orderAlerts returns list firing first, then newest first, as the API lists them. */
export function orderAlerts(list) {
  return [...list].sort((a, b) => {
    if ((a.state === 'firing') !== (b.state === 'firing')) return a.state === 'firing' ? -1 : 1;
    return b.since - a.since || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  });
}

/** activeCount is how many alerts of list are firing. */
export function activeCount(list) {
  return list.reduce((n, a) => n + (a.state === 'firing' ? 1 : 0), 0);
}

/** isOffline reports whether a is an offline rule's alert. */
export function isOffline(a) {
  return a.metric === '' || a.metric === 'offline';
}

/** span says how long seconds is, in the largest whole unit: "45 s", "6 min", "2 h", "3 d". */
export function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/**
 * describe says what raised or cleared a: "temperature 31.5 °C",
 * "temperature back to 28.0 °C", "offline (silent 6 min when raised)",
 * "back online".
 */
export function describe(a) {
  const firing = a.state === 'firing';
  if (isOffline(a)) {
    if (!firing) return 'back online';
    // value is how long the device had been silent when the alert was
    // raised; since (shown beside) says how long ago that was.
    return a.value === null ? 'offline' : `offline (silent ${span(a.value)} when raised)`;
  }
  const metric = a.metric;
  if (a.value === null) return firing ? metric : `${metric} back in range`;
  const unit = Object.hasOwn(units, metric) ? units[metric] : '';
  const value = unit ? reading(a.value, unit) : plain(a.value);
  return firing ? `${metric} ${value}` : `${metric} back to ${value}`;
}

/**
 * alertText returns the texts the list shows of a at now (ms): its state,
 * what happened, since when, and when it was acknowledged ('' if not).
 */
export function alertText(a, now) {
  return {
    state: a.state,
    what: describe(a),
    rule: `rule ${a.ruleId}`,
    since: `${a.state === 'firing' ? 'since' : 'cleared'} ${ago(a.since, now)}`,
    sinceTitle: clock(a.since),
    ack: a.acknowledgedAt === null ? '' : `acknowledged ${ago(a.acknowledgedAt, now)}`,
    ackTitle: a.acknowledgedAt === null ? '' : clock(a.acknowledgedAt),
    canAck: a.state === 'firing' && a.acknowledgedAt === null,
  };
}

/**
 * summaryText sums list up for the heading: "1 firing · 2 cleared", or
 * "None firing · 2 cleared", or "No active or recent alerts".
 */
export function summaryText(list) {
  const firing = activeCount(list);
  const cleared = list.length - firing;
  if (list.length === 0) return 'No active or recent alerts';
  return `${firing === 0 ? 'None' : integer(firing)} firing · ${integer(cleared)} cleared`;
}

/** alertSelector selects the list item of rule on device (any characters). */
export function alertSelector(ruleId, deviceId) {
  const q = (s) => s.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
  return `[data-alert-rule="${q(ruleId)}"][data-alert-device="${q(deviceId)}"]`;
}

// Item is one alert's list entry.
class Item {
  constructor(a, onAck) {
    this.alert = a;
    this.state = el('span', { class: 'badge alert-state', 'data-field': 'state' });
    this.device = el('a', { class: 'alert-device', href: deviceHref(a.deviceId), text: a.deviceId });
    this.what = el('span', { class: 'alert-what', 'data-field': 'what' });
    this.rule = el('span', { class: 'alert-rule', 'data-field': 'rule' });
    this.since = el('time', { 'data-field': 'since' });
    this.ack = el('span', { class: 'alert-acked', 'data-field': 'ack' });
    this.button = el('button', { type: 'button', class: 'alert-ack', text: 'Acknowledge' });
    this.error = el('p', { class: 'alert-error', 'data-field': 'error', role: 'alert', hidden: true });
    this.button.addEventListener('click', () => onAck(this));
    this.root = el(
      'li',
      { class: 'alert-item', 'data-alert-rule': a.ruleId, 'data-alert-device': a.deviceId },
      el('div', { class: 'alert-line' }, this.state, el('p', { class: 'alert-title' }, this.device, ' ', this.what)),
      el('p', { class: 'alert-meta' }, this.since, this.rule, this.ack),
      el('div', { class: 'alert-actions' }, this.button, this.error),
    );
    this.busy = false;
  }

  update(a, now) {
    this.alert = a;
    const t = alertText(a, now);
    this.root.dataset.state = t.state;
    this.root.dataset.acknowledged = String(a.acknowledgedAt !== null);
    this.state.textContent = t.state;
    this.state.dataset.state = t.state;
    this.what.textContent = t.what;
    this.rule.textContent = t.rule;
    this.tick(now);
    this.button.hidden = !t.canAck;
    if (!t.canAck) this.fail('');
  }

  /** tick refreshes the relative times. */
  tick(now) {
    const t = alertText(this.alert, now);
    this.since.textContent = t.since;
    this.since.title = t.sinceTitle;
    this.since.dateTime = new Date(this.alert.since).toISOString();
    this.ack.textContent = t.ack;
    this.ack.title = t.ackTitle;
    this.ack.hidden = t.ack === '';
  }

  working(on) {
    this.busy = on;
    this.button.disabled = on;
    this.button.textContent = on ? 'Acknowledging…' : 'Acknowledge';
  }

  fail(message) {
    this.error.textContent = message;
    this.error.hidden = message === '';
  }
}

/**
 * AlertsView shows the alerts in index.html's #alerts section: a summary,
 * the list (the first limit items, or all on request) and the Acknowledge
 * buttons. onAck(alert) resolves to { ok, error }: a refusal is shown on
 * the alert's entry; what an acknowledgement changes comes back through
 * show().
 */
export class AlertsView {
  constructor(root, { onAck, limit = 10 } = {}) {
    this.root = root;
    this.list = root.querySelector('.alert-list');
    this.summary = root.querySelector('.alerts-summary');
    this.more = root.querySelector('.alerts-more');
    this.onAck = onAck;
    this.limit = limit;
    this.all = false;
    this.items = new Map(); // key → Item, of the alerts shown
    this.alerts = [];
    this.more.addEventListener('click', () => {
      this.all = !this.all;
      this.show(this.alerts, Date.now());
    });
  }

  /** show puts list (alerts as normalizeAlert gives them) on the page at now (ms). */
  show(list, now) {
    this.alerts = orderAlerts(list);
    const shown = this.all ? this.alerts : this.alerts.slice(0, this.limit);
    const items = new Map();
    for (const a of shown) {
      const item = this.items.get(a.key) ?? new Item(a, (it) => this.acknowledge(it));
      item.update(a, now);
      items.set(a.key, item);
    }
    this.items = items;
    // Items stay the same nodes: a focused button keeps its focus.
    this.list.replaceChildren(...[...items.values()].map((it) => it.root));
    this.summary.textContent = summaryText(this.alerts);
    this.root.dataset.state = 'current';
    this.root.hidden = false;
    this.root.dataset.firing = String(activeCount(this.alerts));
    const hidden = this.alerts.length - shown.length;
    this.more.hidden = this.alerts.length <= this.limit;
    this.more.textContent = hidden > 0 ? `Show all ${integer(this.alerts.length)}` : 'Show fewer';
  }

  /** tick refreshes the relative times, once a second. */
  tick(now) {
    for (const item of this.items.values()) item.tick(now);
  }

  /** unavailable hides the list: the API has no alerts (an app without them answers 404). */
  unavailable() {
    this.root.dataset.state = 'unavailable';
    this.root.hidden = true;
  }

  /** stale marks the list as out of date: the last read failed. */
  stale() {
    if (this.root.dataset.state === 'current' || this.root.dataset.state === 'stale') {
      this.root.dataset.state = 'stale';
      return;
    }
    this.root.dataset.state = 'unavailable';
    this.summary.textContent = 'Alerts could not be loaded';
  }

  async acknowledge(item) {
    if (item.busy) return;
    item.working(true);
    item.fail('');
    let result;
    try {
      result = await this.onAck(item.alert);
    } catch (err) {
      result = { ok: false, error: err?.message ?? String(err) };
    }
    item.working(false);
    if (!result.ok) item.fail(`Not acknowledged: ${result.error}`);
  }
}
