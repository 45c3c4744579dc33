// Market page: book and trades live from the relay stream (proxied at /ws), with reconnect.
import { api, $, esc, fmt, px, signed, cls, timeText } from "./common.js";
import { lineChart } from "./chart.js";

const m = JSON.parse($("#market-data").textContent);
const SCALE_P = 1e6, SCALE_Q = 1e3;

function levels(rows) {
  return (rows || []).map((r) => Array.isArray(r) ? { price: Number(r[0]) / SCALE_P, quantity: Number(r[1]) / SCALE_Q, orders: "" }
    : { price: Number(r.price) / SCALE_P, quantity: Number(r.quantity) / SCALE_Q, orders: r.orders });
}

function renderBook(bids, asks) {
  $("#bids").innerHTML = bids.length ? bids.map((l) => `<tr><td class="n">${fmt(l.quantity, 3)}</td><td class="n pos">${px(l.price, m.places)}</td></tr>`).join("")
    : '<tr><td colspan="2" class="muted">no bids</td></tr>';
  $("#asks").innerHTML = asks.length ? asks.map((l) => `<tr><td class="n neg">${px(l.price, m.places)}</td><td class="n">${fmt(l.quantity, 3)}</td></tr>`).join("")
    : '<tr><td colspan="2" class="muted">no asks</td></tr>';
}

const trades = [];
function renderTrades() {
  $("#trades").innerHTML = trades.length ? trades.slice(0, 50).map((t) => `<tr><td>${esc(t.timestamp ? timeText(t.timestamp) : (t.time_text || "pending"))}</td><td class="${t.side === "buy" ? "pos" : "neg"}">${t.side}</td><td class="n">${px(t.price, m.places)}</td><td class="n">${fmt(t.quantity, 3)}</td></tr>`).join("")
    : '<tr><td colspan="4" class="muted">no trades yet</td></tr>';
}

function tradeFromWs(t) {
  return { price: Number(t.price) / SCALE_P, quantity: Number(t.quantity) / SCALE_Q, side: t.maker_is_buy ? "sell" : "buy",
    time_text: t.timestamp ? new Date(t.timestamp * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "", block: t.block_number, tx_hash: t.tx_hash };
}

function chart(d) {
  const series = [{ label: "mark", x: d.mark_history.map((p) => p[0]), y: d.mark_history.map((p) => p[1]) }];
  if (d.index_history && d.index_history.length) series.push({ label: "index", x: d.index_history.map((p) => p[0]), y: d.index_history.map((p) => p[1]), dash: [6, 4] });
  lineChart($("#price-chart"), series, { time: true, yLabel: `USD/${m.unit}` });
}

let ws = null, backoff = 500, lastMsg = 0;
function connect() {
  const state = $("#ws-state");
  const proto = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${proto}://${location.host}/ws?market_id=${m.id}`);
  ws.onopen = () => { backoff = 500; state.textContent = "live"; state.className = "badge live"; };
  ws.onmessage = (ev) => {
    lastMsg = Date.now();
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (msg.type === "book" && msg.market_id === m.id) {
      renderBook(levels(msg.book.bid_levels || msg.book.bids), levels(msg.book.ask_levels || msg.book.asks));
    } else if (msg.type === "trade" && msg.market_id === m.id) {
      const t = tradeFromWs(msg.trade);
      if (!trades.some((x) => x.tx_hash === t.tx_hash && x.price === t.price && x.quantity === t.quantity)) { trades.unshift(t); renderTrades(); }
    }
  };
  ws.onclose = () => {
    state.textContent = "reconnecting…"; state.className = "badge warn";
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10000);
  };
  ws.onerror = () => { try { ws.close(); } catch (e) { /* closing anyway */ } };
}

async function loadTrades() {
  const ts = await api(`/api/markets/${m.id}/trades`);
  trades.length = 0;
  for (const t of ts) trades.push({ ...t, price: Number(t.price), quantity: Number(t.quantity) });
  renderTrades();
}

async function refresh() {
  const d = await api(`/api/markets/${m.id}`);
  $("#m-mark").textContent = d.mark ? px(d.mark, d.places) : "—";
  $("#m-index").textContent = d.index ? px(d.index, d.places) : "—";
  const ch = $("#m-change"); ch.textContent = d.change_24h ? signed(d.change_24h) : "—"; ch.className = cls(d.change_24h);
  const st = $("#m-status"); st.textContent = d.status_text; st.className = `status s-${d.status}`;
  chart(d);
}

renderBook([], []);
chart(m);
loadTrades().catch(() => renderTrades());
connect();
setInterval(() => { refresh().catch(() => {}); }, 15000);
// a silent stream (no message for 60 s) is reconnected
setInterval(() => { if (ws && ws.readyState === 1 && lastMsg && Date.now() - lastMsg > 60000) ws.close(); }, 10000);
