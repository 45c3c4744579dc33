"""Basis and hedge effectiveness of an operator's own price against a listed contract's index.

An operator's revenue or cost is priced at *their* node or rental rate; the contract settles on
the index. Held to settlement, a short future locks in its price F and pays F - index, so the
operator's per-period outcome is

    unhedged:  own                     (what they get or pay without the hedge)
    hedged:    own - h * index + h * F (F is fixed at trade time: it adds no variance)

so the risk left is the variance of ``own - h * index``: the basis when h = 1. Two measures:

* variance reduction of the one-for-one hedge: ``1 - Var(own - index) / Var(own)``;
* the minimum-variance hedge ratio ``h* = Cov(own, index) / Var(index)`` and its
  effectiveness ``R^2 = Corr(own, index)^2`` (= ``1 - Var(own - h* index) / Var(own)``),
  the regression measure hedge accounting uses (80-125% rule of thumb for h*).

Both series are per period (a day or a month) as the contract settles per window, so levels,
not price changes, are compared. Prices are exact Decimals (USD per unit); the statistics are
Decimal too (no float drift in what an operator reads). Input text is validated line by line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from core import units
from core.errors import InvalidAmount

#: most rows an upload may carry (ten years of days; a bigger file is refused, not truncated)
MAX_ROWS = 4_000
#: fewest overlapping periods for which the statistics are reported (fewer say nothing)
MIN_OVERLAP = 3

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")
_DATE_WORDS = ("date", "day", "month", "period", "time")


class BasisError(ValueError):
    """Input the operator must fix; the message names the line and what to write."""


@dataclass(frozen=True)
class History:
    """An operator's prices per period, in period order. ``granularity``: "day" or "month";
    ``periods``: ``2021-02-17`` or ``2021-02`` labels."""

    granularity: str
    prices: dict[str, Decimal]


def _period(text: str, line: int) -> tuple[str, str]:
    v = text.strip()
    if v[:10] and _DAY.fullmatch(v[:10]) and (len(v) == 10 or v[10] in "T "):
        try:
            dt.date.fromisoformat(v[:10])
        except ValueError:
            raise BasisError(f"line {line}: {text!r} is not a calendar date") from None
        if len(v) > 10:
            raise BasisError(
                f"line {line}: {text!r} has a time of day; give one price per day (YYYY-MM-DD) or per month (YYYY-MM)"
            )
        return v[:10], "day"
    if _MONTH.fullmatch(v):
        if not 1 <= int(v[5:]) <= 12:
            raise BasisError(f"line {line}: {text!r} is not a month")
        return v, "month"
    raise BasisError(f"line {line}: {text!r} is not a date: write 2021-02-17 (a day) or 2021-02 (a month)")


def _price(text: str, line: int) -> Decimal:
    try:
        return units.typed_decimal(text.strip().replace("$", ""))
    except InvalidAmount as e:
        sep = ":" if str(e).startswith("write") else ""
        raise BasisError(f"line {line}: price {text!r}{sep} {e}") from None


def parse_history(text: str) -> History:
    """Prices from pasted text or a CSV upload: one ``period,price`` per line (comma, semicolon
    or tab separated), an optional header line, ``#`` comments and blank lines skipped. Every
    period must be of one granularity and appear once; prices may be negative (power)."""
    if not text or not text.strip():
        raise BasisError("no prices given: paste lines like 2021-02-17,45.20 or upload a CSV with date,price")
    sample = text[:2048]
    delim = "\t" if "\t" in sample else ";" if ";" in sample and "," not in sample.split("\n")[0] else ","
    prices: dict[str, Decimal] = {}
    gran = None
    rows = 0
    for n, row in enumerate(csv.reader(io.StringIO(text), delimiter=delim), start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if rows == 0 and not prices and any(w in cells[0].lower() for w in _DATE_WORDS):
            continue  # the header
        cells = [c for c in cells if c != ""]
        if len(cells) != 2:
            raise BasisError(f"line {n}: expected two values, a period and a price (e.g. 2021-02-17,45.20); got {row}")
        period, g = _period(cells[0], n)
        if gran is None:
            gran = g
        elif g != gran:
            raise BasisError(f"line {n}: {period} is a {g} but earlier lines are {gran}s: use one granularity")
        if period in prices:
            raise BasisError(f"line {n}: {period} appears twice")
        prices[period] = _price(cells[1], n)
        rows += 1
        if rows > MAX_ROWS:
            raise BasisError(f"more than {MAX_ROWS:,} rows: upload at most {MAX_ROWS:,} periods at a time")
    if not prices:
        raise BasisError("no price lines found: write one period,price per line (2021-02-17,45.20)")
    return History(gran, dict(sorted(prices.items())))


@dataclass(frozen=True)
class BasisRow:
    period: str
    own: Decimal
    index: Decimal

    @property
    def basis(self) -> Decimal:
        """own - index, USD per unit."""
        return self.own - self.index


@dataclass(frozen=True)
class Effectiveness:
    """The statistics over the overlapping periods (None when fewer than MIN_OVERLAP, or when a
    series does not vary so a ratio is undefined)."""

    rows: tuple[BasisRow, ...]
    missing_index: tuple[str, ...]  # the operator's periods the index has no value for
    mean_basis: Decimal | None
    basis_sd: Decimal | None
    own_sd: Decimal | None
    variance_reduction: Decimal | None  # 1:1 hedge: 1 - Var(own - index) / Var(own)
    hedge_ratio: Decimal | None  # h* = Cov / Var(index)
    r_squared: Decimal | None  # effectiveness of h*


def _mean(xs: list[Decimal]) -> Decimal:
    return sum(xs, Decimal(0)) / len(xs)


def _var(xs: list[Decimal]) -> Decimal:
    m = _mean(xs)
    return sum(((x - m) ** 2 for x in xs), Decimal(0)) / (len(xs) - 1)


def _cov(xs: list[Decimal], ys: list[Decimal]) -> Decimal:
    mx, my = _mean(xs), _mean(ys)
    return sum(((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)), Decimal(0)) / (len(xs) - 1)


def effectiveness(own: Mapping[str, Decimal], index: Mapping[str, Decimal | None]) -> Effectiveness:
    """Basis per overlapping period and the hedge statistics. ``index``: the contract's index per
    period label (None where it has no value, e.g. a missing hour): those periods are listed in
    ``missing_index``, never filled in."""
    rows = tuple(BasisRow(p, own[p], index[p]) for p in own if index.get(p) is not None)
    missing = tuple(p for p in own if index.get(p) is None)
    if len(rows) < MIN_OVERLAP:
        return Effectiveness(rows, missing, None, None, None, None, None, None)
    o = [r.own for r in rows]
    i = [r.index for r in rows]
    b = [r.basis for r in rows]
    var_o, var_i, var_b = _var(o), _var(i), _var(b)
    vr = (1 - var_b / var_o) if var_o > 0 else None
    h = (_cov(o, i) / var_i) if var_i > 0 else None
    r2 = (_cov(o, i) ** 2 / (var_o * var_i)) if var_o > 0 and var_i > 0 else None
    return Effectiveness(rows, missing, _mean(b), var_b.sqrt(), var_o.sqrt(), vr, h, r2)
