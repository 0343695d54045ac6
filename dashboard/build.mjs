// Copies the browser code the page loads from npm packages into vendor/
// (git-ignored): the official SignalR client and the uPlot chart library.
// Run after `npm ci --prefix dashboard`:
//   node dashboard/build.mjs
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, 'vendor');

// Each package's dist folder, the files index.html loads (required) and
// their source maps (copied when present).
const packages = [
  { name: '@microsoft/signalr', dist: 'dist/browser', files: ['signalr.min.js'], optional: ['signalr.min.js.map'] },
  { name: 'uplot', dist: 'dist', files: ['uPlot.iife.min.js', 'uPlot.min.css'], optional: [] },
];

mkdirSync(vendor, { recursive: true });
for (const p of packages) {
  const pkg = join(here, 'node_modules', ...p.name.split('/'));
  const dist = join(pkg, p.dist);
  for (const name of p.files) {
    if (!existsSync(join(dist, name))) {
      console.error(`build: ${join(dist, name)} not found; run "npm ci --prefix ${here}" first`);
      process.exit(1);
    }
  }
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  for (const name of [...p.files, ...p.optional]) {
    const from = join(dist, name);
    if (!existsSync(from)) continue;
    copyFileSync(from, join(vendor, name));
    console.log(`build: vendor/${name} (${p.name} ${version}, ${statSync(from).size} bytes)`);
  }
}
