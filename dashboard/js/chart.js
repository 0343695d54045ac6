// A small line chart of one metric's recent values, drawn on a canvas.
// Time runs left to right over the span of the points held; a missing
// value breaks the line.

const colours = { temperature: '#d9480f', humidity: '#1971c2', pressure: '#6741d9' };
const units = { temperature: '°C', humidity: '%', pressure: 'hPa' };

/** drawChart draws history's metric on canvas, sized to its CSS box. */
export function drawChart(canvas, history, metric) {
  const dpr = globalThis.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (w === 0 || h === 0) return; // not laid out (hidden): nothing to draw
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);

  const pts = history.filter((p) => p[metric] !== null);
  canvas.dataset.points = String(pts.length);
  if (pts.length === 0) {
    ctx.fillStyle = '#868e96';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.fillText(`no ${metric} yet`, 4, h / 2);
    return;
  }

  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) {
    lo = Math.min(lo, p[metric]);
    hi = Math.max(hi, p[metric]);
  }
  const flat = hi - lo < 1e-9;
  if (flat) {
    lo -= 1;
    hi += 1;
  }
  const t0 = history[0].t;
  const t1 = history[history.length - 1].t;
  const pad = 4;
  const labelW = 44; // room on the right for the min/max labels
  const plotW = Math.max(10, w - pad * 2 - labelW);
  const x = (t) => pad + (t1 > t0 ? ((t - t0) / (t1 - t0)) * plotW : plotW);
  const y = (v) => pad + (1 - (v - lo) / (hi - lo)) * (h - pad * 2);

  ctx.strokeStyle = colours[metric];
  ctx.fillStyle = colours[metric];
  ctx.lineWidth = 1.5;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  let pen = false;
  for (const p of history) {
    const v = p[metric];
    if (v === null) {
      pen = false;
      continue;
    }
    if (pen) ctx.lineTo(x(p.t), y(v));
    else ctx.moveTo(x(p.t), y(v));
    pen = true;
  }
  ctx.stroke();
  const last = pts[pts.length - 1];
  ctx.beginPath();
  ctx.arc(x(last.t), y(last[metric]), 2.5, 0, Math.PI * 2);
  ctx.fill();

  ctx.fillStyle = '#868e96';
  ctx.font = '10px system-ui, sans-serif';
  ctx.textAlign = 'right';
  if (flat) {
    ctx.textBaseline = 'middle';
    ctx.fillText(label(last[metric], metric), w - 2, h / 2);
    return;
  }
  ctx.textBaseline = 'top';
  ctx.fillText(label(hi, metric), w - 2, 1);
  ctx.textBaseline = 'bottom';
  ctx.fillText(label(lo, metric), w - 2, h - 1);
}

function label(v, metric) {
  return `${v.toFixed(1)} ${units[metric]}`;
}
