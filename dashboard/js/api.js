// The dashboard's HTTP API client.

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
