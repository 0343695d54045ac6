// Hash routing: "#/" (or no hash) is the fleet, "#/devices/{id}" one
// device's page, the id percent-encoded. A hash keeps the page static (no
// server rewrite) and every view linkable, with the browser's own back button.

/** parseRoute reads location.hash into { view: 'fleet' } or { view: 'device', id }. */
export function parseRoute(hash) {
  const m = /^#\/devices\/([^/?]+)\/?$/.exec(hash ?? '');
  if (m) {
    try {
      const id = decodeURIComponent(m[1]);
      if (id !== '') return { view: 'device', id };
    } catch {
      // a malformed escape: show the fleet
    }
  }
  return { view: 'fleet' };
}

/** deviceHref is the link to device id's page. */
export function deviceHref(id) {
  return `#/devices/${encodeURIComponent(id)}`;
}
