// Shared helpers: JSON API calls with typed errors, formatting, messages.
export const info = JSON.parse(document.getElementById("app-info").textContent);

export class ApiError extends Error {
  constructor(data, status) {
    super(data && data.message ? data.message : `request failed (${status})`);
    this.data = data || {};
    this.status = status;
    this.kind = (data && data.error) || "Error";
  }
}

export async function api(path, body) {
  // soft errors: the server answers refusals with 200 + {error, message, status} (no console noise)
  const headers = { "x-cspread-soft-errors": "1" };
  const opts = body === undefined ? { headers } : {
    method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body),
  };
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    throw new ApiError({ error: "NetworkError", message: `the dashboard server is unreachable (${e.message})` }, 0);
  }
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (r.ok && data && typeof data.error === "string" && typeof data.message === "string" && data.status >= 400) {
    throw new ApiError(data, data.status);
  }
  if (!r.ok) {
    if (data && typeof data.detail !== "undefined" && !data.message) {
      data = { error: "RequestError", message: typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail) };
    }
    throw new ApiError(data, r.status);
  }
  return data;
}

export function $(sel, root = document) { return root.querySelector(sel); }
export function $$(sel, root = document) { return Array.from(root.querySelectorAll(sel)); }

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// decimal strings from the API -> display (thousands separators, trimmed)
export function fmt(v, digits = 6) {
  if (v === null || v === undefined || v === "") return "—";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return n.toLocaleString("en-US", { maximumFractionDigits: digits });
}
// money: always to the cent, with its unit
export function usd(v) { return v === null || v === undefined || v === "" ? "—" : `${px(v, 2)} USD`; }
// a price to the market's tick: exactly `places` decimals (the API sends `places` with every price)
export function px(v, places = 2) {
  if (v === null || v === undefined || v === "") return "—";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return n.toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
}
export function signed(v, places = 2) {
  if (v === null || v === undefined || v === "") return "—";
  const n = Number(v);
  return (n > 0 ? "+" : "") + px(v, places);
}
// a unix time in the viewer's zone and in UTC: "Nov 11, 2026, 12:00 CST (18:00 UTC)"
export function timeText(ts) {
  if (!ts) return "—";
  const t = new Date(Number(ts) * 1000);
  const local = t.toLocaleString("en-US", { year: "numeric", month: "short", day: "numeric", hour: "2-digit",
    minute: "2-digit", hour12: false, timeZoneName: "short" });
  const utc = t.toLocaleString("en-US", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "UTC" });
  const utcDay = t.toLocaleString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
  const localDay = t.toLocaleString("en-US", { month: "short", day: "numeric" });
  return / UTC$/.test(local) ? local : `${local} (${utcDay === localDay ? "" : utcDay + ", "}${utc} UTC)`;
}
export function cls(v) { const n = Number(v); return n > 0 ? "pos" : n < 0 ? "neg" : ""; }

// show a message box: kind "ok" | "error" | "info"
export function say(el, text, kind = "info") {
  if (!el) return;
  el.hidden = false;
  el.className = `msg ${kind}`;
  el.textContent = text;
}
export function sayError(el, err) {
  const kind = err && err.kind ? `${err.kind}: ` : "";
  say(el, `${kind}${err && err.message ? err.message : String(err)}`, "error");
}

export function shortAddr(a) { return a ? `${a.slice(0, 6)}…${a.slice(-4)}` : ""; }
export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
