import { api, $, esc, fmt, px, usd, say, sayError, sleep } from "./common.js";
import { account, onAccount, signTypedData } from "./wallet.js";
import { lineChart } from "./chart.js";

const form = $("#hedge-form");
let plan = null;

function params() {
  const f = new FormData(form);
  const o = Object.fromEntries(f.entries());
  o.account = account() || null;
  return o;
}

function render(p) {
  plan = p;
  $("#plan").hidden = false;
  $("#plan-desc").textContent = `${p.description}. Delivery ${p.window_text} (${fmt(p.window_hours, 0)} h).`;
  $("#p-hours").textContent = fmt(p.gpu_hours, 3);
  $("#p-mwh").textContent = `${fmt(p.mwh_total, 3)} (${p.mwh_per_gpu_hour} MWh/GPU-h)`;
  $("#p-margin").textContent = usd(p.margin_needed);
  $("#p-fees").textContent = usd(p.fees);
  $("#p-free").textContent = p.free_collateral === null ? "connect a wallet" : usd(p.free_collateral);
  $("#p-short").textContent = p.shortfall === null ? "—" : usd(p.shortfall);
  $("#legs tbody").innerHTML = p.legs.map((l, i) => `<tr data-leg="${i}"><td data-label="Market"><a href="/markets/${l.market_id}">${esc(l.symbol)}</a></td><td data-label="Side" class="${l.side === "buy" ? "pos" : "neg"}">${l.side}</td><td data-label="Size" class="n">${fmt(l.quantity, 3)} ${esc(l.unit)}</td><td data-label="Limit price" class="n">${esc(l.price)} USD/${esc(l.unit)}</td><td data-label="Notional" class="n">${usd(l.notional)}</td><td data-label="Why" class="small">${esc(l.purpose)}</td><td data-label="Status" class="leg-status">${l.typed_data ? "ready to sign" : "connect a wallet"}</td></tr>`).join("");
  $("#plan-notes").innerHTML = p.notes.map((n) => `<li>${esc(n)}</li>`).join("") +
    (p.shortfall !== null && Number(p.shortfall) > 0 ? `<li class="neg">Deposit at least ${usd(p.shortfall)} before placing (Trade page), or the relay will reject the orders for insufficient margin.</li>` : "");
  // before anyone signs: how much the book fills now, and what would rest where, until when
  const depth = $("#plan-depth");
  depth.innerHTML = (p.depth || []).map((x) => `<li class="${x.thin ? "warn" : "ok"}">${x.thin ? "<b>Thin book:</b> " : ""}${esc(x.text)}</li>`).join("");
  depth.hidden = !(p.depth || []).length;
  $("#leverage tbody").innerHTML = (p.leverage || []).map((r) => `<tr><td data-label="Backed by">${esc(r.label)}</td><td data-label="Collateral" class="n">${usd(r.collateral)}</td><td data-label="Liquidation price">${r.liquidation.map((x) => `${esc(x.symbol)}: ${x.price === null ? "none" : esc(x.price) + " USD/" + esc(x.unit)}`).join("<br>")}</td></tr>`).join("")
    || '<tr><td colspan="3" class="muted">—</td></tr>';
  $("#place-btn").disabled = !p.legs.length;
  $("#place-btn").textContent = (p.depth || []).some((x) => x.thin) ? "Place orders anyway (the rest rests; sign in wallet)" : "Place orders (sign in wallet)";
  $("#exec-report").hidden = true;
  const pts = p.curve.points;
  const xs = pts.map((_, i) => i);
  lineChart($("#spread-curve"), [
    { label: "spread market mark", x: xs, y: pts.map((x) => (x.spread_mark === null ? null : Number(x.spread_mark))) },
    { label: `GPU − ${p.mwh_per_gpu_hour} MWh × power`, x: xs, y: pts.map((x) => (x.your_spread === null ? null : Number(x.your_spread))), dash: [6, 4] },
  ], { xLabel: "delivery month", yLabel: "USD/GPU-h", points: true, xRange: [-0.5, pts.length - 0.5],
    xValues: (u, splits) => splits.map((v) => (Number.isInteger(v) && pts[v] ? pts[v].period : "")) });
  const s = p.scenarios;
  if (s.available) {
    lineChart($("#pnl-power"), [{ label: "unhedged", x: s.power.x, y: s.power.unhedged }, { label: "hedged", x: s.power.x, y: s.power.hedged }],
      { xLabel: `power USD/MWh (GPU at ${fmt(s.gpu_now, 3)})`, yLabel: "USD" });
    lineChart($("#pnl-gpu"), [{ label: "unhedged", x: s.gpu.x, y: s.gpu.unhedged }, { label: "hedged", x: s.gpu.x, y: s.gpu.hedged }],
      { xLabel: `GPU USD/GPU-hour (power at ${fmt(s.power_now, 2)})`, yLabel: "USD" });
  } else {
    $("#pnl-power").textContent = s.reason; $("#pnl-gpu").textContent = s.reason;
  }
}

let seq = 0;
async function doPlan() {
  const err = $("#hedge-error");
  const mine = ++seq;  // only the latest request renders (answers can arrive out of order)
  err.hidden = true;
  $("#place-msg").hidden = true;
  try {
    const p = await api("/api/hedge/plan", params());
    if (mine === seq) render(p);
  } catch (e) {
    if (mine === seq) { $("#plan").hidden = true; sayError(err, e); }
  }
}

form.addEventListener("submit", (ev) => { ev.preventDefault(); doPlan(); });

$("#place-btn").addEventListener("click", async () => {
  const msg = $("#place-msg");
  try {
    if (!account() || !plan || !plan.legs.length || !plan.legs[0].typed_data) {
      const { connect } = await import("./wallet.js");
      await connect();
      await doPlan();
    }
    const placed = [];
    for (const [i, leg] of plan.legs.entries()) {
      const cell = document.querySelector(`#legs tr[data-leg="${i}"] .leg-status`);
      say(msg, `Sign leg ${i + 1}/${plan.legs.length} (${leg.side} ${leg.quantity} ${leg.symbol}) in the wallet…`);
      const signature = await signTypedData(leg.typed_data);
      try {
        const r = await api("/api/orders", { order: leg.order, signature });
        placed.push(r.hash);
        cell.textContent = "placed"; cell.className = "leg-status pos";
      } catch (e) {
        cell.textContent = "rejected"; cell.className = "leg-status neg";
        throw e;
      }
    }
    say(msg, `Placed ${placed.length} order(s). Matching resting orders fill on-chain; watch the Account page.`, "ok");
    $("#place-btn").disabled = true;
    remember(plan);
    await report(plan.legs.map((l) => l.order));
  } catch (e) { sayError(msg, e); }
});

// the planned hedge, for the coverage panel on the Account page (this browser only)
function remember(p) {
  const key = `cspread-plans:${(account() || "").toLowerCase()}`;
  const all = JSON.parse(localStorage.getItem(key) || "[]");
  for (const l of p.legs) {
    all.push({ market_id: l.market_id, symbol: l.symbol, unit: l.unit, side: l.side, quantity: l.quantity,
      price: l.price, hash: l.hash, expiry: Number(l.order.expiry), placed_at: Math.floor(Date.now() / 1000) });
  }
  localStorage.setItem(key, JSON.stringify(all.slice(-200)));
}

// after placing: "filled X of Y, Z resting at P until T" per leg, from the chain, until it settles down
async function report(orders) {
  const box = $("#exec-report");
  box.hidden = false;
  let last = "";
  for (let i = 0; i < 10; i++) {
    await sleep(i === 0 ? 1500 : 2000);
    let st;
    try { st = await api("/api/orders/status", { orders }); } catch (e) { sayError(box, e); return; }
    const text = st.map((x) => x.text).join("\n");
    box.innerHTML = `<b>Result</b><ul>${st.map((x) => `<li class="${Number(x.resting) > 0 ? "warn" : "ok"}">${esc(x.text)}</li>`).join("")}</ul>` +
      (st.some((x) => Number(x.resting) > 0) ? '<p class="small">A resting remainder fills only if someone takes it; cancel it on the Account page.</p>' : "");
    box.dataset.done = "1";
    if (text === last && i >= 2) break;  // stable: the matcher has done what it can
    last = text;
  }
}

onAccount(() => { if (plan) doPlan(); });
doPlan();
