// A card's sparkline: the last hour of one metric, drawn by uPlot. The hour
// is the 1-minute averages of GET /api/devices/{id}/history, read when the
// card is first shown, followed by the readings that arrived live since.

const colours = { temperature: '#d9480f', humidity: '#1971c2', pressure: '#6741d9' };

/** SPARK_SPAN_MS is how much time a sparkline shows. */
export const SPARK_SPAN_MS = 3600e3;

/**
 * sparkSeries returns uPlot's [x (s), y] of metric over the SPAN_MS before
 * now: past ({t, v} buckets, in time order) up to the first live point,
 * then live (the model's history: {t, [metric]}), so the two never overlap.
 */
export function sparkSeries(past, live, metric, now) {
  const since = now - SPARK_SPAN_MS;
  const pts = live.filter((p) => p[metric] !== null && p.t >= since);
  const firstLive = pts.length > 0 ? pts[0].t : Infinity;
  const xs = [];
  const ys = [];
  for (const p of past) {
    if (p.t < since || p.t >= firstLive) continue;
    xs.push(p.t / 1000);
    ys.push(p.v);
  }
  for (const p of pts) {
    xs.push(p.t / 1000);
    ys.push(p[metric]);
  }
  return [xs, ys];
}

/** Sparkline draws a series into host, a block element with a CSS size. */
export class Sparkline {
  constructor(host) {
    this.host = host;
    this.plot = null;
    this.metric = '';
    this.message = document.createElement('p');
    this.message.className = 'spark-message';
    host.append(this.message);
  }

  /** draw shows data ([x, y]) of metric; it waits for a laid-out host. */
  draw(data, metric) {
    const uPlot = globalThis.uPlot;
    const n = data[0].length;
    this.host.dataset.points = String(n);
    const width = this.host.clientWidth;
    const height = this.host.clientHeight;
    if (n === 0 || !uPlot) {
      this.destroy();
      this.message.textContent = uPlot ? `no ${metric} yet` : 'no chart library';
      this.message.hidden = false;
      return;
    }
    this.message.hidden = true;
    if (width === 0 || height === 0) return; // not laid out (hidden): drawn when shown
    // Point markers only while there are too few points for a line: a
    // card drawn from its first reading gets its hour of history next.
    const sparse = n < 3;
    if (this.plot && (this.metric !== metric || this.sparse !== sparse)) this.destroy();
    if (!this.plot) {
      this.metric = metric;
      this.sparse = sparse;
      this.plot = new uPlot(
        {
          width,
          height,
          pxAlign: false,
          cursor: { show: false },
          select: { show: false },
          legend: { show: false },
          scales: { x: { time: false } },
          axes: [{ show: false }, { show: false }],
          series: [{}, { stroke: colours[metric] ?? '#1971c2', width: 1.5, points: { show: sparse } }],
        },
        data,
        this.host,
      );
      return;
    }
    if (this.plot.width !== width || this.plot.height !== height) this.plot.setSize({ width, height });
    this.plot.setData(data);
  }

  destroy() {
    this.plot?.destroy();
    this.plot = null;
  }
}
