"""The hedge statement drawn: a PDF (matplotlib PdfPages) and a PNG a lender can read.

    from apps.statement import write
    pdf, png = write(st, "out/")      # st: core.statement.Statement (sdk.statement.statement)

Pages: the summary (who, which chain and block, margin posted, the hedge by delivery month with
the locked-in spread per GPU-hour and per MWh), the revenue grid (hedged and unhedged, under
index and power moves), and the sources: every figure carries a footnote number whose line
gives the block and the transaction (or the state read) it comes from. Nothing is computed
here that core.statement did not compute; this module only lays it out.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from core import statement as cs

A4_LANDSCAPE = (11.69, 8.27)
LINES_PER_PAGE = 48
MONO = "DejaVu Sans Mono"


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def text_lines(st: cs.Statement) -> tuple[list[str], list[str], cs.Footnotes]:
    """(summary lines, grid lines, footnotes) in the order they are cited."""
    notes = cs.Footnotes()
    head = notes.cite(cs.Source(st.block, None, f"block {st.block} hash {st.block_hash}"))
    out = [
        f"Hedge statement of {st.account}",
        f"chain {st.chain_id}, read at block {st.block} ({_when(st.block_time)}) {head}",
        f"block hash {st.block_hash}",
        "contracts: " + ", ".join(f"{k} {v}" for k, v in st.contracts.items()),
        f"delivery months asked: {st.months_asked[0]}..{st.months_asked[1]}",
        "",
        "MARGIN POSTED (USD)",
    ]
    mg = st.margin
    n = notes.cite(mg.source)
    out.append(
        f"  collateral {cs.usd(mg.collateral)}  equity {cs.usd(mg.equity)}  initial margin "
        f"{cs.usd(mg.initial)}  maintenance margin {cs.usd(mg.maintenance)} {n}"
    )
    for amount, src in mg.deposits:
        out.append(f"  {src.what:<10} {cs.usd(amount):>14} {notes.cite(src)}")
    out += [
        "",
        "HEDGE BY DELIVERY MONTH (prices in USD per unit; locked = -quantity x entry - fees, USD)",
        f"  {'month':<8}{'market':<40}{'side':<6}{'quantity':>14} {'unit':<9}{'avg entry':>12}"
        f"{'fees':>10}{'locked':>14}  status",
    ]
    for m in st.months:
        for leg in m.legs:
            fills = notes.cite(*leg.fills)
            pos = notes.cite(leg.holding.source) if leg.holding else ""
            if leg.settled is not None:
                status = (
                    f"settled at {cs.usd(leg.settlement_price, 4)}, PnL {cs.usd(leg.settlement_pnl)} "
                    f"{notes.cite(leg.settled)}"
                )
            else:
                status = f"open {pos}"
            out.append(
                f"  {m.month:<8}{leg.market.symbol[:39]:<40}{leg.side:<6}{cs.qty(abs(leg.quantity)):>14} "
                f"{leg.market.unit:<9}{cs.usd(leg.entry, 4):>12}{cs.usd(leg.fees):>10}{cs.usd(leg.locked):>14}"
                f"  {status}  fills {fills}"
            )
        per_h = cs.usd(m.spread_per_gpu_hour, 4) if m.spread_per_gpu_hour is not None else "— (one side only)"
        per_mwh = cs.usd(m.spread_per_mwh, 2) if m.spread_per_mwh is not None else "—"
        out.append(
            f"  {m.month}: hedged {cs.units_qty(m.gpu_hours)} GPU-hours / {cs.units_qty(m.mwh)} MWh; locked "
            f"{cs.usd(m.locked)} USD; locked-in spread {per_h} USD/GPU-hour, {per_mwh} USD/MWh"
        )
    out += [
        "",
        f"TOTAL locked {cs.usd(st.locked)} USD over {cs.units_qty(st.gpu_hours)} GPU-hours and "
        f"{cs.units_qty(st.mwh)} MWh",
    ]
    g = st.grid
    grid = [
        f"REVENUE OF A SITE OF {g.scale} x THE HEDGED SIZE, USD, months {', '.join(g.months) or 'none'}",
        "reference prices per month (moved by the percentages): "
        + "; ".join(
            f"{m.month} index {cs.usd(m.reference_index, 4)} USD/GPU-hour, power {cs.usd(m.reference_power, 2)} "
            f"USD/MWh {notes.cite(*m.reference_sources)}"
            for m in st.months
        ),
    ]
    if g.left_out:
        grid.append(f"left out (no reference index or power price on chain): {', '.join(g.left_out)}")
    for title, cells in (("WITH THE HEDGE", g.hedged), ("WITHOUT THE HEDGE", g.unhedged)):
        grid += ["", f"{title} (whole USD): rows GPU index move, columns power price move"]
        grid.append(f"{'':>8}" + "".join(f"{cs.percent(p):>13}" for p in g.power_moves))
        for gi, row in zip(g.index_moves, cells, strict=True):
            grid.append(f"{cs.percent(gi):>8}" + "".join(f"{cs.usd(c, 0):>13}" for c in row))
    grid += ["", f"REVENUE FLOOR WITH THE HEDGE: {cs.usd(g.floor)} USD"]
    return out, grid, notes


def _text_pages(pdf, title: str, lines: list[str]) -> None:
    import matplotlib.pyplot as plt

    for k in range(0, max(1, len(lines)), LINES_PER_PAGE):
        fig = plt.figure(figsize=A4_LANDSCAPE)
        fig.text(0.03, 0.96, title, fontsize=12, weight="bold", va="top")
        fig.text(
            0.03, 0.92, "\n".join(lines[k : k + LINES_PER_PAGE]), family=MONO, fontsize=7, va="top", linespacing=1.3
        )
        pdf.savefig(fig)
        plt.close(fig)


def _grid_figure(st: cs.Statement):
    import matplotlib.pyplot as plt
    import numpy as np

    from core import units as u

    g = st.grid
    fig, axes = plt.subplots(1, 2, figsize=A4_LANDSCAPE, constrained_layout=True)
    cells = [np.array(g.hedged, dtype=float), np.array(g.unhedged, dtype=float)]
    lo = min(c.min() for c in cells) if cells[0].size else 0.0
    hi = max(c.max() for c in cells) if cells[0].size else 1.0
    for ax, c, name in zip(axes, cells, ("with the hedge", "without the hedge"), strict=True):
        usd = u.base_to_float(c) if c.size else c
        ax.imshow(usd, cmap="RdYlGn", vmin=u.base_to_float(int(lo)), vmax=u.base_to_float(int(hi)), origin="lower")
        ax.set_xticks(range(len(g.power_moves)), [cs.percent(p) for p in g.power_moves], fontsize=7)
        ax.set_yticks(range(len(g.index_moves)), [cs.percent(x) for x in g.index_moves], fontsize=7)
        ax.set_xlabel("power price move")
        ax.set_ylabel("GPU index move")
        ax.set_title(f"site revenue {name} (USD)", fontsize=10)
        for i in range(len(g.index_moves)):
            for j in range(len(g.power_moves)):
                ax.text(j, i, cs.usd(int(c[i, j]), 0), ha="center", va="center", fontsize=6)
    fig.suptitle(
        f"Hedge statement {st.account}: revenue floor {cs.usd(g.floor)} USD, chain {st.chain_id} block {st.block}",
        fontsize=10,
    )
    return fig


def render_pdf(st: cs.Statement) -> bytes:
    """The statement as PDF bytes (text kept as text: fonttype 42, so it can be searched and parsed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    summary, grid, notes = text_lines(st)
    sources = [f"[{n}] {s.text()}" for n, s in notes.items()]
    buf = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(buf, metadata=_metadata(st)) as pdf:
        _text_pages(pdf, "Compute Spread hedge statement", summary)
        fig = _grid_figure(st)
        pdf.savefig(fig)
        plt.close(fig)
        _text_pages(pdf, "Revenue grid", grid)
        _text_pages(pdf, "Sources: verify each figure against the chain (block, transaction)", sources)
    return buf.getvalue()


def render_png(st: cs.Statement, dpi: int = 130) -> bytes:
    """The grid page (hedged vs unhedged revenue, the floor, the block) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = _grid_figure(st)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _metadata(st: cs.Statement) -> dict[str, str]:
    return {
        "Title": f"Compute Spread hedge statement {st.account}",
        "Subject": f"chain {st.chain_id} block {st.block} {st.block_hash}",
        "Creator": "cspread statement",
    }


def file_stem(st: cs.Statement) -> str:
    return f"statement-{st.account}-{st.months_asked[0]}_{st.months_asked[1]}-block{st.block}"


def write(st: cs.Statement, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.pdf`` and ``<stem>.png`` into ``out_dir`` (created); returns both paths."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    pdf = d / f"{file_stem(st)}.pdf"
    png = d / f"{file_stem(st)}.png"
    pdf.write_bytes(render_pdf(st))
    png.write_bytes(render_png(st))
    return pdf, png
