import { api, $, esc, fmt, usd, say, sayError, timeText } from "./common.js";
import { account, onAccount, requireAccount, sendTxs, signTypedData } from "./wallet.js";

const sel = $("#o-market");
let openOrders = [];

function syncMarket() {
  const o = sel.selectedOptions[0];
  if (!o) return;
  $("#o-unit").textContent = `(${o.dataset.unit})`;
  if (!$("#o-price").value && o.dataset.mark) $("#o-price").value = o.dataset.mark;
}
sel.addEventListener("change", () => { $("#o-price").value = ""; syncMarket(); preview(); });
syncMarket();

// pre-trade liquidation price: the server applies the margin rule (core.margin) to this order once
// filled, for the connected account as it is and per leverage (collateral = notional / leverage)
let previewRows = [];
let previewTimer = null;
let previewSeq = 0; // only the latest request renders (answers can arrive out of order)
function showPreview() {
  const box = $("#o-preview");
  const row = previewRows[Number($("#o-lev").value) || 0];
  if (!row) return;
  const liq = row.liquidation[0];
  box.innerHTML = `<b id="o-liq">${liq.price === null ? "no price liquidates it" : `${esc(liq.price)} USD/${esc(liq.unit)}`}</b>`
    + ` <span class="muted small">liquidation price with ${esc(row.label)}: ${usd(row.collateral)} collateral</span>`;
}
async function preview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const box = $("#o-preview");
    const qty = $("#o-qty").value.trim(), price = $("#o-price").value.trim();
    if (!qty || !price) return;
    const mine = ++previewSeq;
    try {
      const p = await api("/api/orders/preview", { account: account() || null, market_id: Number(sel.value),
        side: $("#o-side").value, quantity: qty, price });
      if (mine !== previewSeq) return;
      const keep = $("#o-lev").selectedOptions[0] ? $("#o-lev").selectedOptions[0].textContent : "";
      previewRows = p.leverage;
      $("#o-lev").innerHTML = previewRows.map((r, i) => `<option value="${i}">${esc(r.label)}</option>`).join("");
      const again = previewRows.findIndex((r) => r.label === keep);
      if (again >= 0) $("#o-lev").value = String(again);
      showPreview();
      box.insertAdjacentHTML("beforeend", `<div class="muted small">margin ${usd(p.margin_needed)} · fee ≤ ${usd(p.fee)} · notional ${usd(p.notional)}</div>`);
    } catch (e) {
      if (mine !== previewSeq) return;
      previewRows = [];
      box.innerHTML = `<span class="muted small">${esc(e.message)}</span>`;
    }
  }, 250);
}
for (const id of ["#o-qty", "#o-price", "#o-side"]) $(id).addEventListener("input", preview);
$("#o-lev").addEventListener("change", showPreview);
onAccount(() => preview());
preview();

async function refresh() {
  const a = account();
  if (!a) {
    $("#orders tbody").innerHTML = '<tr><td colspan="6" class="muted">connect a wallet to see your orders</td></tr>';
    return;
  }
  const s = await api(`/api/account/${a}`);
  $("#t-wallet").textContent = usd(s.wallet_balance);
  $("#t-collateral").textContent = usd(s.collateral);
  $("#t-free").textContent = usd(s.free_collateral);
  openOrders = s.open_orders;
  $("#orders tbody").innerHTML = openOrders.length ? openOrders.map((o, i) => `<tr><td><a href="/markets/${o.market_id}">${esc(o.symbol)}</a></td><td class="${o.side === "buy" ? "pos" : "neg"}">${o.side}</td><td class="n">${esc(o.price)} USD/${esc(o.unit)}</td><td class="n">${fmt(o.remaining, 3)} ${esc(o.unit)}</td><td>${esc(timeText(o.expiry))}</td><td><button type="button" class="ghost small" data-cancel="${i}">Cancel</button></td></tr>`).join("")
    : '<tr><td colspan="6" class="muted">no open orders</td></tr>';
}

async function collateral(kind) {
  const msg = $("#collateral-msg");
  const amount = $("#amount").value.trim();
  try {
    const a = await requireAccount();
    const r = await api(`/api/tx/${kind}`, { account: a, amount });
    await sendTxs(r.txs, (t) => say(msg, t));
    say(msg, `${kind === "faucet" ? "Minted" : kind === "deposit" ? "Deposited" : "Withdrew"} ${amount} USD.`, "ok");
  } catch (e) { sayError(msg, e); }
  refresh().catch(() => {});
}

$("#collateral-form").addEventListener("submit", (ev) => { ev.preventDefault(); collateral("deposit"); });
const fb = $("#faucet-btn");
if (fb) fb.addEventListener("click", () => collateral("faucet"));
$("#deposit-btn").addEventListener("click", () => collateral("deposit"));
$("#withdraw-btn").addEventListener("click", () => collateral("withdraw"));

$("#order-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const msg = $("#order-msg");
  try {
    const a = await requireAccount();
    const body = { account: a, market_id: Number(sel.value), side: $("#o-side").value, quantity: $("#o-qty").value.trim(),
      price: $("#o-price").value.trim(), reduce_only: $("#o-reduce").checked };
    say(msg, "Checking the order…");
    const leg = await api("/api/orders/build", body);
    say(msg, `Sign: ${leg.side} ${leg.quantity} ${leg.unit} of ${leg.symbol} @ ${leg.price} USD/${leg.unit} in the wallet…`);
    const signature = await signTypedData(leg.typed_data);
    await api("/api/orders", { order: leg.order, signature });
    say(msg, `Placed: ${leg.side} ${leg.quantity} ${leg.unit} of ${leg.symbol} @ ${leg.price} USD/${leg.unit}.`, "ok");
  } catch (e) { sayError(msg, e); }
  refresh().catch(() => {});
});

$("#orders").addEventListener("click", async (ev) => {
  const b = ev.target.closest("[data-cancel]");
  if (!b) return;
  const msg = $("#orders-msg");
  try {
    const r = await api("/api/tx/cancel", { account: account(), order: openOrders[Number(b.dataset.cancel)].order });
    await sendTxs(r.txs, (t) => say(msg, t));
    say(msg, "Cancelled on-chain; the relay drops it within a second.", "ok");
  } catch (e) { sayError(msg, e); }
  setTimeout(() => refresh().catch(() => {}), 1200);
});

$("#cancel-all-btn").addEventListener("click", async () => {
  const msg = $("#orders-msg");
  try {
    const r = await api("/api/tx/cancel_all", { account: await requireAccount() });
    await sendTxs(r.txs, (t) => say(msg, t));
    say(msg, "Every order issued so far is cancelled on-chain.", "ok");
  } catch (e) { sayError(msg, e); }
  setTimeout(() => refresh().catch(() => {}), 1200);
});

onAccount(() => refresh().catch(() => {}));
setInterval(() => { refresh().catch(() => {}); }, 5000);
