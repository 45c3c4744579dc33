// Thin wrapper around the vendored uPlot (ESM build, /static/vendor/uplot).
import uPlot from "/static/vendor/uplot/uPlot.esm.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const charts = new Map();

function width(el) { return Math.max(240, Math.floor(el.clientWidth || el.parentElement.clientWidth || 320)); }

// series: [{label, x: [...], y: [...]}] (x shared or not: aligned here); opts: {time, xLabel, yLabel, points, dash}
export function lineChart(el, series, opts = {}) {
  if (!el) return null;
  const old = charts.get(el);
  if (old) { old.destroy(); charts.delete(el); }
  el.innerHTML = "";
  if (!series.length || series.every((s) => !s.x.length)) {
    el.innerHTML = '<p class="muted empty">No data yet.</p>';
    return null;
  }
  const xs = Array.from(new Set(series.flatMap((s) => s.x))).sort((a, b) => a - b);
  const data = [xs];
  for (const s of series) {
    const m = new Map(s.x.map((x, i) => [x, s.y[i]]));
    data.push(xs.map((x) => (m.has(x) ? m.get(x) : null)));
  }
  const few = xs.length < 3;
  const u = new uPlot({
    width: width(el), height: opts.height || 240,
    // xRange/yRange: fixed axes (the curves pass what is listed), else uPlot fits the data
    scales: {
      x: opts.xRange ? { time: !!opts.time, range: opts.xRange } : { time: !!opts.time },
      ...(opts.yRange ? { y: { range: opts.yRange } } : {}),
    },
    legend: { live: true },
    axes: [{ label: opts.xLabel || "", size: opts.time ? 40 : 36, ...(opts.xValues ? { values: opts.xValues } : {}) },
      { label: opts.yLabel || "", size: 60 }],
    series: [{ label: opts.xLabel || "x" }, ...series.map((s, i) => ({
      label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: 2, spanGaps: true,
      dash: s.dash, points: { show: opts.points ?? few, size: few ? 8 : 5 },
    }))],
  }, data, el);
  charts.set(el, u);
  return u;
}

let timer = null;
window.addEventListener("resize", () => {
  clearTimeout(timer);
  timer = setTimeout(() => { for (const [el, u] of charts) u.setSize({ width: width(el), height: u.height }); }, 150);
});
