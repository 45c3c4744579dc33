// Notifications on every page while a wallet is connected: fills, settlements and liquidation
// warnings (equity within 20% of the maintenance margin), from polling the account. What was
// already seen is kept per address in sessionStorage, so moving between pages does not repeat
// (or lose) a notification.
import { api, esc, usd, timeText } from "./common.js";
import { onAccount } from "./wallet.js";

const POLL_MS = 4000;
let addr = null;
let timer = null;

function box() {
  let el = document.getElementById("toasts");
  if (!el) {
    el = document.createElement("div");
    el.id = "toasts";
    el.className = "toasts";
    el.setAttribute("aria-live", "polite");
    document.body.appendChild(el);
  }
  return el;
}

export function toast(title, text, kind = "info", ms = 30000) {
  const t = document.createElement("div");
  t.className = `toast ${kind}`;
  t.setAttribute("role", kind === "error" ? "alert" : "status");
  t.innerHTML = `<b>${esc(title)}</b><div>${esc(text)}</div><button type="button" class="ghost small" aria-label="dismiss">×</button>`;
  t.querySelector("button").addEventListener("click", () => t.remove());
  box().prepend(t);
  if (ms) setTimeout(() => t.remove(), ms);
  return t;
}

function key(a) { return `cspread-seen:${a.toLowerCase()}`; }

async function poll() {
  if (!addr) return;
  let a;
  try { a = await api(`/api/account/${addr}`); } catch (e) { return; }  // the page shows errors itself
  const raw = sessionStorage.getItem(key(addr));
  const seen = raw ? JSON.parse(raw) : null;
  const fills = a.fills.map((f) => f.key), setts = a.settlements.map((s) => s.key);
  if (seen) {
    const newFills = a.fills.filter((f) => !seen.fills.includes(f.key)).reverse();
    for (const f of newFills) {
      toast(`Filled: ${f.side} ${f.quantity} ${f.unit}`, `${f.symbol} at ${f.price} USD/${f.unit}, fee ${usd(f.fee)} (${f.role}), ${timeText(f.ts)}`, "ok");
    }
    for (const s of a.settlements.filter((x) => !seen.setts.includes(x.key))) {
      toast(`Settled: ${s.symbol}`, `${s.quantity} ${s.unit} at ${s.settlement_price} USD/${s.unit}: PnL ${Number(s.pnl) > 0 ? "+" : ""}${usd(s.pnl)}, ${timeText(s.ts)}`,
        Number(s.pnl) >= 0 ? "ok" : "warn");
    }
    if (a.liquidation_warning && !seen.warned) {
      toast(a.liquidatable ? "Liquidatable" : "Liquidation warning",
        `equity ${usd(a.equity)} is ${a.liquidatable ? "below" : "within 20% of"} the maintenance margin ${usd(a.maintenance_margin)}: deposit or reduce positions`,
        "error", 0);
    }
  }
  sessionStorage.setItem(key(addr), JSON.stringify({ fills, setts, warned: !!a.liquidation_warning }));
}

onAccount((a) => {
  addr = a || null;
  if (timer) clearInterval(timer);
  timer = null;
  if (addr) { poll(); timer = setInterval(poll, POLL_MS); }
});
