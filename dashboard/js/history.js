// Device history from GET /api/devices/{id}/history: the ranges the device
// page offers, the query of each, the points as uPlot's columns, and the
// CSV of what is shown. Pure functions: the bucketing is the app's.
import { parseTime } from './format.js';

/** RANGES are the spans the device page offers, with the step each asks for. */
export const RANGES = Object.freeze({
  '1h': { label: '1 h', spanMs: 3600e3, step: '1m', stepMs: 60e3 },
  '24h': { label: '24 h', spanMs: 24 * 3600e3, step: '1m', stepMs: 60e3 },
  '7d': { label: '7 d', spanMs: 7 * 24 * 3600e3, step: '1h', stepMs: 3600e3 },
});

/** HISTORY_METRICS are the metrics the app keeps history of, in page order. */
export const HISTORY_METRICS = ['temperature', 'humidity', 'pressure', 'light'];

/**
 * rangeQuery returns the query of range (a RANGES key) ending at now (ms):
 * { from, to } as RFC 3339 times and the step. The end is rounded up to the
 * next step so that the bucket in progress is included.
 */
export function rangeQuery(range, now) {
  const r = RANGES[range];
  if (!r) throw new Error(`unknown range ${range}`);
  const to = Math.ceil(now / r.stepMs) * r.stepMs;
  return { from: rfc3339(to - r.spanMs), to: rfc3339(to), step: r.step };
}

/** rfc3339 writes ms since the epoch as an RFC 3339 UTC time, to the second. */
export function rfc3339(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * normalizePoints reads the points of a history answer: each with t in ms
 * and finite numbers, in time order; anything else is dropped.
 */
export function normalizePoints(body) {
  const out = [];
  for (const p of Array.isArray(body?.points) ? body.points : []) {
    const t = parseTime(p?.t);
    if (t === null || ![p.min, p.avg, p.max, p.n].every(Number.isFinite)) continue;
    out.push({ t, min: p.min, avg: p.avg, max: p.max, n: p.n });
  }
  return out.sort((a, b) => a.t - b.t);
}

/**
 * columns turns points into uPlot's data: [times in s, min, avg, max]. A gap
 * longer than one step gets a null row, so the line and band break there
 * instead of bridging hours without data.
 */
export function columns(points, stepMs) {
  const cols = [[], [], [], []];
  let prev = null;
  for (const p of points) {
    if (prev !== null && p.t - prev > stepMs * 1.5) {
      cols[0].push((prev + stepMs) / 1000);
      cols[1].push(null);
      cols[2].push(null);
      cols[3].push(null);
    }
    cols[0].push(p.t / 1000);
    cols[1].push(p.min);
    cols[2].push(p.avg);
    cols[3].push(p.max);
    prev = p.t;
  }
  return cols;
}

/** CSV_HEADER is the CSV download's one header row. */
export const CSV_HEADER = 'time,metric,min,avg,max,n';

/**
 * toCSV writes the history shown as CSV: one header row, then one row per
 * bucket and metric (long format: metrics with no data add no rows), in
 * time order and, within a time, in HISTORY_METRICS order. time is the
 * bucket's start in RFC 3339 UTC. Lines end with CRLF (RFC 4180).
 */
export function toCSV(byMetric) {
  const rows = [];
  for (const [i, metric] of HISTORY_METRICS.entries()) {
    for (const p of byMetric[metric] ?? []) rows.push({ p, metric, i });
  }
  rows.sort((a, b) => a.p.t - b.p.t || a.i - b.i);
  const lines = [CSV_HEADER];
  for (const { p, metric } of rows) lines.push([rfc3339(p.t), metric, p.min, p.avg, p.max, p.n].join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** csvName is the download's file name: device, range and end time. */
export function csvName(id, range, to) {
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'device';
  return `${safe}-${range}-${to.replace(/:/g, '')}.csv`;
}
