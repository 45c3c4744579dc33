// Minimal EIP-1193 wallet connector: accounts, chain check, EIP-712 signing, transactions.
// The server never sees a key: it returns typed data / unsigned transactions, the wallet signs.
import { api, ApiError, info, $, shortAddr, sleep } from "./common.js";

const KEY = "cspread.account";
const listeners = new Set();
let current = null;
let known = false; // the wallet has answered eth_accounts (or there is none)

function provider() { return window.ethereum || null; }

export function account() { return current; }
// a listener registered after the wallet answered still hears the current account once
export function onAccount(fn) {
  listeners.add(fn);
  if (known) queueMicrotask(() => fn(current));
  return () => listeners.delete(fn);
}
function setAccount(a) {
  current = a || null;
  known = true;
  if (current) localStorage.setItem(KEY, current); else localStorage.removeItem(KEY);
  const b = $("#connect");
  if (b) { b.textContent = current ? shortAddr(current) : "Connect wallet"; b.title = current || ""; b.classList.toggle("on", !!current); }
  for (const fn of listeners) { try { fn(current); } catch (e) { console.warn(e); } }
}

function walletError(e, what) {
  const code = e && (e.code ?? (e.error && e.error.code));
  if (code === 4001) return new ApiError({ error: "Rejected", message: `you rejected ${what} in the wallet` }, 0);
  if (code === 4100) return new ApiError({ error: "Unauthorized", message: "the wallet has not authorised this site: connect first" }, 0);
  const msg = (e && (e.message || (e.error && e.error.message))) || String(e);
  return new ApiError({ error: "WalletError", message: `${what} failed in the wallet: ${msg}` }, 0);
}

async function request(method, params) {
  const p = provider();
  if (!p) throw new ApiError({ error: "NoWallet", message: "no browser wallet found (install one that supports EIP-1193, e.g. MetaMask or Rabby)" }, 0);
  return p.request({ method, params });
}

async function checkChain() {
  const id = await request("eth_chainId", []);
  if (parseInt(id, 16) !== info.chain_id) {
    try {
      await request("wallet_switchEthereumChain", [{ chainId: info.chain_id_hex }]);
    } catch (e) {
      throw new ApiError({ error: "ChainMismatch", message: `the wallet is on chain ${parseInt(id, 16)} but this deployment is on chain ${info.chain_id}: switch networks in the wallet` }, 0);
    }
  }
}

export async function connect() {
  let accts;
  try { accts = await request("eth_requestAccounts", []); } catch (e) { throw e instanceof ApiError ? e : walletError(e, "connecting"); }
  if (!accts || !accts.length) throw new ApiError({ error: "NoAccount", message: "the wallet returned no account" }, 0);
  await checkChain();
  setAccount(accts[0]);
  return current;
}

export async function requireAccount() {
  if (current) return current;
  return connect();
}

export async function signTypedData(typedData) {
  const a = await requireAccount();
  await checkChain();
  if (typedData.message && typedData.message.trader && typedData.message.trader.toLowerCase() !== a.toLowerCase()) {
    throw new ApiError({ error: "InvalidOrder", message: `the order is for ${typedData.message.trader} but the wallet is ${a}: re-plan after switching accounts` }, 0);
  }
  try { return await request("eth_signTypedData_v4", [a, JSON.stringify(typedData)]); } catch (e) { throw walletError(e, "signing the order"); }
}

export async function waitTx(hash, timeoutMs = 90000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const r = await api(`/api/tx/${hash}`);
    if (r.status === "success") return r;
    if (r.status === "failed") throw new ApiError(r, 0);
    await sleep(400);
  }
  throw new ApiError({ error: "Timeout", message: `transaction ${hash} was not mined within ${timeoutMs / 1000} s; it may still be pending` }, 0);
}

// Send the server-built unsigned transactions one after the other, each mined before the next.
export async function sendTxs(txs, onStep) {
  const a = await requireAccount();
  await checkChain();
  const done = [];
  for (const [i, t] of txs.entries()) {
    if (onStep) onStep(`${i + 1}/${txs.length}: ${t.description}: confirm in the wallet…`);
    let hash;
    try { hash = await request("eth_sendTransaction", [{ ...t.tx, from: a }]); } catch (e) { throw walletError(e, t.description); }
    if (onStep) onStep(`${i + 1}/${txs.length}: ${t.description}: waiting for the block…`);
    done.push(await waitTx(hash));
  }
  return done;
}

function init() {
  const b = $("#connect");
  const p = provider();
  const saved = localStorage.getItem(KEY);
  if (b) {
    b.addEventListener("click", async () => {
      try { await connect(); } catch (e) { showBanner(e.message); }
    });
  }
  if (p) {
    if (p.on) p.on("accountsChanged", (accts) => setAccount(accts && accts[0]));
    p.request({ method: "eth_accounts", params: [] }).then((accts) => {
      if (accts && accts.length && (!saved || accts.map((x) => x.toLowerCase()).includes(saved.toLowerCase()))) setAccount(saved || accts[0]);
      else setAccount(null);
    }).catch(() => setAccount(null));
  } else {
    setAccount(null);
  }
}

export function showBanner(text) {
  const el = $("#banner");
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  setTimeout(() => { el.hidden = true; }, 8000);
}

init();
