"""The `make demo` chart: real index, on-chain marks and each party's equity over the devnet month.

The index lines are the vendored real data (ERCOT HB_WEST day-ahead LMP; the H100-SXM index
computed by the oracle's own methodology from the Prime Intellect quotes), drawn on the chain
clock through the same time maps the reporters use. Nothing is interpolated.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np


def power_lmp(start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """ERCOT HB_WEST DA hourly LMP with hour start in [start, end) (chain time = data time)."""
    from oracle.data import load_power

    s = load_power("ERCOT", "HB_WEST", "DA")
    keep = (s.timestamps >= start) & (s.timestamps < end)
    return s.timestamps[keep], s.prices[keep]


def gpu_index(start: int, end: int, offset: int, gpu: str = "H100-SXM") -> tuple[np.ndarray, np.ndarray]:
    """Hourly GPU index fixings on the chain clock [start, end); data time = chain time + offset."""
    from oracle.data import load_gpu_quotes
    from oracle.index import GpuIndexParams, gpu_index_batch

    q = load_gpu_quotes(gpu)
    grid = np.arange(start - start % 3600, end, 3600, dtype=np.int64)
    vals = gpu_index_batch(q.timestamps, q.providers, q.prices, q.n_listings, grid + offset, GpuIndexParams()).values
    return grid, vals


CURVE_COLORS = {"PEAK": "#d62728", "ATC": "#1f77b4", "COMPUTE": "#2ca02c", "SPREAD": "#9467bd"}


def _curve_panel(ax, curves: dict[str, list[tuple[int, float, bool]]]) -> None:
    """One line per series over its listed delivery windows (power on the left axis in USD/MWh,
    compute and the spread on the right in USD/GPU-hour); filled markers: on-chain marks, open
    markers: the reporters' valuation of a window whose mark is not on chain yet."""
    right = ax.twinx()
    for name, pts in sorted(curves.items()):
        if not pts:
            continue
        a = ax if name in ("PEAK", "ATC", "HOURLY") else right
        color = CURVE_COLORS.get(name, "#555555")
        xs = _dates(p[0] for p in pts)
        a.plot(xs, [p[1] for p in pts], color=color, lw=1.4, label=f"{name} ({len(pts)} windows)")
        on = [(x, p[1]) for x, p in zip(xs, pts, strict=True) if p[2]]
        off = [(x, p[1]) for x, p in zip(xs, pts, strict=True) if not p[2]]
        if on:
            a.scatter(*zip(*on, strict=True), color=color, s=22, zorder=3)
        if off:
            a.scatter(*zip(*off, strict=True), facecolors="white", edgecolors=color, s=22, zorder=3)
    ax.set_ylabel("power, USD / MWh")
    right.set_ylabel("compute and spread, USD / GPU-hour")
    ax.set_xlabel("delivery month (start, UTC)")
    ax.set_title(
        "Forward curves listed by the lister at the demo's start: filled = on-chain mark, open = reporters' "
        "valuation not yet pushed",
        fontsize=9,
    )
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = right.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)


def _dates(ts) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(int(t), dt.UTC).replace(tzinfo=None) for t in ts]


def write_chart(
    path: Path,
    samples: list[dict],
    *,
    window: tuple[int, int],
    gpu_offset: int,
    settlements: dict[str, float],
    parties: dict[str, str],
    events: list[tuple[int, str]],
    curves: dict[str, list[tuple[int, float, bool]]] | None = None,
) -> Path:
    """samples: [{"t": chain ts, "marks": {name: usd}, "equity": {party: usd}}]; curves: the forward
    curve of each series at the demo's start, {name: [(delivery_start, usd, on_chain_mark)]},
    drawn in a fourth panel (one line per series, one point per listed window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start, end = window
    t0, t1 = samples[0]["t"], samples[-1]["t"]
    rows = 4 if curves else 3
    fig = plt.figure(figsize=(12, 14.5 if curves else 11), constrained_layout=True)
    grid = fig.add_gridspec(rows, 1)
    axes = [fig.add_subplot(grid[0])]
    axes += [fig.add_subplot(grid[i], sharex=axes[0]) for i in (1, 2)]
    ts = _dates(s["t"] for s in samples)

    ax = axes[0]
    lt, lp = power_lmp(t0 - 86400, t1)
    ax.plot(_dates(lt), lp, color="#bbbbbb", lw=0.8, label="HB_WEST DA hourly LMP (real, ERCOT 2021)")
    for name, color in (("PEAK", "#d62728"), ("ATC", "#1f77b4")):
        ax.step(
            ts,
            [s["marks"].get(name) for s in samples],
            where="post",
            color=color,
            lw=1.8,
            label=f"{name} month mark (on-chain)",
        )
        if name in settlements:
            ax.axhline(
                settlements[name], color=color, ls=":", lw=1, label=f"{name} settlement {settlements[name]:,.2f}"
            )
    ax.set_yscale("symlog", linthresh=100)
    ax.set_ylim(bottom=min(-30.0, float(lp.min()) * 1.2 if lp.size else 0.0))
    ax.set_ylabel("USD / MWh")
    ax.set_title("Power: ERCOT HB_WEST day-ahead through Winter Storm Uri (Feb 2021)")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[1]
    gt, gv = gpu_index(t0, t1, gpu_offset)
    ax.plot(_dates(gt), gv, color="#999999", lw=0.8, label="H100-SXM index, hourly fixings (real quotes Oct-Nov 2025)")
    ax.step(
        ts,
        [s["marks"].get("COMPUTE") for s in samples],
        where="post",
        color="#2ca02c",
        lw=1.8,
        label="H100 compute month mark",
    )
    ax.step(
        ts,
        [s["marks"].get("SPREAD") for s in samples],
        where="post",
        color="#9467bd",
        lw=1.8,
        label="compute spread month mark = GPU - 0.0012 x ATC",
    )
    if "SPREAD" in settlements:
        ax.axhline(
            settlements["SPREAD"], color="#9467bd", ls=":", lw=1, label=f"spread settlement {settlements['SPREAD']:.4f}"
        )
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("USD / GPU-hour")
    ax.set_title("Compute: H100 index and the compute spread")
    ax.legend(loc="lower left", fontsize=8)

    ax = axes[2]
    for party, color in parties.items():
        eq = np.array([s["equity"].get(party, np.nan) for s in samples], dtype=float)
        first = np.flatnonzero(eq != 0)
        if first.size:  # not yet funded: no line (rather than a misleading zero)
            eq[: first[0]] = np.nan
        ax.plot(ts, eq, color=color, lw=1.6, label=party)
    ax.set_yscale("symlog", linthresh=10_000)
    ax.set_ylabel("equity, USD (symlog)")
    ax.set_title("Equity in the Clearinghouse (collateral + unrealised PnL at the marks)")
    labelled: set[str] = set()
    for t, label in events:
        color = "#d62728" if label == "liquidation" else "black"
        for a in axes:
            a.axvline(_dates([t])[0], color=color, ls="--", lw=0.6)
        if label not in labelled:  # label the first of each kind only
            labelled.add(label)
            ax.annotate(label, (_dates([t])[0], ax.get_ylim()[1]), fontsize=7, rotation=90, va="top", ha="right")
    ax.legend(loc="center left", fontsize=8)
    for a in axes:
        a.axvspan(_dates([start])[0], _dates([end])[0], color="#f4f4f4", zorder=-1)
    axes[2].set_xlabel("devnet chain time (UTC) = real ERCOT time; shaded: delivery month")
    if curves:
        _curve_panel(fig.add_subplot(grid[3]), curves)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
