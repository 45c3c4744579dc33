"""`make margins`: backtest margin levels on the vendored real data and propose per-side levels.

    python -m scripts.margins                 # print the generated sections
    python -m scripts.margins --write         # rewrite docs/markets.md's sections and markets/margins.json
    python -m scripts.margins --check         # exit 1 if either differs from a fresh run
    python -m scripts.margins --cache PATH    # reuse the marks of an earlier run (development only)

Method (docs/markets.md, "Margins", has the long form):

* Every series is a family of contracts valued with the oracle's own mark methodology
  (:class:`oracle.valuation.Valuer`, default parameters) once a day at 00:00 local time of the
  spec (UTC for GPUs). The liquidation horizon is ONE DAY: a loss is the move of one contract's
  mark between consecutive daily valuations (day-ahead power prices arrive once a day, so a
  day is the smallest horizon over which a mark can move at all before the DA auction, and
  keepers act within minutes of a mark that makes an account unhealthy).
* A long loses ``mark0 - mark1`` per unit, a short ``mark1 - mark0``; a day is *exceeded* when
  the loss is larger than ``fixed + rate x |mark0|`` (the requirement at the start of the day).
* Coverage = 1 - exceeded days / days, outside the Uri window (observations whose day overlaps
  February 2021 Central). The Uri days are reported on their own with the deficit a stated book
  would have left to the insurance fund and to auto-deleveraging.
* The SPREAD has no joint history (ERCOT is 2021-2022, the GPU data Oct-Nov 2025): its daily
  move is the GPU leg's move minus ``mwh_per_gpu_hour`` x the power leg's move over EVERY
  pairing of a GPU day with an ERCOT HB_WEST ATC-month day (the legs treated as independent).

Nothing here invents a price: every mark comes from ``data/`` through the oracle's code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import math
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from core.specs import compute_spec, month_window, power_spec, spec_matches
from oracle.errors import OracleError
from oracle.sources import ReplaySource
from oracle.valuation import Valuer
from scripts._docgen import render_sections

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "markets.md"
PROPOSAL = ROOT / "markets" / "margins.json"
DEFAULT = ROOT / "markets" / "default.json"

SIDES = ("long", "short")
TARGET = 0.99  # coverage the MM must reach outside the Uri window
FIT_QUANTILE = 0.995  # the MM is fitted in-sample at this quantile, so 99% holds with room
SMALL_SAMPLE = 200  # fewer observations: no quantile is estimable, cover every one x SMALL_HEADROOM
SMALL_HEADROOM = 1.25
SHORT_HISTORY_MIN_RATE = 0.05  # MM rate floor for series fitted on fewer than SMALL_SAMPLE days
IM_OVER_MM = 1.5  # IM = 1.5 x MM, fixed and rate alike (today's convention, docs/markets.md)
RATES = tuple(round(0.025 * i, 3) for i in range(0, 21))  # 0 .. 50 % in 2.5 % steps
CREDITS = tuple(round(0.05 * i, 2) for i in range(0, 20))  # offset credit grid 0 .. 95 %
# the Uri window: any daily observation overlapping February 2021, Central time
CT, ET = "America/Chicago", "America/New_York"
URI = (
    int(dt.datetime(2021, 2, 1, tzinfo=ZoneInfo(CT)).timestamp()),
    int(dt.datetime(2021, 3, 1, tzinfo=ZoneInfo(CT)).timestamp()),
)
# the stated book for the Uri report: per ERCOT contract this many units short (resp. long),
# every account at exactly MM when the day starts (the most a keeper lets through), and an
# insurance fund of this size shared by the whole venue
URI_BOOK_UNITS = 1_000
URI_FUND_USD = 100_000
SPREAD_RATIO = 0.0012  # MWh per GPU-hour of the listed H100 / HB_WEST spread
HOURLY_HOUR = 16  # the listed hourly contract's local hour start (markets/default.json)
LOOKBACK_DAYS = 28  # first valuation day = data start + the mark's seasonal look-back

ISOS = {
    "ERCOT": {
        "tz": CT,
        "nodes": ("HB_WEST", "HB_NORTH", "HB_HOUSTON", "HB_SOUTH", "HB_PAN"),
        "start": dt.date(2021, 1, 1),
        "end": dt.date(2022, 12, 31),  # last local day with every hour
    },
    "PJM": {
        "tz": ET,
        "nodes": (
            "AEP-DAYTON HUB",
            "AEP GEN HUB",
            "ATSI GEN HUB",
            "CHICAGO GEN HUB",
            "CHICAGO HUB",
            "DOMINION HUB",
            "EASTERN HUB",
            "N ILLINOIS HUB",
            "NEW JERSEY HUB",
            "OHIO HUB",
            "WEST INT HUB",
            "WESTERN HUB",
        ),
        "start": dt.date(2025, 5, 1),
        "end": dt.date(2025, 7, 31),
    },
}
GPUS = ("H100-SXM", "B200")
GPU_DAYS = (dt.date(2025, 10, 21), dt.date(2025, 11, 16))  # whole UTC days with a trailing day of quotes


# --------------------------------------------------------------------------- observations


@dataclass
class Series:
    """Daily mark moves of one contract family: one row per (contract, day)."""

    key: str  # e.g. "ERCOT HB_WEST PEAK month"
    kind: str  # POWER | COMPUTE | SPREAD
    period: str  # hour | day | month
    iso: str | None
    node: str | None
    profile: str | None
    contract: np.ndarray  # str, the contract's period label
    t0: np.ndarray  # int64 data-time unix s of the first valuation
    mark0: np.ndarray  # float64 USD per unit at t0
    mark1: np.ndarray  # float64 USD per unit one day later
    uri: np.ndarray  # bool: the day overlaps the Uri window
    note: str = ""
    paths: int = 1  # SPREAD: rows are pairings, this many per power day (sums are divided by it)
    history: int = 0  # SPREAD: distinct days of the shorter leg (the GPU's); 0 = distinct t0

    def __len__(self) -> int:
        return len(self.t0)

    def losses(self, side: str) -> np.ndarray:
        """Loss per unit of a ``side`` position over the horizon (positive = loss)."""
        return losses(self.mark0, self.mark1, side)

    def as_json(self) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "period": self.period,
            "iso": self.iso,
            "node": self.node,
            "profile": self.profile,
            "note": self.note,
            "contract": [str(c) for c in self.contract],
            "t0": [int(t) for t in self.t0],
            "mark0": [float(x) for x in self.mark0],
            "mark1": [float(x) for x in self.mark1],
            "uri": [bool(x) for x in self.uri],
        }

    @classmethod
    def from_json(cls, d: dict) -> Series:
        return cls(
            d["key"],
            d["kind"],
            d["period"],
            d["iso"],
            d["node"],
            d["profile"],
            np.asarray(d["contract"]),
            np.asarray(d["t0"], dtype=np.int64),
            np.asarray(d["mark0"], dtype=np.float64),
            np.asarray(d["mark1"], dtype=np.float64),
            np.asarray(d["uri"], dtype=bool),
            d.get("note", ""),
        )


def losses(mark0: np.ndarray, mark1: np.ndarray, side: str) -> np.ndarray:
    """A long loses when the mark falls, a short when it rises (USD per unit)."""
    if side == "long":
        return np.asarray(mark0, dtype=np.float64) - np.asarray(mark1, dtype=np.float64)
    if side == "short":
        return np.asarray(mark1, dtype=np.float64) - np.asarray(mark0, dtype=np.float64)
    raise ValueError(f"side must be long or short, got {side!r}")


def in_uri(t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """True where the horizon [t0, t1) overlaps the Uri window."""
    return (np.asarray(t0) < URI[1]) & (np.asarray(t1) > URI[0])


def _midnight(day: dt.date, tz: str) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp())


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _add_month(y: int, m: int, n: int) -> tuple[int, int]:
    k = y * 12 + (m - 1) + n
    return k // 12, k % 12 + 1


def _safe_mark(valuer: Valuer, spec: dict, t: int) -> float | None:
    try:
        return valuer.mark(spec, t).price_usd
    except OracleError:  # no data behind the estimate (before the data starts): no observation
        return None


def _rows_from_marks(times: list[int], marks: list[float | None], label: str, rows: list) -> None:
    for i in range(len(times) - 1):
        if marks[i] is not None and marks[i + 1] is not None:
            rows.append((label, times[i], marks[i], marks[i + 1], times[i + 1]))


def _series(key, kind, period, iso, node, profile, rows, note="") -> Series:
    rows.sort(key=lambda r: (r[1], r[0]))
    t1 = np.asarray([r[4] for r in rows], dtype=np.int64)
    t0 = np.asarray([r[1] for r in rows], dtype=np.int64)
    return Series(
        key,
        kind,
        period,
        iso,
        node,
        profile,
        np.asarray([r[0] for r in rows]),
        t0,
        np.asarray([r[2] for r in rows], dtype=np.float64),
        np.asarray([r[3] for r in rows], dtype=np.float64),
        in_uri(t0, t1),
        note,
    )


def power_short_dated(valuer: Valuer, iso: str, node: str, period: str) -> Series:
    """Hourly (hour ``HOURLY_HOUR`` local) or daily ATC contracts delivered on day D: valued at
    00:00 of D-1 (before D's day-ahead auction) and at 00:00 of D (D's DA prices known)."""
    cfg = ISOS[iso]
    tz = cfg["tz"]
    first = cfg["start"] + dt.timedelta(days=LOOKBACK_DAYS + 1)
    rows: list = []
    for day in _days(first, cfg["end"]):
        d0 = _midnight(day, tz)
        if period == "hour":
            s = int(dt.datetime(day.year, day.month, day.day, HOURLY_HOUR, tzinfo=ZoneInfo(tz)).timestamp())
            spec = power_spec(iso, node, "DA", "HOURLY", s, s + 3600, tz)
        else:
            spec = power_spec(iso, node, "DA", "ATC", d0, _midnight(day + dt.timedelta(days=1), tz), tz)
        t0 = _midnight(day - dt.timedelta(days=1), tz)
        m0, m1 = _safe_mark(valuer, spec, t0), _safe_mark(valuer, spec, d0)
        if m0 is not None and m1 is not None:
            rows.append((day.isoformat(), t0, m0, m1, d0))
    prof = "HOURLY" if period == "hour" else "ATC"
    label = f"{iso} {node} {f'HE{HOURLY_HOUR + 1:02d}' if period == 'hour' else 'ATC'} {period}"
    return _series(label, "POWER", period, iso, node, prof, rows)


def power_month(valuer: Valuer, iso: str, node: str, profile: str) -> Series:
    """Monthly contracts: listed at the start of the month before delivery (offset 1) and
    traded to the end of delivery, valued every local midnight in between."""
    cfg = ISOS[iso]
    tz = cfg["tz"]
    first = cfg["start"] + dt.timedelta(days=LOOKBACK_DAYS)
    last = cfg["end"] - dt.timedelta(days=1)  # the next day's DA prices must be in the data
    rows: list = []
    y, m = _add_month(first.year, first.month, 0)
    while dt.date(*_add_month(y, m, -1), 1) <= last:
        s, e = month_window(y, m, tz)
        spec = power_spec(iso, node, "DA", profile, s, e, tz)
        ly, lm = _add_month(y, m, -1)
        days = [d for d in _days(max(dt.date(ly, lm, 1), first), min(dt.date(*_add_month(y, m, 1), 1), last))]
        times = [_midnight(d, tz) for d in days]
        _rows_from_marks(times, [_safe_mark(valuer, spec, t) for t in times], f"{y}-{m:02d}", rows)
        y, m = _add_month(y, m, 1)
    return _series(f"{iso} {node} {profile} month", "POWER", "month", iso, node, profile, rows)


def compute_month(valuer: Valuer, gpu: str, tz: str = "UTC") -> Series:
    """Monthly COMPUTE contracts (Nov and Dec 2025, the months the GPU data can mark) valued
    every midnight in ``tz`` from GPU_DAYS[0] to GPU_DAYS[1]."""
    rows: list = []
    days = _days(*GPU_DAYS)
    times = [_midnight(d, tz) for d in days]
    for y, m in ((2025, 11), (2025, 12)):
        s, e = month_window(y, m, tz)
        spec = compute_spec(gpu, s, e)
        _rows_from_marks(times, [_safe_mark(valuer, spec, t) for t in times], f"{y}-{m:02d}", rows)
    where = "" if tz == "UTC" else f" ({tz} months)"
    return _series(f"{gpu} month{where}", "COMPUTE", "month", None, None, None, rows)


def spread_pairs(compute: Series, power: Series, ratio: float = SPREAD_RATIO) -> Series:
    """SPREAD = compute - ratio x power, over every pairing of a compute day with a power day
    (no joint history exists; the legs are taken as independent)."""
    i, j = np.meshgrid(np.arange(len(compute)), np.arange(len(power)), indexing="ij")
    i, j = i.ravel(), j.ravel()
    return Series(
        f"H100-SXM / {power.node} spread month",
        "SPREAD",
        "month",
        power.iso,
        power.node,
        "ATC",
        np.asarray([f"{a}|{b}" for a, b in zip(compute.contract[i], power.contract[j], strict=True)]),
        power.t0[j],
        compute.mark0[i] - ratio * power.mark0[j],
        compute.mark1[i] - ratio * power.mark1[j],
        power.uri[j],
        f"{len(compute)} GPU days x {len(power)} power days",
        len(compute),
        len(np.unique(compute.t0)),
    )


def collect(valuer: Valuer | None = None, log=print) -> dict[str, Series]:
    """Every series of the backtest, keyed by ``Series.key``."""
    valuer = valuer or Valuer(ReplaySource())
    out: dict[str, Series] = {}

    def add(s: Series) -> Series:
        out[s.key] = s
        log(f"  {s.key}: {len(s)} days")
        return s

    for iso, cfg in ISOS.items():
        for node in cfg["nodes"]:
            add(power_short_dated(valuer, iso, node, "hour"))
            add(power_short_dated(valuer, iso, node, "day"))
            for prof in ("ATC", "PEAK", "OFFPEAK"):
                add(power_month(valuer, iso, node, prof))
    for gpu in GPUS:
        add(compute_month(valuer, gpu))
    leg = add(compute_month(valuer, "H100-SXM", CT))
    out["_spread_compute_leg"] = out.pop(leg.key)
    return out


def with_spread(series: dict[str, Series]) -> dict[str, Series]:
    out = {k: v for k, v in series.items() if not k.startswith("_")}
    sp = spread_pairs(series["_spread_compute_leg"], series["ERCOT HB_WEST ATC month"])
    out[sp.key] = sp
    return out


# --------------------------------------------------------------------------- the backtest maths


@dataclass(frozen=True)
class Level:
    """A requirement per unit: ``fixed`` USD + ``rate`` x |mark|."""

    fixed: float
    rate: float

    def of(self, mark: np.ndarray | float) -> np.ndarray:
        return self.fixed + self.rate * np.abs(np.asarray(mark, dtype=np.float64))

    def scaled(self, k: float) -> Level:
        return Level(self.fixed * k, min(self.rate * k, 1.0))


@dataclass(frozen=True)
class SideLevels:
    im: Level
    mm: Level


@dataclass
class SideResult:
    """One series, one side, one set of levels."""

    n: int  # observations outside the Uri window
    mm_exceeded: int
    im_exceeded: int
    worst: float  # largest loss outside Uri, USD per unit
    n_uri: int = 0
    uri_mm_exceeded: int = 0
    uri_worst: float = 0.0
    uri_deficit: float = 0.0  # sum over Uri days of max(0, loss - MM), USD per unit

    @property
    def mm_coverage(self) -> float:
        return 1.0 - self.mm_exceeded / self.n if self.n else float("nan")

    @property
    def im_coverage(self) -> float:
        return 1.0 - self.im_exceeded / self.n if self.n else float("nan")


def backtest_side(mark0, mark1, uri, side: str, levels: SideLevels) -> SideResult:
    """Count the days whose loss exceeded MM (and IM), outside the Uri window; the Uri days
    are counted apart with the loss beyond MM that an account at exactly MM leaves behind."""
    loss = losses(mark0, mark1, side)
    mark0 = np.asarray(mark0, dtype=np.float64)
    uri = np.asarray(uri, dtype=bool)
    mm, im = levels.mm.of(mark0), levels.im.of(mark0)
    ex, u = ~uri, uri
    over = np.maximum(loss - mm, 0.0)
    return SideResult(
        int(ex.sum()),
        int((loss[ex] > mm[ex]).sum()),
        int((loss[ex] > im[ex]).sum()),
        float(loss[ex].max()) if ex.any() else 0.0,
        int(u.sum()),
        int((loss[u] > mm[u]).sum()),
        float(loss[u].max()) if u.any() else 0.0,
        float(over[u].sum()),
    )


def fit_side(
    mark0, mark1, uri, side: str, rates=RATES, quantile=FIT_QUANTILE, small: bool | None = None, min_rate: float = 0.0
) -> Level:
    """The (fixed, rate) MM that covers ``quantile`` of the days outside Uri at the lowest
    average requirement per unit of notional.

    For each rate on the grid (at least ``min_rate``) the fixed part is the ``quantile`` of
    ``loss - rate x |mark|`` (at least 0); the pair whose mean of requirement / |mark| is lowest
    wins (|mark| floored at 10% of its median, so days near zero do not dominate): what a
    hedger pays per dollar hedged. With a short history (``small``; default: fewer than
    SMALL_SAMPLE days) no 99% quantile can be told from the maximum, so every day is covered
    with SMALL_HEADROOM x its loss instead."""
    loss = losses(mark0, mark1, side)
    ex = ~np.asarray(uri, dtype=bool)
    loss, absm = loss[ex], np.abs(np.asarray(mark0, dtype=np.float64)[ex])
    if loss.size == 0:
        raise ValueError("no observation outside the Uri window")
    if small is None:
        small = loss.size < SMALL_SAMPLE
    scale = np.maximum(absm, 0.1 * float(np.median(absm))) if np.median(absm) > 0 else np.ones_like(absm)
    best: tuple[float, Level] | None = None
    for r in rates:
        if r < min_rate:
            continue
        if small:
            fixed = float(np.max(SMALL_HEADROOM * loss - r * absm))
        else:
            fixed = float(np.quantile(loss - r * absm, quantile, method="higher"))
        lvl = Level(max(fixed, 0.0), float(r))
        cost = float(np.mean(lvl.of(absm) / scale))
        if best is None or cost < best[0] - 1e-12:
            best = (cost, lvl)
    if best is None:
        raise ValueError(f"no rate on the grid reaches min_rate {min_rate}")
    return best[1]


def history_days(s: Series) -> int:
    """Distinct days of history behind a series: for the spread, the GPU leg's (the shorter)."""
    return s.history or len(np.unique(s.t0))


def nice_up(x: float, sig: int = 2) -> float:
    """Round up to ``sig`` significant digits (a level people can read, never below the fit)."""
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x)) - sig + 1
    return math.ceil(round(x / 10**e, 9)) * 10**e


def proposed_levels(s: Series, side: str, floor: float) -> SideLevels:
    small = history_days(s) < SMALL_SAMPLE
    # weeks of one calm period (PJM, GPU) say little about the next: a rate of at least
    # SHORT_HISTORY_MIN_RATE keeps the requirement moving with the price (a judgement, stated)
    mm = fit_side(s.mark0, s.mark1, s.uri, side, small=small, min_rate=SHORT_HISTORY_MIN_RATE if small else 0.0)
    mm = Level(max(nice_up(mm.fixed), floor), mm.rate)
    return SideLevels(mm.scaled(IM_OVER_MM), mm)


def best_credit(loss: np.ndarray, requirement: np.ndarray, target: float = TARGET, credits=CREDITS) -> float:
    """The largest credit c on the grid whose requirement (1 - c) x ``requirement`` still covers
    ``target`` of the days; 0 when even no credit does not."""
    ok = 0.0
    for c in credits:
        if np.mean(loss <= (1 - c) * requirement) >= target:
            ok = c
        else:
            break
    return ok


# --------------------------------------------------------------------------- today's levels


def _default_entries() -> list[dict]:
    return json.loads(DEFAULT.read_text())["markets"]


def _lv(e: dict, which: str) -> Level:
    return Level(float(e[f"{which}_fixed"]), float(e[f"{which}_rate"]))


def today_levels(s: Series, entries: list[dict]) -> tuple[SideLevels, str]:
    """Today's symmetric levels for a series: its own listed market's, else the listed market of
    the same kind and period (same ISO first), marked "(analog)"."""

    def pick(pred):
        return next((e for e in entries if pred(e)), None)

    spec = lambda e: e["spec"]  # noqa: E731
    per = lambda e: e.get("delivery", {}).get("period")  # noqa: E731
    own = None
    if s.kind == "POWER":
        own = pick(
            lambda e: (
                spec(e)["kind"] == "POWER"
                and spec(e)["iso"] == s.iso
                and spec(e)["node"] == s.node
                and spec(e)["profile"] == s.profile
                and per(e) == s.period
            )
        )
        src = own or pick(lambda e: spec(e)["kind"] == "POWER" and spec(e)["iso"] == s.iso and per(e) == s.period)
        src = src or pick(lambda e: spec(e)["kind"] == "POWER" and per(e) == s.period)
    elif s.kind == "COMPUTE":
        own = pick(lambda e: spec(e)["kind"] == "COMPUTE" and s.key.startswith(spec(e)["gpu"] + " "))
        src = own
    else:
        own = pick(lambda e: spec(e)["kind"] == "SPREAD")
        src = own
    if src is None:
        raise LookupError(f"no market in markets/default.json to compare {s.key} with")
    return SideLevels(_lv(src, "im"), _lv(src, "mm")), "" if own is not None else " (analog)"


# --------------------------------------------------------------------------- report


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _usd(x: float, unit_small: bool) -> str:
    return f"{x:,.3f}" if unit_small else f"{x:,.2f}"


def _pct(x: float) -> str:
    return "—" if math.isnan(x) else f"{100 * x:.1f}%"


def _lvl(lv: Level, small: bool) -> str:
    return f"{_usd(lv.fixed, small)} + {100 * lv.rate:g}%"


@dataclass
class Analysis:
    series: dict[str, Series]
    today: dict[str, tuple[SideLevels, str]] = field(default_factory=dict)
    proposal: dict[str, dict[str, SideLevels]] = field(default_factory=dict)
    res_today: dict[tuple[str, str], SideResult] = field(default_factory=dict)
    res_new: dict[tuple[str, str], SideResult] = field(default_factory=dict)


def _floor(s: Series) -> float:
    # a fixed part keeps a requirement where the mark is near zero: at least 1% of the median level
    return nice_up(0.01 * float(np.median(np.abs(s.mark0))), 1)


def analyse(series: dict[str, Series]) -> Analysis:
    a = Analysis(series)
    entries = _default_entries()
    for key, s in series.items():
        a.today[key] = today_levels(s, entries)
        a.proposal[key] = {}
        for side in SIDES:
            a.proposal[key][side] = proposed_levels(s, side, _floor(s))
            a.res_today[(key, side)] = backtest_side(s.mark0, s.mark1, s.uri, side, a.today[key][0])
            a.res_new[(key, side)] = backtest_side(s.mark0, s.mark1, s.uri, side, a.proposal[key][side])
    return a


def backtest_table(a: Analysis) -> str:
    rows = []
    for key, s in a.series.items():
        small = s.kind != "POWER"
        today, analog = a.today[key]
        for side in SIDES:
            rt, rn = a.res_today[(key, side)], a.res_new[(key, side)]
            p = a.proposal[key][side]
            rows.append(
                [
                    key,
                    side,
                    f"{rt.n:,} pairings" if s.kind == "SPREAD" else f"{rt.n:,}",
                    _usd(float(np.median(np.abs(s.mark0))), small),
                    _usd(rt.worst, small),
                    f"{_lvl(today.mm, small)}{analog}",
                    f"{_pct(rt.mm_coverage)} / {_pct(rt.im_coverage)}",
                    _lvl(p.mm, small),
                    _lvl(p.im, small),
                    f"{_pct(rn.mm_coverage)} / {_pct(rn.im_coverage)}",
                ]
            )
    return _table(
        [
            "series",
            "side",
            "days (ex-Uri)",
            "median mark",
            "worst 1-day loss",
            "today MM",
            "today coverage MM / IM",
            "proposed MM",
            "proposed IM",
            "proposed coverage MM / IM",
        ],
        rows,
    )


def listed_table(a: Analysis) -> str:
    """The markets markets/default.json lists: today's symmetric levels against the proposal."""
    rows = []
    for key, s in a.series.items():
        today, analog = a.today[key]
        if analog:
            continue
        small = s.kind != "POWER"
        p = a.proposal[key]
        rows.append(
            [
                key,
                f"{_lvl(today.im, small)} / {_lvl(today.mm, small)}",
                f"{_lvl(p['long'].im, small)} / {_lvl(p['long'].mm, small)}",
                f"{_lvl(p['short'].im, small)} / {_lvl(p['short'].mm, small)}",
            ]
        )
    return _table(
        ["listed market (series)", "today IM / MM (both sides)", "proposed long IM / MM", "proposed short IM / MM"],
        rows,
    )


def uri_table(a: Analysis) -> str:
    rows = []
    for key, s in a.series.items():
        if not s.uri.any():
            continue
        small = s.kind != "POWER"
        for side in SIDES:
            rt, rn = a.res_today[(key, side)], a.res_new[(key, side)]
            if rt.uri_worst <= 0:
                continue
            cells = [key, side, f"{rt.n_uri // s.paths:,}", _usd(rt.uri_worst, small)]
            for r in (rt, rn):
                deficit = r.uri_deficit * URI_BOOK_UNITS / s.paths
                fund = min(deficit, URI_FUND_USD)
                cells += [
                    f"{r.uri_mm_exceeded / s.paths:,.1f}",
                    f"{deficit:,.0f}",
                    f"{fund:,.0f}",
                    f"{deficit - fund:,.0f}",
                ]
            rows.append(cells)
    return _table(
        [
            "series",
            "side",
            "Uri days",
            "worst 1-day loss",
            "today: days > MM",
            "today: deficit",
            "fund pays",
            "ADL assigns",
            "proposed: days > MM",
            "proposed: deficit",
            "fund pays",
            "ADL assigns",
        ],
        rows,
    )


def summary_table(a: Analysis) -> str:
    keys = list(a.series)
    n = len(keys) * 2
    ok_today = sum(a.res_today[(k, s)].mm_coverage >= TARGET for k in keys for s in SIDES)
    ok_new = sum(a.res_new[(k, s)].mm_coverage >= TARGET for k in keys for s in SIDES)
    small = sum(history_days(a.series[k]) < SMALL_SAMPLE for k in keys for s in SIDES)
    return _table(
        [
            "series x side",
            "today's MM reaches 99% ex-Uri",
            "proposed MM reaches 99% ex-Uri",
            "fitted on < 200 days of history",
        ],
        [[str(n), str(ok_today), str(ok_new), str(small)]],
    )


# --------------------------------------------------------------------------- offsets


@dataclass
class Offset:
    """Credit for opposite positions in two correlated series (``ratio`` units of b per unit of a)."""

    a: str
    b: str
    ratio: float
    days: int
    corr: float  # correlation of the legs' daily moves outside Uri (b scaled by ratio)
    credit: float  # fraction of the two legs' summed requirement waived
    coverage: dict[str, float]  # per direction, MM coverage of the pair with the credit
    uri_worst: float  # the pair's worst Uri-day loss per unit of a
    uri_req: float  # the credited requirement on that day
    evidence: str = ""


def _aligned(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of a and b with the same contract and valuation time."""
    ib = {(c, int(t)): i for i, (c, t) in enumerate(zip(b.contract, b.t0, strict=True))}
    pairs = [(i, ib[(c, int(t))]) for i, (c, t) in enumerate(zip(a.contract, a.t0, strict=True)) if (c, int(t)) in ib]
    ia, jb = (np.asarray(x, dtype=np.int64) for x in zip(*pairs, strict=True)) if pairs else (np.zeros(0, int),) * 2
    return ia, jb


def offset_pair(
    a: Series, b: Series, ia: np.ndarray, jb: np.ndarray, ratio: float, prop: dict[str, dict[str, SideLevels]]
) -> Offset:
    """1 unit of a against ``ratio`` units of b held the other way (a negative ratio: |ratio| units
    held the same way), both directions. The pair's
    requirement without credit is the two legs' proposed MM; the credit is the largest on the
    grid that keeps 99% coverage outside Uri in BOTH directions."""
    da = a.mark1[ia] - a.mark0[ia]
    db = b.mark1[jb] - b.mark0[jb]
    uri = a.uri[ia] | b.uri[jb]
    ex = ~uri
    # a short history (PJM, GPU) cannot tell a 99% quantile from its maximum: as for the levels,
    # the credited requirement must then cover every day with SMALL_HEADROOM x its loss
    small = min(history_days(a), history_days(b)) < SMALL_SAMPLE
    headroom, target = (SMALL_HEADROOM, 1.0) if small else (1.0, TARGET)
    credits, cover, worst, worst_req = [], {}, 0.0, 0.0
    for side_a in SIDES:
        # b is held against a: the other side for a positive ratio, the same side for a negative one
        side_b = side_a if ratio < 0 else ("short" if side_a == "long" else "long")
        sign = 1.0 if side_a == "long" else -1.0
        loss = -sign * (da - ratio * db)  # 1 of a and -ratio of b (signed like a): a's move net of b's
        req = prop[a.key][side_a].mm.of(a.mark0[ia]) + abs(ratio) * prop[b.key][side_b].mm.of(b.mark0[jb])
        credits.append(best_credit(headroom * loss[ex], req[ex], target))
        cover[f"{side_a} {a.key} / {side_b} {b.key}"] = (loss, req)
        if uri.any():
            k = int(np.argmax(np.where(uri, loss, -np.inf)))
            if loss[k] > worst:
                worst, worst_req = float(loss[k]), float(req[k])
    c = min(credits)
    coverage = {k: float(np.mean(lo[ex] <= (1 - c) * r[ex])) for k, (lo, r) in cover.items()}
    corr = float(np.corrcoef(da[ex], ratio * db[ex])[0, 1]) if ex.sum() > 2 else float("nan")
    return Offset(a.key, b.key, ratio, int(ex.sum()), corr, c, coverage, worst, (1 - c) * worst_req)


def offsets(a: Analysis) -> list[Offset]:
    out = []
    for iso, cfg in ISOS.items():
        for node in cfg["nodes"]:
            pk, atc = a.series.get(f"{iso} {node} PEAK month"), a.series.get(f"{iso} {node} ATC month")
            if pk is None or atc is None:
                continue
            ia, jb = _aligned(pk, atc)
            o = offset_pair(pk, atc, ia, jb, 1.0, a.proposal)
            o.evidence = "same node and delivery month, valued at the same midnights"
            out.append(o)
    sp = next(s for s in a.series.values() if s.kind == "SPREAD")
    pw = a.series[f"ERCOT {sp.node} ATC month"]
    # every pairing row j of the spread used power row j % len(pw)
    jb = np.arange(len(sp)) % len(pw)
    o = offset_pair(sp, pw, np.arange(len(sp)), jb, -SPREAD_RATIO, a.proposal)
    o.evidence = (
        "the spread's power leg IS this contract (same node, profile, month); the pair nets to the GPU leg. "
        "Pairings of independent GPU and power days (no joint history)"
    )
    out.append(o)
    return out


def offsets_table(offs: list[Offset]) -> str:
    rows = []
    for o in offs:
        ratio = f"{abs(o.ratio):g}" + (" (same direction)" if o.ratio < 0 else "")
        rows.append(
            [
                o.a,
                o.b,
                ratio,
                f"{o.days:,} pairings" if o.ratio < 0 else f"{o.days:,}",
                f"{o.corr:+.3f}",
                f"{100 * o.credit:.0f}%",
                " / ".join(_pct(v) for v in o.coverage.values()),
                f"{o.uri_worst:,.2f} vs {o.uri_req:,.2f}" if o.uri_worst else "—",
            ]
        )
    return _table(
        [
            "leg a",
            "leg b",
            "units of b per unit of a",
            "days (ex-Uri)",
            "corr. of daily moves",
            "credit",
            "coverage with credit (both directions)",
            "worst Uri-day pair loss vs credited MM",
        ],
        rows,
    )


# --------------------------------------------------------------------------- the planner's own cases


class OfflineReader:
    """The slice of :class:`sdk.reader.Reader` that :mod:`sdk.hedge` reads, over markets resolved
    from markets/default.json at a data-time clock and marks from the backtest's own valuations,
    so the planner's real code plans each case with no chain."""

    def __init__(self, markets: list, marks: dict[int, int], now: int, fees: tuple[int, int]):
        self._markets = {m.id: m for m in markets}
        self._marks, self._now, self._fees = marks, now, fees

    def find_markets(self, kind=None, **fields):
        out = []
        for m in self._markets.values():
            if (kind is None or m.kind == kind) and spec_matches(m.spec, **fields):
                out.append(m)
        return out

    def _static_market(self, mid):
        return self._markets[mid]

    def mark(self, mid):
        from sdk.models import Mark

        have = mid in self._marks
        return Mark(mid, self._markets[mid].mark_feed, self._marks.get(mid, 0), self._now if have else 0, have)

    def fees_bps(self):
        return self._fees

    def now(self):
        return self._now

    def account(self, address):
        raise LookupError("offline planning holds no account")

    def stale_error(self, market, action=None):
        from sdk.errors import StaleMarket

        return StaleMarket(f"{action}: {market.symbol} has no mark", market_id=market.id, feed_id=market.mark_feed)


FEES_BPS = (2, 5)  # maker, taker: scripts/deploy.py's MAKER_FEE_BPS / TAKER_FEE_BPS (importing it needs ape)
GPU_COUNT = 64  # the dashboard's compute-spread case
POWER_MW = 5  # the 5 MW long power month
PLAN_DAY = 15  # plans are made on the 15th of the month before delivery, 00:00 local


def _markets_at(now: int) -> list:
    from scripts._markets import load_markets
    from sdk.models import Market

    out = []
    for i, lm in enumerate(load_markets(None, now)):
        e = lm.manifest_entry(i + 1)
        out.append(
            Market(
                e["id"],
                e["symbol"],
                e["kind"],
                e["spec"],
                e["spec_hash"],
                e["mark_feed"],
                e["settlement_feed"],
                **e["params"],
            )
        )
    return out


def _mark_at(s: Series, contract: str, t: int) -> float | None:
    k = np.flatnonzero((s.contract == contract) & (s.t0 == t))
    return float(s.mark0[k[0]]) if k.size else None


@dataclass
class PlanCase:
    month: str
    mark: float  # USD per unit
    notional: float  # USD
    today_im: float
    new_im: float
    today_needed: float  # the planner's margin_needed (IM + the limit's loss against the mark)
    uri: bool


def planner_cases(a: Analysis, raw_compute_leg: Series) -> dict[str, list[PlanCase]]:
    """Plan both cases with sdk.hedge on every delivery month the data can mark."""
    from core import units as u
    from sdk import hedge

    peak = a.series["ERCOT HB_WEST PEAK month"]
    atc = a.series["ERCOT HB_WEST ATC month"]
    spread_key = next(k for k, s in a.series.items() if s.kind == "SPREAD")
    gpu_t = _midnight(dt.date(2025, 11, PLAN_DAY), CT)
    gpu_mark = _mark_at(raw_compute_leg, "2025-12", gpu_t)
    fees = FEES_BPS
    out: dict[str, list[PlanCase]] = {"spread": [], "power": []}
    for y in (2021, 2022):
        for m in range(1, 13):
            py, pm = _add_month(y, m, -1)
            now = _midnight(dt.date(py, pm, PLAN_DAY), CT)
            label = f"{y}-{m:02d}"
            pk, at = _mark_at(peak, label, now), _mark_at(atc, label, now)
            if pk is None or at is None or gpu_mark is None:
                continue
            markets = _markets_at(now)
            mp = next(
                x for x in markets if x.kind == "POWER" and x.spec["profile"] == "PEAK" and x.spec["node"] == "HB_WEST"
            )
            ms = next(x for x in markets if x.kind == "SPREAD")
            spread_mark = gpu_mark - SPREAD_RATIO * at
            marks = {mp.id: u.float_usd_to_base(pk), ms.id: u.float_usd_to_base(spread_mark)}
            reader = OfflineReader(markets, marks, now, fees)
            uri = (y, m) == (2021, 2)
            hours = Decimal(ms.delivery_end - ms.delivery_start) / 3600
            plan = hedge.hedge_compute_spread(reader, "H100-SXM", "HB_WEST", GPU_COUNT * hours, ms.period)
            out["spread"].append(_case(plan, spread_mark, a.today[spread_key][0], a.proposal[spread_key], label, uri))
            plan = hedge.hedge_power(reader, "HB_WEST", POWER_MW, "PEAK", mp.period, side="buy")
            key = "ERCOT HB_WEST PEAK month"
            out["power"].append(_case(plan, pk, a.today[key][0], a.proposal[key], label, uri))
    return out


def _case(plan, mark: float, today: SideLevels, prop: dict[str, SideLevels], label: str, uri: bool) -> PlanCase:
    (o,) = plan.orders
    q = float(o.quantity)
    side = "long" if o.side == "buy" else "short"
    return PlanCase(
        label,
        mark,
        abs(float(o.notional)),
        q * float(today.im.of(mark)),
        q * float(prop[side].im.of(mark)),
        float(plan.margin_needed),
        uri,
    )


def planner_table(cases: dict[str, list[PlanCase]]) -> str:
    rows = []
    names = {
        "spread": f"{GPU_COUNT} H100 GPUs, sell the HB_WEST compute spread for a month (goal IM <= 25% of notional)",
        "power": f"{POWER_MW} MW long HB_WEST PEAK for a month (goal IM <= 30% of notional)",
    }
    for key, cs in cases.items():
        for tag, sel in (
            ("months outside Uri, median", [c for c in cs if not c.uri]),
            ("Feb 2021 (Uri)", [c for c in cs if c.uri]),
        ):
            if not sel:
                continue
            if len(sel) > 1:
                mid = sorted(sel, key=lambda c: c.today_im / c.notional)[len(sel) // 2]
                worst_new = max(c.new_im / c.notional for c in sel)
                worst_today = max(c.today_im / c.notional for c in sel)
            else:
                mid = sel[0]
                worst_new, worst_today = mid.new_im / mid.notional, mid.today_im / mid.notional
            rows.append(
                [
                    names[key],
                    f"{tag} ({len(sel)} month{'s' * (len(sel) > 1)})",
                    f"{mid.mark:,.4f}" if key == "spread" else f"{mid.mark:,.2f}",
                    f"{mid.notional:,.0f}",
                    f"{mid.today_im:,.0f} ({100 * mid.today_im / mid.notional:.0f}%; worst {100 * worst_today:.0f}%)",
                    f"{mid.new_im:,.0f} ({100 * mid.new_im / mid.notional:.0f}%; worst {100 * worst_new:.0f}%)",
                ]
            )
    return _table(["case (sdk.hedge plan)", "months", "mark USD", "notional USD", "IM today", "IM proposed"], rows)


# --------------------------------------------------------------------------- doc + data plumbing


def render(doc: str, secs: dict[str, str]) -> str:
    return render_sections(doc, secs, "docs/markets.md")


def _dec(x: float, places: int) -> str:
    return format(Decimal(repr(round(x, places))).normalize(), "f") if x else "0"


def proposal_json(a: Analysis, offs: list[Offset]) -> dict:
    out = {
        "about": (
            "Proposed per-side margin levels, generated by `make margins` (scripts/margins.py) from the "
            "vendored data; the deploy does NOT read this file yet (the contracts margin long and short "
            "alike). Per series: long = the down-price scenario, short = the up-price scenario; each "
            "requirement per unit = *_fixed USD + *_rate x |mark|. Offsets: credit = the fraction of the "
            "matched legs' summed requirement waived for opposite positions of the stated ratio."
        ),
        "method": {
            "horizon_days": 1,
            "coverage_target": TARGET,
            "fit_quantile": FIT_QUANTILE,
            "im_over_mm": IM_OVER_MM,
            "uri_window_utc": [URI[0], URI[1]],
        },
        "series": {},
    }
    for key, s in a.series.items():
        places = 2 if s.kind == "POWER" else 4
        sides = {}
        for side in SIDES:
            p = a.proposal[key][side]
            r = a.res_new[(key, side)]
            sides[side] = {
                "im_fixed": _dec(p.im.fixed, places),
                "im_rate": _dec(p.im.rate, 4),
                "mm_fixed": _dec(p.mm.fixed, places),
                "mm_rate": _dec(p.mm.rate, 4),
                "days": r.n,
                "mm_coverage": round(r.mm_coverage, 4),
                "im_coverage": round(r.im_coverage, 4),
            }
        out["series"][key] = {
            "kind": s.kind,
            "period": s.period,
            "iso": s.iso,
            "node": s.node,
            "profile": s.profile,
            "listed_in_default_json": a.today[key][1] == "",
            "history_days": history_days(s),
            **sides,
        }
    out["offsets"] = [
        {
            "a": o.a,
            "b": o.b,
            "b_units_per_a": _dec(abs(o.ratio), 6),
            "direction": "same" if o.ratio < 0 else "opposite",
            "credit": _dec(o.credit, 2),
            "days": o.days,
            "corr_daily_moves": round(o.corr, 4),
            "coverage": {k: round(v, 4) for k, v in o.coverage.items()},
            "evidence": o.evidence,
        }
        for o in offs
    ]
    return out


def save_cache(path: Path, series: dict[str, Series]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        json.dump({k: v.as_json() for k, v in series.items()}, f)


def load_cache(path: Path) -> dict[str, Series]:
    with gzip.open(path, "rt") as f:
        return {k: Series.from_json(v) for k, v in json.load(f).items()}


def sections(a: Analysis, offs: list[Offset], cases: dict[str, list[PlanCase]]) -> dict[str, str]:
    return {
        "margins-summary": summary_table(a),
        "margins-listed": listed_table(a),
        "margins-backtest": backtest_table(a),
        "margins-uri": uri_table(a),
        "margins-offsets": offsets_table(offs),
        "margins-planner": planner_table(cases),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.margins", description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="rewrite docs/markets.md's sections and markets/margins.json")
    g.add_argument("--check", action="store_true", help="exit 1 if either is not what this run produces")
    p.add_argument("--cache", type=Path, help="marks cache (read if present, else written); development only")
    a = p.parse_args(argv)
    log = lambda *x: print(*x, file=sys.stderr)  # noqa: E731
    if a.cache and a.cache.exists():
        raw = load_cache(a.cache)
    else:
        log("valuing every contract once a day through oracle.valuation.Valuer ...")
        raw = collect(log=log)
        if a.cache:
            save_cache(a.cache, raw)
    an = analyse(with_spread(raw))
    offs = offsets(an)
    secs = sections(an, offs, planner_cases(an, raw["_spread_compute_leg"]))
    prop = json.dumps(proposal_json(an, offs), indent=1) + "\n"
    if not (a.write or a.check):
        for name, body in secs.items():
            print(f"## {name}\n\n{body}\n")
        return 0
    doc = DOC.read_text()
    new = render(doc, secs)
    if a.check:
        stale = [
            str(f.relative_to(ROOT))
            for f, old, fresh in ((DOC, doc, new), (PROPOSAL, PROPOSAL.read_text() if PROPOSAL.exists() else "", prop))
            if old != fresh
        ]
        if stale:
            print(f"out of date: {', '.join(stale)}: run `make margins`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    PROPOSAL.write_text(prop)
    print(f"wrote {len(secs)} sections to {DOC.relative_to(ROOT)} and {PROPOSAL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
