"""Forward curves, strips and the settlement calendar from listed markets (issue 10 / issue 14.5).

Pure rules over market records, no chain: the SDK Reader, the CLI and the dashboard hand in
what they read (spec, window, mark, index, open interest, status) and get back the same
filtering, paging and grouping everywhere, so ``cspread curve`` and the dashboard's chart can
never disagree about what a strip is.

A *series* is a market without its delivery window (``core.series`` in issue 10): its symbol is
the market symbol without the trailing period label (``ERCOT.HB_WEST.DA.PEAK.2026-12`` ->
``ERCOT.HB_WEST.DA.PEAK``; ``H100-SXM.2026-12`` -> ``H100-SXM``). A *strip* is one series'
listed windows in delivery order, one point per window. The *settlement calendar* says, per
market, when trading stops, when the settlement value is fixed (delivery end: the oracle may
only observe it after that), when it can be final at the earliest (fixing + dispute window),
and at what value (the settled price, else the current mark as the expectation).

Prices stay integers in collateral base units (``*_units``) here; only core.units converts.
"""

from __future__ import annotations

import base64
import binascii
import calendar as _cal
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

#: market statuses as the Reader reports them (sdk.models.MarketStatus values)
STATUSES = ("live", "stale", "halted", "settling", "settled")
KINDS = ("POWER", "COMPUTE", "SPREAD")
#: most records one page returns (a client asking for more gets this many and a cursor)
MAX_PAGE = 500


class CurveError(ValueError):
    """A filter, page or window argument a user must fix (the message says how)."""


@dataclass(frozen=True)
class Record:
    """One listed market as the curve layer sees it. Prices in collateral base units per unit
    (may be negative), open interest in thousandths of a unit, times in unix seconds."""

    id: int
    symbol: str
    kind: str
    spec: dict[str, Any] = field(compare=False, hash=False)
    delivery_start: int
    delivery_end: int
    last_trade_time: int
    price_tick: int
    status: str = "live"
    mark_units: int | None = None  # None: never reported
    mark_observed_at: int = 0
    index_units: int | None = None  # the oracle reporters' off-chain value, None when not known
    open_interest_units: int = 0  # long OI, thousandths
    settlement_units: int | None = None  # the final settlement value once settled
    dispute_window: int = 0  # s a settlement value must stand before it is final

    @property
    def series(self) -> str:
        return series_symbol(self.symbol)

    @property
    def period(self) -> str:
        return self.symbol.rsplit(".", 1)[-1]

    @property
    def tz(self) -> str:
        return spec_tz(self.spec)

    @property
    def node(self) -> str | None:
        return self.spec.get("node") or (self.spec.get("power") or {}).get("node")

    @property
    def basis_units(self) -> int | None:
        """mark - index, base units per unit (None unless both are known)."""
        if self.mark_units is None or self.index_units is None:
            return None
        return self.mark_units - self.index_units


def series_symbol(symbol: str) -> str:
    """The market symbol without its period label (the issue-10 series symbol)."""
    return symbol.rsplit(".", 1)[0] if "." in symbol else symbol


def spec_tz(spec: dict[str, Any]) -> str:
    """The zone a market's windows are cut in: the power leg's for SPREAD, UTC for COMPUTE."""
    if spec.get("kind") == "SPREAD":
        return (spec.get("power") or {}).get("tz") or "UTC"
    return spec.get("tz") or "UTC"


def record(m: Any, index_units: int | None = None) -> Record:
    """A :class:`Record` from anything shaped like ``sdk.models.Market`` (duck-typed: core imports
    no SDK). ``index_units`` is the reporters' off-chain value of the market's mark feed."""
    status = getattr(m, "status", None)
    status = getattr(status, "value", status) or "live"
    mark = getattr(m, "mark", None)
    seen = bool(mark is not None and getattr(mark, "observed_at", 0))
    return Record(
        id=int(m.id),
        symbol=m.symbol,
        kind=m.kind,
        spec=dict(m.spec or {}),
        delivery_start=int(m.delivery_start),
        delivery_end=int(m.delivery_end),
        last_trade_time=int(m.last_trade_time),
        price_tick=int(m.price_tick),
        status=str(status),
        mark_units=int(mark.price_units) if seen else None,
        mark_observed_at=int(mark.observed_at) if seen else 0,
        index_units=None if index_units is None else int(index_units),
        open_interest_units=int(getattr(m, "long_open_interest", 0) or 0),
        settlement_units=getattr(m, "settlement_price_units", None),
        dispute_window=int(getattr(m, "dispute_window", 0) or 0),
    )


# --------------------------------------------------------------------------- filters


def terms(r: Record) -> set[str]:
    """The words a series answers to (upper case): kind, ISO, node, DA/RT, profile, GPU, region."""
    s = r.spec
    out = {r.kind.upper(), r.series.upper()}
    legs = [s] + [s[k] for k in ("compute", "power") if isinstance(s.get(k), dict)]
    for leg in legs:
        for k in ("iso", "node", "market", "profile", "gpu", "region"):
            if leg.get(k):
                out.add(str(leg[k]).upper())
    return out


def local_date(ts: int, tz: str) -> dt.date:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).date()


def parse_day(text: str, *, end: bool = False, what: str = "date") -> dt.date:
    """``2026-12`` (a month: its first day, or its last with ``end``) or ``2026-12-05``."""
    v = str(text).strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{2})", v):
            y, mo = int(m[1]), int(m[2])
            return dt.date(y, mo, _cal.monthrange(y, mo)[1] if end else 1)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return dt.date.fromisoformat(v)
    except ValueError:
        pass
    raise CurveError(f"{what} {text!r}: write a month (2026-12) or a day (2026-12-05)")


def select(
    records: Iterable[Record],
    *,
    node: str | None = None,
    series: str | None = None,
    kind: str | None = None,
    words: Sequence[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    statuses: Sequence[str] | None = None,
    order: str = "curve",
) -> list[Record]:
    """The records matching every given filter, in curve order (series, then delivery start) or,
    with ``order="id"``, in listing order.

    ``node``: the POWER node or a SPREAD's power-leg node; ``series``: a series symbol (exact, any
    case); ``kind``: POWER | COMPUTE | SPREAD; ``words``: each must name the series (node, profile,
    GPU, ISO, DA/RT, kind, e.g. ``("HB_WEST", "PEAK")``); ``start``/``end``: the window's first
    local day (in the series' own zone) lies in [start, end], both inclusive; ``statuses``: keep
    only these. Unknown kinds or statuses are refused rather than matching nothing."""
    if kind is not None and kind.upper() not in KINDS:
        raise CurveError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    bad = [s for s in (statuses or ()) if s not in STATUSES]
    if bad:
        raise CurveError(f"status {bad[0]!r}: one of {', '.join(STATUSES)}")
    if start is not None and end is not None and end < start:
        raise CurveError(f"the window range ends ({end}) before it starts ({start})")
    if order not in ORDERS:
        raise CurveError(f"order {order!r}: one of {', '.join(ORDERS)}")
    want = [w.upper() for w in words if w]
    out = []
    for r in records:
        if kind is not None and r.kind != kind.upper():
            continue
        if node is not None and (r.node or "").upper() != node.upper():
            continue
        if series is not None and r.series.upper() != series.upper():
            continue
        if want and not set(want) <= terms(r):
            continue
        if statuses is not None and r.status not in statuses:
            continue
        if start is not None or end is not None:
            day = local_date(r.delivery_start, r.tz)
            if (start is not None and day < start) or (end is not None and day > end):
                continue
        out.append(r)
    return sorted(out, key=ORDERS[order])


ORDERS = {
    "curve": lambda r: (r.series, r.delivery_start, r.id),
    "id": lambda r: ("", 0, r.id),
}


# --------------------------------------------------------------------------- paging


@dataclass(frozen=True)
class Page:
    items: tuple[Record, ...]
    total: int  # records matching the filters, over every page
    offset: int  # position of the first item in the full ordered list
    next_cursor: str | None  # pass back to get the next page; None on the last page


def encode_cursor(r: Record, order: str = "curve") -> str:
    series, start, mid = ORDERS[order](r)
    raw = f"{order}\x1f{series}\x1f{start}\x1f{mid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str = "curve") -> tuple[str, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, series, start, mid = raw.split("\x1f")
        if kind != order:
            raise ValueError(kind)
        return series, int(start), int(mid)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CurveError(f"cursor {cursor[:40]!r} is not one this listing handed out; start again without it") from None


def page(
    records: Sequence[Record], *, limit: int = 50, offset: int = 0, cursor: str | None = None, order: str = "curve"
) -> Page:
    """One page of ``records`` (already in :func:`select` order ``order``).

    ``offset`` counts from the start; a ``cursor`` (from the previous page) resumes right after
    the last record seen, so markets listed meanwhile neither repeat nor shift the page (keyset
    paging). Give one of the two."""
    if not 1 <= limit <= MAX_PAGE:
        raise CurveError(f"limit {limit}: between 1 and {MAX_PAGE}")
    if offset < 0:
        raise CurveError(f"offset {offset}: 0 or more")
    if cursor and offset:
        raise CurveError("give either an offset or a cursor, not both")
    ordered = list(records)
    if cursor:
        key = decode_cursor(cursor, order)
        offset = next((i for i, r in enumerate(ordered) if ORDERS[order](r) > key), len(ordered))
    items = tuple(ordered[offset : offset + limit])
    more = offset + len(items) < len(ordered)
    return Page(items, len(ordered), offset, encode_cursor(items[-1], order) if more and items else None)


# --------------------------------------------------------------------------- strips


@dataclass(frozen=True)
class Strip:
    """One series' listed windows in delivery order."""

    series: str
    kind: str
    tz: str
    points: tuple[Record, ...]

    @property
    def price_tick(self) -> int:
        return min(p.price_tick for p in self.points)

    @property
    def priced(self) -> tuple[Record, ...]:
        """The points with a mark (what a chart can draw)."""
        return tuple(p for p in self.points if p.mark_units is not None or p.settlement_units is not None)


def strips(records: Iterable[Record], *, include_settled: bool = False) -> list[Strip]:
    """Group records into strips, one per series, points sorted by delivery start. Settled
    markets are history, not curve: left out unless ``include_settled``."""
    by: dict[str, list[Record]] = {}
    for r in records:
        if r.status == "settled" and not include_settled:
            continue
        by.setdefault(r.series, []).append(r)
    out = []
    for s, pts in sorted(by.items()):
        pts.sort(key=lambda r: (r.delivery_start, r.id))
        out.append(Strip(s, pts[0].kind, pts[0].tz, tuple(pts)))
    return out


def curve_value(r: Record) -> int | None:
    """The value a curve plots for a window: the settlement once settled, else the mark."""
    return r.settlement_units if r.status == "settled" and r.settlement_units is not None else r.mark_units


@dataclass(frozen=True)
class Axes:
    """Chart ranges sized to what is listed: x in unix s (first start to last end), y in base
    units padded by 5% of the span (or of |value| for a flat curve) so points never sit on an edge."""

    x_min: int
    x_max: int
    y_min: int
    y_max: int


def axes(strips_: Iterable[Strip]) -> Axes | None:
    """None when nothing is listed or nothing is priced."""
    pts = [p for s in strips_ for p in s.points]
    if not pts:
        return None
    ys = [v for p in pts if (v := curve_value(p)) is not None]
    ys += [p.index_units for p in pts if p.index_units is not None]
    if not ys:
        return None
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) // 20 or max(abs(hi) // 20, 10_000)  # flat: 5% of the level, at least 1 cent
    return Axes(min(p.delivery_start for p in pts), max(p.delivery_end for p in pts), lo - pad, hi + pad)


# --------------------------------------------------------------------------- settlement calendar


@dataclass(frozen=True)
class CalendarEntry:
    """When a market fixes and at what value.

    ``trading_ends``: last trade time; ``fixes_at``: delivery end, the first time the oracle may
    observe the settlement value; ``final_from``: fixing + dispute window, the earliest time
    ``finalize_settlement`` can accept it; ``value_units``: the settled value, else the current
    mark (``value_is_final`` tells which), None when neither is known."""

    market: Record
    trading_ends: int
    fixes_at: int
    final_from: int
    value_units: int | None
    value_is_final: bool


def settlement_calendar(
    records: Iterable[Record], *, start: int | None = None, end: int | None = None
) -> list[CalendarEntry]:
    """Every market's fixing, in fixing order; ``start``/``end`` (unix s) keep fixings in [start, end)."""
    out = []
    for r in records:
        if (start is not None and r.delivery_end < start) or (end is not None and r.delivery_end >= end):
            continue
        final = r.status == "settled" and r.settlement_units is not None
        out.append(
            CalendarEntry(
                market=r,
                trading_ends=r.last_trade_time,
                fixes_at=r.delivery_end,
                final_from=r.delivery_end + r.dispute_window,
                value_units=r.settlement_units if final else r.mark_units,
                value_is_final=final,
            )
        )
    return sorted(out, key=lambda e: (e.fixes_at, e.market.series, e.market.id))


def calendar_days(entries: Iterable[CalendarEntry], tz: str = "UTC") -> list[tuple[dt.date, list[CalendarEntry]]]:
    """Entries grouped by the local day (in ``tz``) they fix on, days in order."""
    days: dict[dt.date, list[CalendarEntry]] = {}
    for e in entries:
        days.setdefault(local_date(e.fixes_at, tz), []).append(e)
    return sorted(days.items())
