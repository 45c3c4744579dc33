import { api, $, esc, fmt, px, usd, signed, cls, say, sayError, timeText } from "./common.js";
import { account, onAccount, sendTxs } from "./wallet.js";

const form = $("#acct-form"), input = $("#acct-address");
let shown = input.value.trim();

function pct(x) { return x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`; }
function bar(el, x) { const v = x === null || x === undefined ? 0 : Math.min(1, Math.max(0, x)); el.style.width = `${(v * 100).toFixed(1)}%`; el.className = v > 0.8 ? "hot" : v > 0.5 ? "warm" : ""; }

function ordersRows(os, mine) {
  return os.length ? os.map((o, i) => `<tr><td data-label="Market"><a href="/markets/${o.market_id}">${esc(o.symbol)}</a></td><td data-label="Side" class="${o.side === "buy" ? "pos" : "neg"}">${o.side}</td><td data-label="Price" class="n">${esc(o.price)} USD/${esc(o.unit)}</td><td data-label="Remaining" class="n">${fmt(o.remaining, 3)} of ${fmt(o.quantity, 3)} ${esc(o.unit)}</td><td data-label="Expires">${esc(timeText(o.expiry))}</td><td>${mine ? `<button class="ghost small" data-cancel="${i}">Cancel</button>` : ""}</td></tr>`).join("")
    : '<tr><td colspan="6" class="muted">no open orders</td></tr>';
}

async function load(addr) {
  const err = $("#acct-error");
  if (!addr) { $("#acct").hidden = true; say(err, "Connect a wallet or enter an address to see an account.", "info"); err.className = "msg info"; return; }
  let a;
  try { a = await api(`/api/account/${addr}`); } catch (e) { $("#acct").hidden = true; sayError(err, e); return; }
  err.hidden = true;
  $("#acct").hidden = false;
  $("#a-collateral").textContent = usd(a.collateral);
  $("#a-equity").textContent = usd(a.equity);
  $("#a-free").textContent = usd(a.free_collateral);
  const up = $("#a-upnl"); up.textContent = usd(a.unrealised_pnl); up.className = cls(a.unrealised_pnl);
  const rp = $("#a-rpnl"); rp.textContent = usd(a.realised_pnl); rp.className = cls(a.realised_pnl);
  $("#a-fees").textContent = usd(a.fees_paid);
  const lw = $("#liq-warning");
  lw.hidden = !a.liquidation_warning;
  if (a.liquidation_warning) {
    lw.textContent = a.liquidatable
      ? `Liquidatable: equity ${usd(a.equity)} is below the maintenance margin ${usd(a.maintenance_margin)}. Deposit or reduce positions now.`
      : `Liquidation warning: equity ${usd(a.equity)} is within 20% of the maintenance margin ${usd(a.maintenance_margin)}. Deposit or reduce positions.`;
  }
  $("#history-link").href = `/history/${a.address}`;
  $("#statement-account").value = a.address;  // the statement form follows the account shown
  $("#a-im").textContent = usd(a.initial_margin);
  $("#a-mm").textContent = usd(a.maintenance_margin);
  $("#a-wallet").textContent = usd(a.wallet_balance);
  $("#a-health").textContent = a.health_ratio ? fmt(a.health_ratio, 2) : "—";
  bar($("#bar-im"), a.im_usage); $("#bar-im-text").textContent = `initial margin ${pct(a.im_usage)} of equity`;
  bar($("#bar-mm"), a.mm_usage); $("#bar-mm-text").textContent = `maintenance margin ${pct(a.mm_usage)} of equity (liquidation at 100%)`;
  // data-label: on a phone each row becomes a card, so PnL and the liquidation price stay on screen
  $("#positions tbody").innerHTML = a.positions.length ? a.positions.map((p) => `<tr><td data-label="Market"><a href="/markets/${p.market_id}">${esc(p.symbol)}</a></td><td data-label="Side" class="${p.side === "long" ? "pos" : "neg"}">${p.side}</td><td data-label="Size" class="n">${fmt(Math.abs(Number(p.quantity)), 3)} ${esc(p.unit)}</td><td data-label="Entry" class="n">${px(p.entry, p.places)}</td><td data-label="Mark" class="n">${px(p.mark, p.places)}</td><td data-label="Unrealised PnL" class="n pnl ${cls(p.unrealised_pnl)}">${signed(p.unrealised_pnl, 2)} USD</td><td data-label="Initial margin" class="n">${usd(p.initial_margin)}</td><td data-label="Liq. price" class="n liq">${p.liquidation_price ? px(p.liquidation_price, p.places) + " USD/" + esc(p.unit) : "none"}</td></tr>`).join("")
    : '<tr><td colspan="8" class="muted">no positions</td></tr>';
  const mine = account() && account().toLowerCase() === a.address.toLowerCase();
  $("#orders tbody").innerHTML = ordersRows(a.open_orders, mine);
  for (const b of document.querySelectorAll("#orders [data-cancel]")) {
    b.addEventListener("click", async () => {
      const o = a.open_orders[Number(b.dataset.cancel)];
      const msg = $("#acct-msg");
      try {
        const r = await api("/api/tx/cancel", { account: account(), order: o.order });
        await sendTxs(r.txs, (t) => say(msg, t));
        say(msg, "Order cancelled on-chain.", "ok");
        setTimeout(() => load(shown), 1500);
      } catch (e) { sayError(msg, e); }
    });
  }
  $("#fills tbody").innerHTML = a.fills.length ? a.fills.map((f) => `<tr><td data-label="Time">${esc(timeText(f.ts))}</td><td data-label="Market">${esc(f.symbol)}</td><td data-label="Side" class="${f.side === "buy" ? "pos" : "neg"}">${f.side}</td><td data-label="Price" class="n">${esc(f.price)}</td><td data-label="Size" class="n">${fmt(f.quantity, 3)} ${esc(f.unit)}</td><td data-label="Fee" class="n">${usd(f.fee)}</td><td data-label="Role">${f.role}</td></tr>`).join("")
    : '<tr><td colspan="7" class="muted">no fills</td></tr>';
  $("#settlements tbody").innerHTML = a.settlements.length ? a.settlements.map((s) => `<tr><td data-label="Time">${esc(timeText(s.ts))}</td><td data-label="Market">${esc(s.symbol)}</td><td data-label="Size" class="n">${fmt(s.quantity, 3)} ${esc(s.unit)}</td><td data-label="Settlement price" class="n">${esc(s.settlement_price)}</td><td data-label="PnL" class="n ${cls(s.pnl)}">${signed(s.pnl, 2)} USD</td></tr>`).join("")
    : '<tr><td colspan="5" class="muted">no settlements</td></tr>';
  coverage(a);
}

// planned (this browser's hedge planner) vs filled (position) vs resting (open orders) per month
function coverage(a) {
  const plans = JSON.parse(localStorage.getItem(`cspread-plans:${a.address.toLowerCase()}`) || "[]");
  const rows = new Map();
  const row = (mid, symbol, unit, period) => {
    if (!rows.has(mid)) rows.set(mid, { mid, symbol, unit, period: period || "", planned: 0, filled: 0, resting: 0, expiry: null });
    return rows.get(mid);
  };
  for (const p of plans) {
    const r = row(p.market_id, p.symbol, p.unit, null);
    r.planned += Number(p.quantity) * (p.side === "buy" ? 1 : -1);
  }
  for (const p of a.positions) {
    const r = row(p.market_id, p.symbol, p.unit, p.period);
    r.period = p.period;
    r.filled = Number(p.quantity);
  }
  for (const o of a.open_orders) {
    const r = row(o.market_id, o.symbol, o.unit, o.period);
    r.period = r.period || o.period;
    r.resting += Number(o.remaining) * (o.side === "buy" ? 1 : -1);
    r.expiry = r.expiry === null ? o.expiry : Math.min(r.expiry, o.expiry);
  }
  const list = [...rows.values()].filter((r) => r.planned || r.filled || r.resting);
  for (const r of list) if (!r.period) { const m = /\.(\d{4}-\d{2}(-\d{2})?)/.exec(r.symbol); r.period = m ? m[1] : "—"; }
  list.sort((x, y) => (x.period < y.period ? -1 : x.period > y.period ? 1 : 0));
  const q = (v, unit) => `${fmt(Math.abs(v), 3)} ${esc(unit)}${v < 0 ? " short" : v > 0 ? " long" : ""}`;
  $("#coverage tbody").innerHTML = list.length ? list.map((r) => {
    const open = r.planned ? Math.max(0, Math.abs(r.planned) - Math.abs(r.filled) - Math.abs(r.resting)) : 0;
    return `<tr><td data-label="Month">${esc(r.period)}</td><td data-label="Market">${esc(r.symbol)}</td><td data-label="Planned" class="n">${r.planned ? q(r.planned, r.unit) : "—"}</td><td data-label="Filled" class="n">${q(r.filled, r.unit)}</td><td data-label="Resting" class="n">${r.resting ? q(r.resting, r.unit) : "—"}</td><td data-label="Resting expires">${r.expiry ? esc(timeText(r.expiry)) : "—"}</td><td data-label="Not covered" class="n ${open > 0 ? "neg" : ""}">${r.planned ? fmt(open, 3) + " " + esc(r.unit) : "—"}</td></tr>`;
  }).join("") : '<tr><td colspan="7" class="muted">no hedges planned, filled or resting</td></tr>';
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  shown = input.value.trim();
  history.replaceState(null, "", shown ? `/account/${shown}` : "/account");
  load(shown);
});

onAccount((a) => {
  if (!shown && a) { shown = a; input.value = a; }
  load(shown);
});
setInterval(() => { if (shown) load(shown).catch(() => {}); }, 5000);
