// The dashboard's HTTP API client.

/** fetchDevices returns every device's state from GET {apiBase}/api/devices. */
export async function fetchDevices(apiBase, signal) {
  const res = await fetch(`${apiBase}/api/devices`, {
    cache: 'no-store',
    headers: { Accept: 'application/json' },
    signal,
  });
  if (!res.ok) throw new Error(`GET /api/devices: HTTP ${res.status}`);
  const body = await res.json();
  if (!Array.isArray(body)) throw new Error('GET /api/devices: not a JSON array');
  return body;
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
