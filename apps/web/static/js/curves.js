// Forward curves: one line per series, a point per listed delivery window, axes sized to what is listed.
import { api, $ } from "./common.js";
import { lineChart } from "./chart.js";

const DAY = 86400;

export async function drawCurves(query = location.search) {
  const c = await api(`/api/curves${query}`);
  for (const g of ["power", "compute", "spread"]) {
    const el = $(`#curve-${g}`);
    if (!el) continue;
    const grp = c[g];
    const series = grp.series.map((s) => ({ label: s.label, x: s.points.map((p) => p.t), y: s.points.map((p) => p.mark_f) }));
    const ax = grp.axes;
    // a day of margin either side so the first and last windows' points are not cut at the frame
    lineChart(el, series, {
      time: true, yLabel: `USD/${grp.unit}`, xLabel: "delivery start", points: true,
      xRange: ax ? [ax.x_min - DAY, ax.x_max] : undefined, yRange: ax ? [ax.y_min_f, ax.y_max_f] : undefined,
    });
  }
}

drawCurves().catch((e) => { const el = $("#curve-power"); if (el) el.textContent = e.message; });
