// Formatting of readings and times for display. A missing value is shown
// as a dash; 0 is a value like any other.

// Readings without digit grouping: "1013.2 hPa" fits a narrow card.
const oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false });
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const upToTwo = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, useGrouping: false });

export const MISSING = '—';

/** reading formats v with one decimal and unit, or MISSING for null. */
export function reading(v, unit) {
  if (v === null || v === undefined) return MISSING;
  // Rounding -0.04 must not show "-0.0".
  const text = oneDecimal.format(Math.abs(v) < 0.05 ? 0 : v);
  return unit ? `${text} ${unit}` : text;
}

/** plain formats a value without a fixed number of decimals (light). */
export function plain(v) {
  return v === null || v === undefined ? MISSING : upToTwo.format(v);
}

/** integer formats a count with the reader's digit grouping. */
export function integer(n) {
  return whole.format(n);
}

/** ago says how long before now (ms) the time t (ms) was. */
export function ago(t, now) {
  if (t === null) return 'never';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** clock formats t (ms) as the reader's local date and time. */
export function clock(t) {
  return t === null ? MISSING : new Date(t).toLocaleString();
}

/**
 * parseTime reads an RFC 3339 time as the API writes it (Go may write up to
 * nine fraction digits, which Date.parse does not promise to accept) and
 * returns ms since the epoch, or null for a missing or zero time.
 */
export function parseTime(s) {
  if (typeof s !== 'string' || s === '') return null;
  const trimmed = s.replace(/(\.\d{3})\d+/, '$1');
  const t = Date.parse(trimmed);
  // Go's zero time (year 1) means "never".
  return Number.isFinite(t) && t > 0 ? t : null;
}
