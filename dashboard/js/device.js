// One device's page (#/devices/{id}): its latest values, charts of each
// metric's history over 1 h, 24 h or 7 d (avg as a line, min..max as a band,
// drawn by uPlot), its calibration form, its recent rejections and a CSV of
// the history shown. Every piece of device data goes in as text.
import { fetchCalibration, fetchDevice, fetchHistory, fetchRejected } from './api.js';
import { CalibrationForm } from './calibration.js';
import { el } from './card.js';
import { HistoryChart } from './historychart.js';
import { HISTORY_METRICS, RANGES, columns, csvName, normalizePoints, rangeQuery, toCSV } from './history.js';
import { ago, clock, integer, MISSING, plain, reading } from './format.js';
import { isOlder, isOnline, normalize } from './model.js';

const labels = { temperature: 'Temperature', humidity: 'Humidity', pressure: 'Pressure', light: 'Light' };
const units = { temperature: '°C', humidity: '%', pressure: 'hPa', light: '' };
const rejectionsShown = 20;

/** DevicePage renders the device view into root, an empty element. */
export class DevicePage {
  constructor(root, settings) {
    this.root = root;
    this.apiBase = settings.apiBase;
    this.offlineMs = settings.offlineAfterSeconds * 1000;
    this.id = null;
    this.device = null;
    this.range = '24h';
    this.loads = null; // AbortController of the reads in progress
    this.data = {}; // metric → points shown
    this.query = null;

    this.title = el('h2', { id: 'device-title', class: 'device-title', tabindex: '-1' });
    this.status = el('span', { class: 'badge', 'data-field': 'status' });
    this.geo = el('p', { class: 'geo', 'data-field': 'geo' });
    this.values = {};
    const rows = [];
    for (const [field, label] of [
      ['temperature', 'Temperature'],
      ['humidity', 'Humidity'],
      ['pressure', 'Pressure'],
      ['light', 'Light'],
      ['count', 'Messages'],
      ['rejected', 'Rejected'],
      ['lastSeen', 'Last seen'],
      ['firstSeen', 'First seen'],
    ]) {
      const dd = el('dd', { 'data-field': field, text: MISSING });
      rows.push(el('div', { class: `reading reading-${field}` }, el('dt', { text: label }), dd));
      this.values[field] = dd;
    }
    this.rangeButtons = Object.entries(RANGES).map(([key, r]) => {
      const b = el('button', { type: 'button', 'data-range': key, 'aria-pressed': 'false', text: r.label });
      b.addEventListener('click', () => this.setRange(key));
      return b;
    });
    this.csv = el('button', { type: 'button', id: 'download-csv', text: 'Download CSV', disabled: '' });
    this.csv.addEventListener('click', () => this.download());
    this.chartNotice = el('p', { class: 'chart-notice', hidden: true });
    this.charts = {};
    const chartsBox = el('div', { id: 'device-charts', class: 'charts' });
    for (const m of HISTORY_METRICS) {
      const host = el('div', { class: 'history-chart', 'data-metric': m, 'data-state': 'loading' });
      const box = el('figure', { class: 'chart-box', 'data-metric': m }, el('figcaption', { text: units[m] ? `${labels[m]} (${units[m]})` : labels[m] }), host);
      chartsBox.append(box);
      this.charts[m] = { box, host, chart: new HistoryChart(host, m) };
    }
    this.form = new CalibrationForm(this.apiBase);
    this.rejections = el('ol', { id: 'rejections', class: 'rejections' });
    this.rejectionsEmpty = el('p', { class: 'empty-note', hidden: true });
    this.notice = el('p', { class: 'notice', role: 'alert', hidden: true });

    root.append(
      el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '#/', id: 'back-to-fleet', text: '‹ All devices' })),
      el('header', { class: 'device-head' }, this.title, this.status),
      this.geo,
      this.notice,
      el('dl', { class: 'readings device-readings' }, ...rows),
      el(
        'section',
        { class: 'panel', 'aria-labelledby': 'history-heading' },
        el('div', { class: 'panel-head' }, el('h3', { id: 'history-heading', text: 'History' }), el('div', { class: 'ranges', role: 'group', 'aria-label': 'Range' }, ...this.rangeButtons), this.csv),
        this.chartNotice,
        chartsBox,
      ),
      el('section', { class: 'panel', 'aria-labelledby': 'calibration-heading' }, el('h3', { id: 'calibration-heading', text: 'Calibration' }), this.form.root),
      el('section', { class: 'panel', 'aria-labelledby': 'rejections-heading' }, el('h3', { id: 'rejections-heading', text: 'Recent rejections' }), this.rejectionsEmpty, this.rejections),
    );
    globalThis.ResizeObserver && new ResizeObserver(() => this.resize()).observe(chartsBox);
  }

  /** open shows device id's page and reads everything it shows. */
  open(id) {
    if (this.id !== id) {
      this.id = id;
      this.device = null;
      this.title.textContent = id;
      this.title.title = id;
      this.showDevice(null);
      this.form.load(id, null);
      this.form.root.dataset.state = 'loading';
      this.rejections.replaceChildren();
      this.rejectionsEmpty.hidden = true;
      this.root.dataset.deviceId = id;
      this.loadStatic(id);
    }
    document.title = `${id} · Environmental Data`;
    this.loadHistory();
  }

  /** close stops the page's reads when the fleet is shown. */
  close() {
    this.loads?.abort();
    this.loads = null;
    this.id = null;
    delete this.root.dataset.deviceId;
  }

  /** update shows a newer state of the device, from the live connection. */
  update(d) {
    if (d && d.id === this.id) this.showDevice(d);
  }

  /** tick refreshes relative times and the online badge. */
  tick() {
    if (this.id !== null && this.device) this.showTimes(this.device, Date.now());
  }

  async loadStatic(id) {
    const signal = AbortSignal.timeout(30000);
    const problems = [];
    const [device, cal, rejected] = await Promise.allSettled([
      fetchDevice(this.apiBase, id, signal),
      fetchCalibration(this.apiBase, id, signal),
      fetchRejected(this.apiBase, id, signal),
    ]);
    if (id !== this.id) return;
    if (device.status === 'fulfilled') {
      if (device.value === null) problems.push(`No device "${id}" is known yet.`);
      else {
        const d = normalize(device.value);
        // A live message may have shown a newer state while this was read.
        if (d && !(this.device && isOlder(d, this.device))) this.showDevice(d);
      }
    } else problems.push(device.reason.message);
    if (cal.status === 'fulfilled') this.form.load(id, cal.value);
    else {
      this.form.load(id, null);
      this.form.root.dataset.state = 'error';
      problems.push(cal.reason.message);
    }
    if (rejected.status === 'fulfilled') this.showRejections(rejected.value);
    else problems.push(rejected.reason.message);
    this.notice.textContent = problems.join(' ');
    this.notice.hidden = problems.length === 0;
  }

  setRange(range) {
    if (!RANGES[range] || range === this.range) return;
    this.range = range;
    this.loadHistory();
  }

  // loadHistory reads the four metrics' history of the range shown; a newer
  // load (another range or device) aborts this one.
  async loadHistory() {
    this.loads?.abort();
    const ctl = new AbortController();
    this.loads = ctl;
    const { id, range } = this;
    for (const b of this.rangeButtons) b.setAttribute('aria-pressed', String(b.dataset.range === range));
    this.csv.disabled = true;
    this.root.dataset.history = 'loading';
    const q = rangeQuery(range, Date.now());
    const results = await Promise.allSettled(HISTORY_METRICS.map((m) => fetchHistory(this.apiBase, id, m, q, ctl.signal)));
    if (ctl.signal.aborted) return;
    const r = RANGES[range];
    const failed = [];
    this.data = {};
    this.query = q;
    Object.assign(this.root.dataset, { range, from: q.from, to: q.to, step: q.step });
    for (const [i, m] of HISTORY_METRICS.entries()) {
      const { host, box, chart } = this.charts[m];
      if (results[i].status === 'rejected') {
        failed.push(results[i].reason.message);
        host.dataset.state = 'error';
        host.dataset.points = '0';
        chart.clear('Could not load');
        box.hidden = false;
        continue;
      }
      const points = normalizePoints(results[i].value);
      this.data[m] = points;
      host.dataset.points = String(points.length);
      host.dataset.state = points.length > 0 ? 'ready' : 'empty';
      // Light is optional: its chart shows only for a device that has it.
      box.hidden = m === 'light' && points.length === 0 && this.device?.light == null;
      if (points.length > 0) chart.show(columns(points, r.stepMs), [Date.parse(q.from) / 1000, Date.parse(q.to) / 1000]);
      else chart.clear(`No ${labels[m].toLowerCase()} in the last ${r.label}`);
    }
    this.chartNotice.textContent = failed.length ? `Could not load all history: ${failed[0]}` : '';
    this.chartNotice.hidden = failed.length === 0;
    this.csv.disabled = Object.values(this.data).every((p) => p.length === 0);
    this.root.dataset.history = 'ready';
  }

  resize() {
    for (const m of HISTORY_METRICS) this.charts[m].chart.resize();
  }

  download() {
    if (!this.query) return;
    const blob = new Blob([toCSV(this.data)], { type: 'text/csv;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: csvName(this.id, this.range, this.query.to), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  showDevice(d) {
    this.device = d;
    const v = this.values;
    const set = (field, value, text) => {
      v[field].textContent = text;
      v[field].dataset.value = value === null || value === undefined ? '' : String(value);
    };
    set('temperature', d?.temperature, d ? reading(d.temperature, '°C') : MISSING);
    set('humidity', d?.humidity, d ? reading(d.humidity, '%') : MISSING);
    set('pressure', d?.pressure, d ? reading(d.pressure, 'hPa') : MISSING);
    set('light', d?.light, d ? plain(d.light) : MISSING);
    v.light.parentElement.hidden = !d || d.light === null;
    set('count', d?.count, d ? integer(d.count) : MISSING);
    set('rejected', d?.rejected, d ? integer(d.rejected) : MISSING);
    v.rejected.title = d?.lastRejection ? `Last rejection: ${d.lastRejection}` : '';
    this.geo.textContent = d?.geo ?? '';
    this.geo.hidden = !d?.geo;
    if (!d) {
      this.status.textContent = '';
      delete this.status.dataset.state;
      v.lastSeen.textContent = MISSING;
      v.firstSeen.textContent = MISSING;
      return;
    }
    v.firstSeen.textContent = clock(d.firstSeen);
    v.lastSeen.title = clock(d.lastSeen);
    this.showTimes(d, Date.now());
  }

  showTimes(d, now) {
    this.values.lastSeen.textContent = ago(d.lastSeen, now);
    const state = isOnline(d, now, this.offlineMs) ? 'online' : 'offline';
    this.status.textContent = state;
    this.status.dataset.state = state;
  }

  showRejections(list) {
    const recent = [...list].sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, rejectionsShown);
    this.rejections.replaceChildren(
      ...recent.map((r) => {
        const t = new Date(r.at);
        const when = el('time', { text: Number.isNaN(t.getTime()) ? String(r.at ?? '') : t.toLocaleString() });
        if (!Number.isNaN(t.getTime())) when.dateTime = t.toISOString();
        return el('li', { 'data-message-id': String(r.messageId ?? '') }, when, el('span', { class: 'reason', text: String(r.reason ?? '') }));
      }),
    );
    this.rejectionsEmpty.textContent = 'No recent rejections.';
    this.rejectionsEmpty.hidden = recent.length > 0;
  }
}
