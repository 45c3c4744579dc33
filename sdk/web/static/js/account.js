import { api, $, esc, fmt, usd, signed, cls, say, sayError } from "./common.js";
import { account, onAccount, sendTxs } from "./wallet.js";

const form = $("#acct-form"), input = $("#acct-address");
let shown = input.value.trim();

function pct(x) { return x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`; }
function bar(el, x) { const v = x === null || x === undefined ? 0 : Math.min(1, Math.max(0, x)); el.style.width = `${(v * 100).toFixed(1)}%`; el.className = v > 0.8 ? "hot" : v > 0.5 ? "warm" : ""; }

function ordersRows(os, mine) {
  return os.length ? os.map((o, i) => `<tr><td><a href="/markets/${o.market_id}">${esc(o.symbol)}</a></td><td class="${o.side === "buy" ? "pos" : "neg"}">${o.side}</td><td class="n">${fmt(o.price)}</td><td class="n">${fmt(o.remaining, 3)} ${esc(o.unit)}</td><td>${esc(o.expiry_text)}</td><td>${mine ? `<button class="ghost small" data-cancel="${i}">Cancel</button>` : ""}</td></tr>`).join("")
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
  $("#a-im").textContent = usd(a.initial_margin);
  $("#a-mm").textContent = usd(a.maintenance_margin);
  $("#a-wallet").textContent = usd(a.wallet_balance);
  $("#a-health").textContent = a.health_ratio ? fmt(a.health_ratio, 2) : "—";
  bar($("#bar-im"), a.im_usage); $("#bar-im-text").textContent = `initial margin ${pct(a.im_usage)} of equity`;
  bar($("#bar-mm"), a.mm_usage); $("#bar-mm-text").textContent = `maintenance margin ${pct(a.mm_usage)} of equity (liquidation at 100%)`;
  $("#positions tbody").innerHTML = a.positions.length ? a.positions.map((p) => `<tr><td><a href="/markets/${p.market_id}">${esc(p.symbol)}</a></td><td class="${p.side === "long" ? "pos" : "neg"}">${p.side}</td><td class="n">${fmt(p.quantity, 3)} ${esc(p.unit)}</td><td class="n">${fmt(p.entry)}</td><td class="n">${fmt(p.mark)}</td><td class="n ${cls(p.unrealised_pnl)}">${signed(p.unrealised_pnl, 2)}</td><td class="n">${fmt(p.initial_margin, 2)}</td><td class="n">${p.liquidation_price ? fmt(p.liquidation_price) : "none"}</td></tr>`).join("")
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
  $("#fills tbody").innerHTML = a.fills.length ? a.fills.map((f) => `<tr><td>${f.block}</td><td>${esc(f.symbol)}</td><td class="${f.side === "buy" ? "pos" : "neg"}">${f.side}</td><td class="n">${fmt(f.price)}</td><td class="n">${fmt(f.quantity, 3)}</td><td class="n">${fmt(f.fee, 4)}</td><td>${f.role}</td></tr>`).join("")
    : '<tr><td colspan="7" class="muted">no fills</td></tr>';
  $("#settlements tbody").innerHTML = a.settlements.length ? a.settlements.map((s) => `<tr><td>${s.block}</td><td>${esc(s.symbol)}</td><td class="n">${fmt(s.quantity, 3)}</td><td class="n">${fmt(s.settlement_price)}</td><td class="n ${cls(s.pnl)}">${signed(s.pnl, 2)}</td></tr>`).join("")
    : '<tr><td colspan="5" class="muted">no settlements</td></tr>';
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
