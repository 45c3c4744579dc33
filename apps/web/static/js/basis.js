// Basis page: the operator's own prices (pasted or a CSV file read here) against a series' index.
import { api, $, esc, say, sayError } from "./common.js";
import { lineChart } from "./chart.js";

$("#b-file").addEventListener("change", async (ev) => {
  const f = ev.target.files[0];
  if (!f) return;
  if (f.size > 400000) { say($("#b-msg"), `${f.name} is ${Math.round(f.size / 1000)} kB: upload at most 400 kB (4,000 periods)`, "error"); return; }
  $("#b-text").value = await f.text();
});

function pct(x) { return x === null ? "—" : `${(Number(x) * 100).toFixed(1)}%`; }

function periodTs(p) { return Date.parse(p.length === 7 ? `${p}-01T00:00:00Z` : `${p}T00:00:00Z`) / 1000; }

$("#b-go").addEventListener("click", async () => {
  const msg = $("#b-msg");
  msg.hidden = true;
  $("#b-result").hidden = true;
  try {
    const r = await api("/api/basis", { series: $("#b-series").value, text: $("#b-text").value });
    const unit = `USD/${r.unit}`;
    $("#b-title").textContent = `your price − ${r.series} index, ${unit}`;
    $("#b-overlap").textContent = `${r.overlap} ${r.granularity}${r.overlap === 1 ? "" : "s"}`;
    $("#b-mean").textContent = r.mean_basis === null ? "—" : `${r.mean_basis} ${unit}`;
    $("#b-sd").textContent = r.basis_sd === null ? "—" : `${r.basis_sd} ${unit}`;
    $("#b-vr").textContent = pct(r.variance_reduction);
    $("#b-h").textContent = r.hedge_ratio ?? "—";
    $("#b-r2").textContent = r.r_squared ?? "—";
    const miss = $("#b-missing");
    miss.hidden = !r.missing_index.length;
    miss.textContent = `No index for ${r.missing_index.length} of your periods (outside the oracle's data): ${r.missing_index.slice(0, 6).join(", ")}${r.missing_index.length > 6 ? " …" : ""}`;
    $("#b-rows tbody").innerHTML = r.rows.length ? r.rows.map((x) => `<tr><td data-label="Period">${esc(x.period)}</td><td class="n" data-label="Yours">${esc(x.own)}</td><td class="n" data-label="Index">${esc(x.index)}</td><td class="n" data-label="Basis">${esc(x.basis)}</td></tr>`).join("")
      : '<tr><td colspan="4" class="muted">none of your periods overlaps the index data</td></tr>';
    $("#b-result").hidden = false;
    if (r.overlap < 3) say(msg, `${r.overlap} overlapping period(s): too few for hedge statistics (3 or more)`, "info");
    const xs = r.rows.map((x) => periodTs(x.period));
    lineChart($("#b-chart"), [
      { label: "yours", x: xs, y: r.rows.map((x) => Number(x.own)) },
      { label: "index", x: xs, y: r.rows.map((x) => Number(x.index)) },
      { label: "basis", x: xs, y: r.rows.map((x) => Number(x.basis)), dash: [4, 4] },
    ], { time: true, xLabel: "period", yLabel: unit, points: true });
  } catch (e) {
    sayError(msg, e);
  }
});
