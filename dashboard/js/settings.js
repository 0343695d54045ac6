// Settings come from window.ENVIROMON_CONFIG (config.js), overridden by the
// page's query parameters: ?api=BASE&offline=SECONDS&pageSize=N.

const defaults = Object.freeze({ apiBase: '', offlineAfterSeconds: 60, pageSize: 50 });

/**
 * readSettings returns the effective settings and the problems found in
 * them; a bad value falls back to the default instead of breaking the page.
 */
export function readSettings(config = globalThis.ENVIROMON_CONFIG, search = globalThis.location?.search ?? '') {
  const params = new URLSearchParams(search);
  const problems = [];
  const pick = (param, key) => (params.has(param) ? params.get(param) : config?.[key]);

  const apiBase = cleanBase(pick('api', 'apiBase') ?? '', problems);
  const offlineAfterSeconds = number(pick('offline', 'offlineAfterSeconds'), defaults.offlineAfterSeconds, 0.5, 86400, 'offline', problems);
  const pageSize = Math.round(number(pick('pageSize', 'pageSize'), defaults.pageSize, 1, 500, 'pageSize', problems));
  return { settings: { apiBase, offlineAfterSeconds, pageSize }, problems };
}

// cleanBase accepts '' (same origin), a path on this origin ('/enviromon')
// or an absolute http(s) URL, and drops a trailing slash. Anything else
// (javascript:, //host, garbage) is refused: the base ends up in fetch URLs.
function cleanBase(value, problems) {
  const s = String(value).trim();
  if (s === '') return '';
  if (s.startsWith('/') && !s.startsWith('//')) return s.replace(/\/+$/, '');
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') {
      return (u.origin + u.pathname).replace(/\/+$/, '');
    }
  } catch {
    // fall through to the problem below
  }
  problems.push(`ignored API base "${s}": not an http(s) URL or a path`);
  return '';
}

function number(value, fallback, min, max, name, problems) {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (Number.isFinite(n) && n >= min && n <= max) return n;
  problems.push(`ignored ${name}="${value}": expected a number from ${min} to ${max}`);
  return fallback;
}
