"""The tables of docs/methodology.md, computed from the vendored real data through the oracle's own code.

    python -m scripts.methodology            # print every generated section
    python -m scripts.methodology --write    # rewrite the sections in docs/methodology.md (make methodology)
    python -m scripts.methodology --check    # exit 1 if the doc differs from a fresh run (make methodology-check)

Each section sits in the doc between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->``; nothing outside those markers is touched. Old-vs-new
comparisons run the same :class:`oracle.valuation.Valuer` with the previous parameters
(``mark_method="trailing"``, ``GpuIndexParams(method="weighted_median")``), so both sides use
the production code path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from core.calendar import PEAK_BLOCKS, TZ_ABBREV, hours_between, profile_hours
from core.specs import compute_spec, month_window, power_spec
from core.units import USDC_DECIMALS, float_usd_to_base, usd_to_base
from oracle import data
from oracle.data import GPU_CLASSES
from oracle.index import GpuIndexParams, gpu_index_at, gpu_index_batch, manipulation_bound
from oracle.sources import ReplaySource
from oracle.valuation import Valuer, carry_forward
from scripts._docgen import render_sections

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "methodology.md"
CT = "America/Chicago"
HUBS = ("HB_WEST", "HB_NORTH", "HB_HOUSTON", "HB_SOUTH", "HB_PAN")
PROFILES = ("ATC", "PEAK", "OFFPEAK")
MONTHS = [(y, m) for y in (2021, 2022) for m in range(1, 13)]
DAYS = (5, 10, 15, 20)
OLD_GPU = GpuIndexParams(method="weighted_median")
NEW_GPU = GpuIndexParams()
GPU_WINDOW = ("2025-10-20", "2025-11-16")  # the 27 whole UTC days every class's data covers
SWEEP = [(1, 28, 0.5), (1, 28, 1.0), (1, 28, 2.0), (1, 28, 4.0), (2, 28, 1.0), (7, 28, 1.0), (1, 14, 1.0), (1, 56, 1.0)]


def _ts(day: str, tz: str = "UTC") -> int:
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).timestamp())


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# --------------------------------------------------------------------------- peak blocks


def peak_blocks() -> str:
    rows = []
    for b in PEAK_BLOCKS.values():
        days = "Mon–Fri" if len(b.days) == 5 else "Mon–Sat"
        pub = (
            "—"
            if b.da_publish is None
            else f"{int(b.da_publish):02d}:{int(b.da_publish % 1 * 60):02d} local, day before"
        )
        rows.append(
            [
                b.iso,
                f"`{b.tz}` ({TZ_ABBREV[b.tz]})",
                f"HE{b.he_first:02d}–HE{b.he_last:02d}",
                f"{b.first_start_hour:02d}:00–{b.last_start_hour + 1:02d}:00",
                days,
                "NERC",
                pub,
                b.source,
            ]
        )
    return _table(
        ["ISO", "zone", "peak (hour ending)", "clock interval", "days", "holidays", "DA prices known from", "source"],
        rows,
    )


# --------------------------------------------------------------------------- marks


def _mark_errors(valuer: Valuer, hubs=HUBS, profiles=PROFILES) -> dict:
    """{(hub, profile, y, m): [mark - final at 00:00 local of days 5, 10, 15, 20]}."""
    out = {}
    for hub in hubs:
        for prof in profiles:
            for y, m in MONTHS:
                s, e = month_window(y, m, CT)
                spec = power_spec("ERCOT", hub, "DA", prof, s, e)
                final = valuer.settlement(spec, e).price_usd
                out[(hub, prof, y, m)] = [
                    valuer.mark(spec, _ts(f"{y}-{m:02d}-{d:02d}", CT)).price_usd - final for d in DAYS
                ]
    return out


def _worst_overshoot(valuer: Valuer, hub: str, prof: str, y: int = 2021, m: int = 2) -> tuple[float, float, float]:
    """(max mark - final over every hourly mark in the month, final, max mark)."""
    s, e = month_window(y, m, CT)
    spec = power_spec("ERCOT", hub, "DA", prof, s, e)
    final = valuer.settlement(spec, e).price_usd
    top = max(valuer.mark(spec, t).price_usd for t in range(s, e, 3600))
    return top - final, final, top


def _mae(errs: dict, keys) -> float:
    return float(np.mean([np.mean(np.abs(errs[k])) for k in keys]))


def marks() -> dict[str, str]:
    src = ReplaySource()
    old, new = Valuer(src, mark_method="trailing"), Valuer(src)
    eo, en = _mark_errors(old), _mark_errors(new)
    feb = (2021, 2)
    # per-month table, HB_WEST ATC (the example) + the month's MAE over all hubs and profiles
    rows = []
    for y, m in MONTHS:
        k = ("HB_WEST", "ATC", y, m)
        cells = [f"{y}-{m:02d}"]
        for i in range(len(DAYS)):
            cells.append(f"{abs(eo[k][i]):,.2f} → {abs(en[k][i]):,.2f}")
        keys = [(h, p, y, m) for h in HUBS for p in PROFILES]
        cells.append(f"{_mae(eo, keys):,.2f} → {_mae(en, keys):,.2f}")
        rows.append(cells)
    per_month = _table(["month", *(f"HB_WEST ATC day {d}" for d in DAYS), "MAE, 5 hubs × 3 profiles"], rows)

    other = [k for k in eo if k[2:] != feb]
    febk = [k for k in eo if k[2:] == feb]
    worse = sum(np.mean(np.abs(en[k])) > np.mean(np.abs(eo[k])) + 1e-9 for k in other)
    summary_rows = []
    for hub, prof in (("HB_WEST", "ATC"), ("HB_WEST", "PEAK"), ("HB_NORTH", "ATC"), ("HB_HOUSTON", "ATC")):
        o, n = _worst_overshoot(old, hub, prof), _worst_overshoot(new, hub, prof)
        summary_rows.append(
            [
                f"Feb 2021 {hub} {prof}: worst overshoot (max hourly mark − final)",
                f"{o[0]:,.2f} (mark {o[2]:,.2f} vs final {o[1]:,.2f})",
                f"{n[0]:,.2f} (mark {n[2]:,.2f})",
                f"{(1 - n[0] / o[0]) * 100:.0f} % smaller",
            ]
        )
    summary_rows.append(
        ["Feb 2021 MAE, days 5/10/15/20, 5 hubs × 3 profiles", f"{_mae(eo, febk):,.2f}", f"{_mae(en, febk):,.2f}", ""]
    )
    summary_rows.append(
        [
            "every other month (345 series-months): mean of MAE",
            f"{_mae(eo, other):,.3f}",
            f"{_mae(en, other):,.3f}",
            f"{(1 - _mae(en, other) / _mae(eo, other)) * 100:.0f} % smaller; {worse} of 345 worse",
        ]
    )
    summary = _table(
        ["measure (USD/MWh)", "old: trailing 7-day mean", "new: DA known + shrinking blend", ""], summary_rows
    )

    # parameter sweep (HB_WEST, 3 profiles): the choice of seasonal_days and decay_days on the data
    eo_w = {k: v for k, v in eo.items() if k[0] == "HB_WEST"}
    other_w = [k for k in eo_w if k[2:] != feb]
    o_feb = _worst_overshoot(old, "HB_WEST", "ATC")[0]
    o_pk = _worst_overshoot(old, "HB_WEST", "PEAK")[0]
    feb_w = [k for k in eo_w if k[2:] == feb]
    sweep_rows = [
        [
            "old (trailing 7-day mean)",
            f"{o_feb:,.0f}",
            f"{o_pk:,.0f}",
            f"{_mae(eo_w, feb_w):,.0f}",
            f"{_mae(eo_w, other_w):.3f}",
        ]
    ]
    for rd, sd, tau in SWEEP:
        v = Valuer(src, recent_days=rd, seasonal_days=sd, decay_days=tau)
        e = _mark_errors(v, hubs=("HB_WEST",))
        chosen = " **(chosen)**" if (rd, sd, tau) == (new.recent_days, new.seasonal_days, new.decay_days) else ""
        sweep_rows.append(
            [
                f"R {rd} d, S {sd} d, τ = {tau:g} d{chosen}",
                f"{_worst_overshoot(v, 'HB_WEST', 'ATC')[0]:,.0f}",
                f"{_worst_overshoot(v, 'HB_WEST', 'PEAK')[0]:,.0f}",
                f"{_mae(e, feb_w):,.0f}",
                f"{_mae(e, other_w):.3f}",
            ]
        )
    sweep = _table(
        [
            "estimator (R recent days, S seasonal days, τ decay)",
            "Feb 2021 HB_WEST ATC worst overshoot",
            "… PEAK",
            "Feb 2021 MAE (3 profiles, days 5/10/15/20)",
            "HB_WEST other 23 months: MAE (3 profiles, days 5/10/15/20)",
        ],
        sweep_rows,
    )
    return {"mark-errors": per_month, "mark-summary": summary, "mark-sweep": sweep}


# --------------------------------------------------------------------------- GPU index


def _fixings(gpu: str, params: GpuIndexParams, quotes=None) -> tuple[np.ndarray, np.ndarray]:
    s, e = (_ts(d) for d in GPU_WINDOW)
    grid = hours_between(s - 86_400, e)
    q = quotes if quotes is not None else data.load_gpu_quotes(gpu)
    vals = carry_forward(grid, gpu_index_batch(*q, grid, params).values, 86_400)
    keep = grid >= s
    return grid[keep], vals[keep]


def _moves(vals: np.ndarray) -> tuple[float, float, int]:
    """(mean |daily move|, max |daily move|, days compared) of the index sampled at 00:00Z each day."""
    daily = vals[::24]
    d = np.abs(np.diff(daily))
    d = d[~np.isnan(d)]
    return (float(d.mean()), float(d.max()), int(d.size)) if d.size else (float("nan"), float("nan"), 0)


class _Tampered(ReplaySource):
    """The vendored quotes with one provider's rows changed, or one provider added (an attack)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def gpu_quotes(self, gpu, region, start, end):
        q = super().gpu_quotes(gpu, region, start, end)
        return self.fn(q)


def _settle(source, params: GpuIndexParams) -> float:
    s, e = (_ts(d) for d in GPU_WINDOW)
    return Valuer(source, gpu_params=params).settlement(compute_spec("H100-SXM", s, e), e).price_usd


def _quotes_unchanged(gpu: str, grid: np.ndarray) -> np.ndarray:
    """For each fixing after the first: True if every provider's fresh quote (price) is the same as
    at the previous fixing (listing counts may differ)."""
    q = data.load_gpu_quotes(gpu)
    seen = [gpu_index_at(*q, int(t), GpuIndexParams(min_quotes=1)) for t in grid]
    votes = [tuple(sorted(r.used.items())) for r in seen]
    return np.array([a == b for a, b in zip(votes[:-1], votes[1:], strict=False)])


def gpu() -> dict[str, str]:
    rows = []
    for g in GPU_CLASSES:
        cells = [g]
        for params in (OLD_GPU, NEW_GPU):
            grid, v = _fixings(g, params)
            cov = float(np.mean(~np.isnan(v))) * 100
            mean, mx, n = _moves(v)
            hourly = np.abs(np.diff(v))
            ok = ~np.isnan(hourly)
            still = _quotes_unchanged(g, grid) & ok
            cells += [
                f"{cov:.0f} %",
                "—" if n == 0 else f"{mean:.3f} / {mx:.3f}",
                "—" if not ok.any() else f"{int((hourly[ok] > 0).sum())} ({int((hourly[still] > 0).sum())})",
            ]
        rows.append(cells)
    moves = _table(
        [
            "class",
            "old: coverage",
            "old: daily move mean / max",
            "old: hourly changes (no quote changed)",
            "new: coverage",
            "new: daily move mean / max",
            "new: hourly changes (no quote changed)",
        ],
        rows,
    )

    # one provider's listing count alone, and a new provider joining, on the H100 27-day settlement
    base = data.load_gpu_quotes("H100-SXM")
    providers = sorted(set(base.providers.tolist()))
    honest = {p: _settle(ReplaySource(), p) for p in (OLD_GPU, NEW_GPU)}

    def relist(provider: str, n: int):
        def fn(q):
            return data.GpuQuotes(
                q.timestamps, q.providers, q.prices, np.where(q.providers == provider, n, q.n_listings)
            )

        return fn

    def join(price: float, n: int = 10):
        def fn(q):
            t = np.unique(q.timestamps)
            return data.GpuQuotes(
                np.concatenate([q.timestamps, t]),
                np.concatenate([q.providers, np.full(len(t), "attacker")]),
                np.concatenate([q.prices, np.full(len(t), price)]),
                np.concatenate([q.n_listings, np.full(len(t), n)]),
            )

        return fn

    attack_rows = []
    for label, params in (
        ("old (listing-weighted median, MAD)", OLD_GPU),
        ("new (one vote per provider, median)", NEW_GPU),
    ):
        vals = [_settle(_Tampered(relist(p, n)), params) for p in providers for n in (1, 10)]
        cells = [label, f"{honest[params]:.6f}", f"{min(vals):.4f} … {max(vals):.4f}"]
        for px in (2.00, 0.50, 100.0):
            v = _settle(_Tampered(join(px)), params)
            cells.append(f"{(v / honest[params] - 1) * 100:+.1f} %")
        attack_rows.append(cells)
    # the stated bound for the new index: mean over fixings of manipulation_bound(honest quotes)
    s, e = (_ts(d) for d in GPU_WINDOW)
    grid = hours_between(s, e)
    lo_hi = []
    for t in grid:
        fresh = (base.timestamps <= t) & (base.timestamps >= t - NEW_GPU.staleness_s)
        latest = {}
        for _ts, p, x in zip(base.timestamps[fresh], base.providers[fresh], base.prices[fresh], strict=False):
            latest[p] = x  # rows are time-sorted: the last one wins
        lo_hi.append(manipulation_bound(list(latest.values())))
    lo, hi = np.mean([a for a, _ in lo_hi]), np.mean([b for _, b in lo_hi])
    attack_rows.append(
        [
            "new: stated bound for any one provider (mean over fixings of manipulation_bound)",
            "",
            f"{lo:.4f} … {hi:.4f}",
            f"{(lo / honest[NEW_GPU] - 1) * 100:+.1f} % … {(hi / honest[NEW_GPU] - 1) * 100:+.1f} %",
            "",
            "",
        ]
    )
    attacks = _table(
        [
            "H100-SXM, 27-day settlement " + "…".join(GPU_WINDOW),
            "honest value",
            "one provider's listing count set to 1 or 10 (range)",
            "new provider at $2.00 × 10 listings",
            "at $0.50 × 10",
            "at $100 × 10",
        ],
        attack_rows,
    )
    return {"gpu-moves": moves, "gpu-attacks": attacks}


# --------------------------------------------------------------------------- exactness


def exactness() -> dict[str, str]:
    """How many monthly values the old float path got wrong (same rows, same hours)."""
    valuer = Valuer(ReplaySource())
    n = wrong = ties = 0
    for iso, node, code in data.power_keys():
        s_ = data.load_power(iso, node, code)
        tz = PEAK_BLOCKS[iso].tz
        market = {"DAM": "DA", "RTM": "RT"}[code]
        first = dt.datetime.fromtimestamp(int(s_.timestamps[0]), ZoneInfo(tz))
        y, m = first.year, first.month
        while True:
            s, e = month_window(y, m, tz)
            if s > s_.timestamps[-1]:
                break
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            hours = hours_between(s, e)
            if not np.isin(hours, s_.timestamps).all():
                continue
            for prof in PROFILES:
                h = profile_hours(s, e, prof, tz, iso)
                px = s_.prices[np.searchsorted(s_.timestamps, h)]
                exact = sum(Decimal(str(x)) for x in px) / len(h)
                got = valuer.settlement(power_spec(iso, node, market, prof, s, e), e).price_units
                want = usd_to_base(exact, "half_even")
                assert got == want, (iso, node, market, prof, s)
                n += 1
                ties += exact.scaleb(USDC_DECIMALS) % 1 == Decimal("0.5")
                wrong += float_usd_to_base(float(px.sum()) / len(h)) != want  # the previous float64 path
    return {
        "exactness": _table(
            [
                "monthly POWER values in the data",
                "exact ties at half a micro-dollar",
                "old float64 path off by 1 micro-dollar",
                "new integer path off",
            ],
            [[str(n), str(ties), str(wrong), "0"]],
        )
    }


# --------------------------------------------------------------------------- doc plumbing


def sections() -> dict[str, str]:
    out = {"peak-blocks": peak_blocks()}
    out.update(exactness())
    out.update(gpu())
    out.update(marks())
    return out


def render(doc: str, secs: dict[str, str]) -> str:
    return render_sections(doc, secs, "docs/methodology.md")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.methodology", description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="rewrite the generated sections of docs/methodology.md")
    g.add_argument("--check", action="store_true", help="exit 1 if docs/methodology.md is not what this run produces")
    a = p.parse_args(argv)
    secs = sections()
    if not (a.write or a.check):
        for name, body in secs.items():
            print(f"## {name}\n\n{body}\n")
        return 0
    doc = DOC.read_text()
    new = render(doc, secs)
    if a.check:
        if new != doc:
            print("docs/methodology.md is out of date: run `make methodology`", file=sys.stderr)
            return 1
        print("docs/methodology.md matches the data")
        return 0
    DOC.write_text(new)
    print(f"wrote {len(secs)} sections to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
