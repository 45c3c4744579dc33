import { api, $, $$, esc, signed, cls, say, sayError, timeText } from "./common.js";
import { onAccount } from "./wallet.js";

const form = $("#hist-form"), input = $("#hist-address");
let shown = input.value.trim();
let rows = [];

function render() {
  const on = new Set($$("#hist-filter input:checked").map((x) => x.value));
  const list = rows.filter((r) => on.has(r.kind));
  $("#history tbody").innerHTML = list.length ? list.map((r) => `<tr class="k-${r.kind}"><td data-label="Time">${esc(timeText(r.ts))}</td><td data-label="What">${esc(r.kind)}</td><td data-label="Details">${esc(r.text)}</td><td data-label="Cash" class="n ${cls(r.amount)}">${r.amount === null ? "—" : signed(r.amount, 2)}</td><td data-label="Transaction"><code>${esc(r.tx_hash.slice(0, 10))}…</code></td></tr>`).join("")
    : '<tr><td colspan="5" class="muted">nothing yet</td></tr>';
}

async function load(addr) {
  const err = $("#hist-error");
  if (!addr) { $("#history").hidden = true; say(err, "Connect a wallet or enter an address to see its history.", "info"); return; }
  try {
    const h = await api(`/api/account/${addr}/history`);
    rows = h.rows;
  } catch (e) { $("#history").hidden = true; sayError(err, e); return; }
  err.hidden = true;
  $("#history").hidden = false;
  const csv = $("#hist-csv");
  csv.href = `/api/account/${addr}/history.csv`;
  csv.hidden = false;
  const acct = $("#hist-acct");
  acct.href = `/api/account/${addr}/accounting.csv`;
  acct.hidden = false;
  $("#hist-filter").hidden = false;
  render();
}

for (const c of $$("#hist-filter input")) c.addEventListener("change", render);
form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  shown = input.value.trim();
  history.replaceState(null, "", shown ? `/history/${shown}` : "/history");
  load(shown);
});
onAccount((a) => { if (!shown && a) { shown = a; input.value = a; } load(shown); });
setInterval(() => { if (shown) load(shown).catch(() => {}); }, 10000);
