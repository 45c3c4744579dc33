import { api, $, fmt, px, cls } from "./common.js";
import { drawCurves } from "./curves.js"; // draws the three curve charts on import (same code as /curves)

async function refresh() {
  // the rows this page shows: the same filters and page as the page itself (hundreds are listed)
  const q = new URLSearchParams(location.search);
  if (!q.has("limit")) q.set("limit", "50");
  const ms = (await api(`/api/markets?${q}`)).markets;
  for (const m of ms) {
    const row = $(`#markets-table tr[data-id="${m.id}"]`);
    if (!row) continue;
    row.querySelector('[data-f="index"]').textContent = m.index ? px(m.index, m.places) : "—";
    row.querySelector('[data-f="mark"]').textContent = m.mark ? px(m.mark, m.places) : "—";
    const ch = row.querySelector('[data-f="change_24h"]');
    ch.textContent = m.change_24h_text;
    ch.className = `n ${cls(m.change_24h)}`;
    row.querySelector('[data-f="open_interest"]').textContent = `${fmt(m.open_interest, 3)} ${m.unit}`;
    const st = row.querySelector('[data-f="status_text"]');
    st.textContent = m.status_text;
    st.className = `status s-${m.status}`;
  }
}

setInterval(() => { refresh().catch(() => {}); }, 10000);
setInterval(() => { drawCurves("").catch(() => {}); }, 60000);
