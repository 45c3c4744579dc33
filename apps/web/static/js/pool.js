// The pool page is rendered by the server; with a connected wallet and no ?account= it reloads
// with the wallet's address so "My share" shows the connected member. Join, declare and leave:
// the server builds the unsigned transactions (sdk.pool's checks and unit conversions), the
// wallet signs and sends them one after the other, then the page reloads with the new share.
import { api, $, say, sayError } from "./common.js";
import { onAccount, requireAccount, sendTxs } from "./wallet.js";

const data = JSON.parse(document.getElementById("pool-data").textContent);
onAccount((a) => {
  if (a && !data.account && !new URLSearchParams(location.search).has("account")) {
    const u = new URL(location.href);
    u.searchParams.set("account", a);
    location.replace(u.toString());
  }
});

const msg = $("#pool-msg");
let busy = false;

async function run(action, body, done) {
  if (busy) return;
  busy = true;
  try {
    const account = await requireAccount();
    const r = await api(`/api/tx/pool/${data.address}/${action}`, { account, ...body });
    await sendTxs(r.txs, (t) => say(msg, t));
    say(msg, done(r), "ok");
    const u = new URL(location.href);
    u.searchParams.set("account", account);
    setTimeout(() => location.replace(u.toString()), 1200);
  } catch (e) {
    sayError(msg, e);
  } finally {
    busy = false;
  }
}

function form(id, fn) {
  const f = $(id);
  if (f) f.addEventListener("submit", (ev) => { ev.preventDefault(); fn(); });
}

form("#pool-join-form", () => {
  const amount = $("#pool-join-usd").value.trim();
  run("join", { amount }, () => `Joined with ${amount} USD.`);
});
form("#pool-declare-form", () => {
  const count = $("#pool-declare-count").value.trim();
  run("declare", {
    count,
    gpu_class: $("#pool-declare-class").value.trim(),
    node: $("#pool-declare-node").value.trim(),
    commit: $("#pool-declare-commit").value.trim(),
  }, () => `Declared ${count} GPUs.`);
});
form("#pool-leave-form", () => {
  const amount = $("#pool-leave-usd").value.trim();
  run("leave", { amount }, (r) => r.mode === "queued"
    ? `Exit of ${amount} USD queued: your shares are escrowed and paid when the pool frees collateral.`
    : `Left with ${amount} USD, paid to your wallet.`);
});
