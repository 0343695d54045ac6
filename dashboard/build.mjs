// Copies the official SignalR browser client from node_modules into vendor/,
// where index.html loads it. Run after `npm ci --prefix dashboard`:
//   node dashboard/build.mjs
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, 'node_modules', '@microsoft', 'signalr');
const dist = join(pkg, 'dist', 'browser');
const vendor = join(here, 'vendor');

if (!existsSync(join(dist, 'signalr.min.js'))) {
  console.error(`build: ${join(dist, 'signalr.min.js')} not found; run "npm ci --prefix ${here}" first`);
  process.exit(1);
}
const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
mkdirSync(vendor, { recursive: true });
for (const name of ['signalr.min.js', 'signalr.min.js.map']) {
  const from = join(dist, name);
  if (!existsSync(from)) continue;
  copyFileSync(from, join(vendor, name));
  console.log(`build: vendor/${name} (@microsoft/signalr ${version}, ${statSync(from).size} bytes)`);
}
