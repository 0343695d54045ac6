// The fleet figures above the cards: the totals of GET /api/summary
// (telemetry.Fleet in the app). The server adds every device up, so the page
// neither counts its device list nor needs all of it for these figures.
// Online and offline change with the clock alone, so main.js refreshes them
// on a timer as well as on every resync. Active alerts is not a summary
// figure: it counts the firing alerts of the page's alert list (alerts.js),
// which the hub keeps current, so it has its own cell ([data-alerts]) and
// its own state.
import { MISSING, integer, parseTime } from './format.js';

/** FIGURES are the figures shown, in order: the summary's key and a label. */
export const FIGURES = Object.freeze([
  { key: 'devices', label: 'Devices' },
  { key: 'online', label: 'Online' },
  { key: 'offline', label: 'Offline' },
  { key: 'messages', label: 'Messages' },
  { key: 'rejected', label: 'Rejected' },
]);

// alerting are the figures drawn as a warning when above zero.
const alerting = new Set(['offline', 'rejected']);

/**
 * normalizeFleet reads a GET /api/summary body: every figure a whole number
 * of at least 0, lastSeen an RFC 3339 time (null for never). Anything else
 * gives null: the page shows no figure it cannot vouch for.
 */
export function normalizeFleet(raw) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const fleet = { lastSeen: parseTime(raw.lastSeen) };
  for (const { key } of FIGURES) {
    const v = raw[key];
    if (!Number.isSafeInteger(v) || v < 0) return null;
    fleet[key] = v;
  }
  return fleet;
}

/**
 * figures returns what the page shows of fleet, in FIGURES order: key,
 * label, text and value, and alert when it deserves attention.
 */
export function figures(fleet) {
  return FIGURES.map(({ key, label }) => ({
    key,
    label,
    value: fleet[key],
    text: integer(fleet[key]),
    alert: alerting.has(key) && fleet[key] > 0,
  }));
}

/**
 * FleetView fills the figures of index.html's #fleet list: its
 * [data-fleet=key] elements. Values go in as text only.
 */
export class FleetView {
  constructor(root) {
    this.root = root;
    this.cells = new Map([...root.querySelectorAll('[data-fleet]')].map((e) => [e.dataset.fleet, e]));
    this.active = root.querySelector('[data-alerts="active"]');
    this.at = null; // when the figures shown were read
  }

  /**
   * showAlerts puts n, the number of firing alerts, in the Active alerts
   * figure; null when the alerts are unknown (not loaded, or no alerts API).
   */
  showAlerts(n) {
    if (!this.active) return;
    this.active.textContent = n === null ? MISSING : integer(n);
    this.active.dataset.value = n === null ? '' : String(n);
    this.active.classList.toggle('alert', n !== null && n > 0);
  }

  /** show puts fleet's figures on the page, as read at time at (ms). */
  show(fleet, at) {
    for (const f of figures(fleet)) {
      const cell = this.cells.get(f.key);
      if (!cell) continue;
      cell.textContent = f.text;
      cell.dataset.value = String(f.value);
      cell.classList.toggle('alert', f.alert);
    }
    this.at = at;
    this.root.dataset.state = 'current';
    this.root.title = `Fleet figures as of ${new Date(at).toLocaleTimeString()}`;
  }

  /** stale marks the figures shown as out of date: the last refresh failed. */
  stale() {
    this.root.dataset.state = this.at === null ? 'unavailable' : 'stale';
    this.root.title = this.at === null ? 'Fleet figures unavailable' : `Fleet figures as of ${new Date(this.at).toLocaleTimeString()}: the last refresh failed`;
  }
}
