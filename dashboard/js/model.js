// The in-memory model of every device the page knows, shown or not: the
// latest state of each, a short history for the charts, and the sorted list
// of ids that filtering and paging work on.
import { parseTime } from './format.js';

/** METRICS are the readings a chart can show. */
export const METRICS = ['temperature', 'humidity', 'pressure'];

/** HISTORY is how many points per device are kept for its chart. */
export const HISTORY = 100;

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * normalize turns one device object from the API or the hub into the shape
 * the page uses, or returns null when it has no device id.
 */
export function normalize(raw) {
  if (raw === null || typeof raw !== 'object') return null;
  const id = raw.deviceId ?? raw.DeviceId;
  if (typeof id !== 'string' || id === '') return null;
  return {
    id,
    geo: text(raw.geo),
    temperature: num(raw.temperature),
    humidity: num(raw.humidity),
    pressure: num(raw.pressure),
    light: num(raw.light),
    count: count(raw.count),
    rejected: count(raw.rejected),
    lastRejection: text(raw.lastRejection),
    firstSeen: parseTime(raw.firstSeen),
    lastSeen: parseTime(raw.lastSeen),
    messageId: raw.messageId == null ? '' : String(raw.messageId),
  };
}

/**
 * parsePayload reads a newMessage argument: an array of devices, one
 * device, or a JSON string of either. Unreadable input gives [].
 */
export function parsePayload(msg) {
  let v = msg;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return [];
    }
  }
  if (Array.isArray(v)) return v;
  return v && typeof v === 'object' ? [v] : [];
}

/**
 * isOlder reports whether state a is older than state b. A device's lastSeen
 * never goes back and every message raises count or rejected, so
 * (lastSeen, count + rejected) orders the states of one device; live
 * messages and a resync may arrive in any order.
 */
export function isOlder(a, b) {
  const sa = a.lastSeen ?? -Infinity;
  const sb = b.lastSeen ?? -Infinity;
  if (sa !== sb) return sa < sb;
  return a.count + a.rejected < b.count + b.rejected;
}

/** Model holds every known device. */
export class Model {
  constructor() {
    this.devices = new Map(); // id → state with .history and .past
    this.ids = []; // sorted by id, naturally ("sim-2" before "sim-10")
    this.version = 0; // raised when a device is added
    this.filterCache = { query: null, version: -1, ids: [] };
  }

  get size() {
    return this.devices.size;
  }

  get(id) {
    return this.devices.get(id);
  }

  /**
   * apply merges one raw device into the model. It returns 'added',
   * 'updated', 'stale' (older than what is held: ignored) or 'invalid'.
   */
  apply(raw, receivedAt = Date.now()) {
    const next = normalize(raw);
    if (next === null) return 'invalid';
    const cur = this.devices.get(next.id);
    if (cur && isOlder(next, cur)) return 'stale';
    next.receivedAt = receivedAt;
    if (!cur) {
      next.history = [];
      next.past = {};
      record(next, null);
      this.devices.set(next.id, next);
      this.insertId(next.id);
      this.version++;
      return 'added';
    }
    next.history = cur.history;
    next.past = cur.past;
    record(next, cur);
    this.devices.set(next.id, next);
    return 'updated';
  }

  /**
   * setPast keeps device id's recent history of metric from the API
   * ({t, v} in time order), which the card's chart shows before the live
   * points. It reports whether the device is known.
   */
  setPast(id, metric, points) {
    const d = this.devices.get(id);
    if (!d) return false;
    d.past[metric] = points;
    return true;
  }

  insertId(id) {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (collator.compare(this.ids[mid], id) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.ids.splice(lo, 0, id);
  }

  /** filter returns the sorted ids containing query, case-insensitively. */
  filter(query) {
    const q = query.trim().toLowerCase();
    const c = this.filterCache;
    if (c.query === q && c.version === this.version) return c.ids;
    const ids = q === '' ? this.ids : this.ids.filter((id) => id.toLowerCase().includes(q));
    this.filterCache = { query: q, version: this.version, ids };
    return ids;
  }
}

/** isOnline reports whether d was heard from within offlineMs of now. */
export function isOnline(d, now, offlineMs) {
  return d.lastSeen !== null && now - d.lastSeen < offlineMs;
}

// record adds next's readings to the history when it holds a newly
// accepted message (a higher count): a rejected message or a resync that
// repeats the same state adds no point.
function record(next, cur) {
  if (cur && next.count <= cur.count) return;
  if (next.temperature === null && next.humidity === null && next.pressure === null) return;
  const h = next.history;
  h.push({
    t: next.lastSeen ?? next.receivedAt,
    temperature: next.temperature,
    humidity: next.humidity,
    pressure: next.pressure,
  });
  if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function count(v) {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

function text(v) {
  return typeof v === 'string' ? v : '';
}
