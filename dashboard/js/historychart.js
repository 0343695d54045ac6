// One metric's history chart: uPlot (vendor/uPlot.iife.min.js, copied from
// npm by build.mjs) with avg as a line and the min..max range as a band.
// Without the vendored file the chart says so instead of drawing.

const colours = { temperature: '#d9480f', humidity: '#1971c2', pressure: '#6741d9', light: '#e67700' };
const bandFill = { temperature: '#d9480f33', humidity: '#1971c233', pressure: '#6741d933', light: '#e6770033' };

// Taller on wider screens; a phone keeps each chart within a thumb's scroll.
const height = () => (globalThis.matchMedia?.('(min-width: 40rem)').matches ? 220 : 170);

/** HistoryChart draws one metric's history into host, a block element. */
export class HistoryChart {
  constructor(host, metric) {
    this.host = host;
    this.metric = metric;
    this.plot = null;
    this.message = document.createElement('p');
    this.message.className = 'chart-message';
    host.append(this.message);
  }

  /** show draws data ([x, min, avg, max] columns) over the x range [from, to] in s. */
  show(data, [from, to]) {
    const uPlot = globalThis.uPlot;
    if (!uPlot) {
      this.clear('The chart library (vendor/uPlot.iife.min.js) is missing: run "node dashboard/build.mjs".');
      return;
    }
    this.message.hidden = true;
    this.destroy();
    const colour = colours[this.metric];
    const ink = getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#616e7c';
    const grid = getComputedStyle(document.documentElement).getPropertyValue('--line').trim() || '#d9e2ec';
    const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    this.plot = new uPlot(
      {
        width: this.width(),
        height: height(),
        scales: { x: { time: true, range: () => [from, to] } },
        series: [
          {},
          { label: 'min', stroke: bandFill[this.metric], width: 1 },
          { label: 'avg', stroke: colour, width: 2 },
          { label: 'max', stroke: bandFill[this.metric], width: 1 },
        ],
        bands: [{ series: [3, 1], fill: bandFill[this.metric] }],
        axes: [axis, { ...axis, size: yAxisWidth }],
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      this.host,
    );
  }

  /** clear removes the chart and shows text in its place. */
  clear(text) {
    this.destroy();
    this.message.textContent = text;
    this.message.hidden = false;
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: height() });
  }

  width() {
    return Math.max(200, Math.floor(this.host.clientWidth || 320));
  }

  destroy() {
    this.plot?.destroy();
    this.plot = null;
  }
}

/**
 * yAxisWidth sizes the value axis to its longest label (uPlot passes the
 * formatted labels), so that "1,017.5 hPa" ticks are not cut off.
 */
export function yAxisWidth(_u, values) {
  if (!values || values.length === 0) return 56;
  const longest = Math.max(...values.map((v) => String(v ?? '').length));
  return Math.max(40, longest * 7 + 18);
}
