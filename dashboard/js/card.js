// One device's card. Every piece of device data goes in with textContent or
// an attribute, never as markup: a device id is whatever a device sent.
import { ago, clock, integer, plain, reading } from './format.js';
import { isOnline } from './model.js';
import { deviceHref } from './route.js';
import { Sparkline, sparkSeries } from './sparkline.js';

/** el creates an element with attributes and children (nodes or text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') node.textContent = v;
    else if (k === 'hidden') node.hidden = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// readingRow is a labelled value; the unit is its own smaller span, so
// the field's text reads "21.3 °C".
function readingRow(label, field, unit) {
  const number = el('span', { class: 'number' }, '—');
  const unitEl = el('span', { class: 'unit' });
  const value = el('dd', { 'data-field': field }, number, unitEl);
  const row = el('div', { class: `reading reading-${field}` }, el('dt', { text: label }), value);
  return { row, value: { node: value, number, unit: unitEl, unitText: unit ? ` ${unit}` : '' } };
}

/** Card is the DOM of one device. */
export class Card {
  constructor(id) {
    this.id = id;
    this.status = el('span', { class: 'badge', 'data-field': 'status' });
    // The id links to the device's page (#/devices/{id}).
    const title = el('h2', { class: 'device-id', title: id }, el('a', { href: deviceHref(id), class: 'device-link', text: id }));
    this.geo = el('p', { class: 'geo', 'data-field': 'geo' });
    const t = readingRow('Temperature', 'temperature', '°C');
    const hu = readingRow('Humidity', 'humidity', '%');
    const p = readingRow('Pressure', 'pressure', 'hPa');
    const l = readingRow('Light', 'light', '');
    this.fields = { temperature: t.value, humidity: hu.value, pressure: p.value, light: l.value };
    this.lightRow = l.row;
    this.chart = el('div', { class: 'chart spark', role: 'img' });
    this.sparkline = new Sparkline(this.chart);
    this.count = el('span', { 'data-field': 'count' });
    this.rejected = el('span', { 'data-field': 'rejected' });
    this.rejectedBox = el('span', { class: 'stat stat-rejected' }, 'Rejected ', this.rejected);
    this.lastSeen = el('time', { 'data-field': 'lastSeen' });
    this.root = el(
      'article',
      { class: 'card', 'data-device-id': id },
      el('header', { class: 'card-head' }, title, this.status),
      this.geo,
      el('dl', { class: 'readings' }, t.row, hu.row, p.row, l.row),
      this.chart,
      el(
        'footer',
        { class: 'card-foot' },
        el('span', { class: 'stat' }, 'Messages ', this.count),
        this.rejectedBox,
        el('span', { class: 'stat' }, 'Seen ', this.lastSeen),
      ),
    );
    this.online = null;
  }

  /** update shows device d and draws its chart of metric. */
  update(d, now, offlineMs, metric) {
    this.geo.textContent = d.geo;
    this.geo.hidden = d.geo === '';
    setReading(this.fields.temperature, d.temperature, reading(d.temperature));
    setReading(this.fields.humidity, d.humidity, reading(d.humidity));
    setReading(this.fields.pressure, d.pressure, reading(d.pressure));
    setReading(this.fields.light, d.light, plain(d.light));
    this.lightRow.hidden = d.light === null;
    this.count.textContent = integer(d.count);
    this.count.dataset.value = String(d.count);
    this.rejected.textContent = integer(d.rejected);
    this.rejected.dataset.value = String(d.rejected);
    this.rejectedBox.classList.toggle('has-rejections', d.rejected > 0);
    if (d.lastRejection) this.rejectedBox.title = `Last rejection: ${d.lastRejection}`;
    else this.rejectedBox.removeAttribute('title');
    this.rejected.title = this.rejectedBox.title;
    if (d.lastSeen === null) this.lastSeen.removeAttribute('datetime');
    else this.lastSeen.dateTime = new Date(d.lastSeen).toISOString();
    this.lastSeen.title = clock(d.lastSeen);
    this.tick(d, now, offlineMs);
    this.draw(d, metric);
  }

  /** tick refreshes what changes with the clock: last seen and status. */
  tick(d, now, offlineMs) {
    this.lastSeen.textContent = ago(d.lastSeen, now);
    const online = isOnline(d, now, offlineMs);
    if (online === this.online) return;
    this.online = online;
    const state = online ? 'online' : 'offline';
    this.status.textContent = state;
    this.status.dataset.state = state;
    this.root.dataset.status = state;
  }

  draw(d, metric) {
    this.chart.setAttribute('aria-label', `${metric} over the last hour of ${d.id}`);
    this.sparkline.draw(sparkSeries(d.past[metric] ?? [], d.history, metric, Date.now()), metric);
  }
}

function setReading(field, value, text) {
  field.number.textContent = text;
  field.unit.textContent = value === null ? '' : field.unitText;
  field.node.dataset.value = value === null ? '' : String(value);
}
