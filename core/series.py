"""Series templates (issue 10): a market spec without its delivery window, plus the rule that
says which windows exist, and the feed ids a listed window gets without any Oracle storage.

A *series* is one markets-file entry (``markets/default.json``) approved on chain as a
``Clearinghouse.Template``; anyone may then list one delivery window of it
(``list_from_template``). Everything the contracts derive, Python derives identically here:

- ``series_spec_hash(spec)`` = keccak of the canonical JSON of the windowless spec
  (the template's ``spec_hash``); a listed market's on-chain ``spec_hash`` is
  ``keccak(abi_encode(series_spec_hash, delivery_start, delivery_end))``
  (:func:`market_spec_hash`);
- ``feed_class(series_symbol, "MARK"|"SETTLE")`` = keccak(text=f"{symbol}/MARK") with its
  low 80 bits cleared; ``feed_id(class, start, end) = class | start << 40 | end``;
- :func:`aligned` / :func:`window_end` are SeriesRegistry's window rule (hourly: one hour on the hour; daily: a
  local midnight-to-midnight day; monthly: a local 1st to the next 1st), where "local" means
  the zone's standard offset, plus one hour while US DST is in force for a non-zero offset
  (every non-UTC series is a US ISO's), so 23 h and 25 h days are aligned and nothing
  shifted by an hour is; :func:`windows` lists the windows due at chain time ``now``.

Times are unix seconds (UTC); ``utc_offset`` is seconds east of UTC (America/Chicago: -21600).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from eth_abi import encode as abi_encode
from eth_utils import keccak

from core import specs, units

__all__ = [
    "CADENCES",
    "DAILY",
    "DEFAULT_DEPTH",
    "DEFAULT_HORIZON",
    "HOURLY",
    "LAST_TRADE_AT_END",
    "MONTHLY",
    "Series",
    "SeriesError",
    "aligned",
    "us_dst",
    "window_end",
    "feed_class",
    "feed_id",
    "last_trade_time",
    "market_spec",
    "market_spec_hash",
    "series_spec_hash",
    "series_symbol",
    "standard_offset",
    "windows",
]

HOURLY, DAILY, MONTHLY = 1, 2, 3
CADENCES = {"hourly": HOURLY, "daily": DAILY, "monthly": MONTHLY}
_PERIOD_CADENCE = {"hour": HOURLY, "day": DAILY, "month": MONTHLY}
#: windows a lister keeps listed per series (issue 10): 2 days of hours, 14 days, 12 months
DEFAULT_DEPTH = {HOURLY: 48, DAILY: 14, MONTHLY: 12}
#: how far ahead a window may start (the template's ``max_horizon``), a little beyond the depth
DEFAULT_HORIZON = {HOURLY: 3 * 86_400, DAILY: 16 * 86_400, MONTHLY: 370 * 86_400}
#: listing bond (ETH) of a markets-file entry without one: enough to make spam listings cost
#: something, returned to the lister at settlement
DEFAULT_BOND = "0.001"
#: ``last_trade_offset`` sentinel: trading runs through delivery and stops at delivery_end
#: (the mark is the realised part plus the expected rest); any other value is seconds before
#: delivery_start
LAST_TRADE_AT_END = 2**256 - 1
#: feed ids carry the window in their low 80 bits: start << 40 | end, both < 2**40
WINDOW_BITS = 80
TIME_LIMIT = 2**40
_CLASS_MASK = (2**256 - 1) ^ (2**WINDOW_BITS - 1)
_HOUR, _DAY = 3_600, 86_400


class SeriesError(ValueError):
    """A series entry, window or feed id is malformed; the message says which and why."""


# ------------------------------------------------------------------------- ids and hashes


def _strip_window(spec: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(spec)
    for leg in (s, s.get("compute"), s.get("power")):
        if isinstance(leg, dict):
            leg.pop("delivery_start", None)
            leg.pop("delivery_end", None)
    return s


def _with_window(spec: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    s = _strip_window(spec)
    if s.get("kind") == "SPREAD":
        for leg in ("compute", "power"):
            s[leg]["delivery_start"], s[leg]["delivery_end"] = int(start), int(end)
    else:
        s["delivery_start"], s["delivery_end"] = int(start), int(end)
    return s


def series_spec_hash(series_spec: dict[str, Any]) -> bytes:
    """bytes32 keccak of the canonical JSON of the windowless spec (a window, if present, is dropped)."""
    return keccak(specs.canonical_json(_strip_window(series_spec)).encode("utf-8"))


def market_spec_hash(series_hash: bytes, start: int, end: int) -> bytes:
    """The ``spec_hash`` a templated market carries on chain: keccak(abi_encode(series hash, start, end))."""
    return keccak(abi_encode(["bytes32", "uint256", "uint256"], [bytes(series_hash), int(start), int(end)]))


def series_symbol(series_spec: dict[str, Any]) -> str:
    """The market symbol without its period label: ``ERCOT.HB_WEST.DA.PEAK``, ``H100-SXM``,
    ``SPREAD.H100-SXM.HB_WEST`` (the same construction as :func:`core.specs.symbol`)."""
    kind = series_spec.get("kind")
    if kind == "POWER":
        return f"{series_spec['iso']}.{series_spec['node']}.{series_spec['market']}.{series_spec['profile']}"
    if kind == "COMPUTE":
        region = "" if series_spec["region"] == specs.GLOBAL_REGION else f".{series_spec['region']}"
        return f"{series_spec['gpu']}{region}"
    if kind == "SPREAD":
        c, p = series_spec["compute"], series_spec["power"]
        region = "" if c["region"] == specs.GLOBAL_REGION else f".{c['region']}"
        leg = "" if (p["market"], p["profile"]) == ("DA", "ATC") else f".{p['market']}.{p['profile']}"
        return f"SPREAD.{c['gpu']}{region}.{p['node']}{leg}"
    raise SeriesError(f"series spec kind must be one of {specs.KINDS}, got {kind!r}")


def feed_class(symbol: str, which: str) -> bytes:
    """bytes32 feed class of a series: keccak(text=f"{symbol}/{which}") with the low 80 bits cleared."""
    if which not in ("MARK", "SETTLE"):
        raise SeriesError(f'feed class is "MARK" or "SETTLE", got {which!r}')
    h = int.from_bytes(keccak(text=f"{symbol}/{which}"), "big") & _CLASS_MASK
    return h.to_bytes(32, "big")


def feed_id(cls: bytes, start: int, end: int) -> bytes:
    """bytes32 feed id of one window of a class: class | start << 40 | end (both < 2**40)."""
    c = int.from_bytes(bytes(cls), "big")
    if len(bytes(cls)) != 32 or c & ~_CLASS_MASK:
        raise SeriesError("a feed class is 32 bytes with its low 80 bits zero")
    if not (0 <= start < end < TIME_LIMIT):
        raise SeriesError(f"window [{start}, {end}) must satisfy 0 <= start < end < 2**40")
    return (c | (int(start) << 40) | int(end)).to_bytes(32, "big")


def split_feed_id(fid: bytes) -> tuple[bytes, int, int]:
    """(class, start, end) of a templated feed id (the inverse of :func:`feed_id`)."""
    v = int.from_bytes(bytes(fid), "big")
    return (v & _CLASS_MASK).to_bytes(32, "big"), (v >> 40) & (TIME_LIMIT - 1), v & (TIME_LIMIT - 1)


# ------------------------------------------------------------------------- calendar


def standard_offset(tz: str) -> int:
    """Seconds east of UTC of the zone's standard (winter) time: America/Chicago -> -21600."""
    z = ZoneInfo(tz)
    offs = []
    for month in (1, 7):
        d = dt.datetime(2025, month, 15, 12, tzinfo=z)
        offs.append(int((d.utcoffset() - (d.dst() or dt.timedelta(0))).total_seconds()))
    return min(offs)


def _civil(days: int) -> tuple[int, int, int]:
    # Howard Hinnant's civil_from_days, as the Clearinghouse computes it
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _days_from_civil(y: int, m: int) -> int:
    """Days since 1970-01-01 of the 1st of month ``m`` of year ``y`` (as the contract computes it)."""
    return (dt.date(y, m, 1) - dt.date(1970, 1, 1)).days


def us_dst(day: int) -> bool:
    """Whether US daylight saving time is in force at local midnight starting date ``day``
    (days since 1970): after the second Sunday of March, through the first Sunday of November
    (the bounds SeriesRegistry._window_end computes)."""
    y, _, _ = _civil(day)
    mar1, nov1 = _days_from_civil(y, 3), _days_from_civil(y, 11)
    second_sunday_march = mar1 + (7 - (mar1 + 4) % 7) % 7 + 7
    first_sunday_november = nov1 + (7 - (nov1 + 4) % 7) % 7
    return second_sunday_march < day <= first_sunday_november


def _midnight(day: int, utc_offset: int) -> int:
    # unix s of local midnight starting date `day`: a non-zero offset follows US DST
    return day * _DAY - utc_offset - (_HOUR if utc_offset != 0 and us_dst(day) else 0)


def window_end(cadence: int, utc_offset: int, start: int) -> int | None:
    """The end of the window starting at ``start`` under the contract's rule, None when
    ``start`` cannot begin one (SeriesRegistry._window_end): hourly on the hour; daily and
    monthly from a local midnight (of the 1st) to the next, local being the standard offset
    plus one hour while US DST is in force when the offset is not 0."""
    if not 0 < start < TIME_LIMIT:
        return None
    if cadence == HOURLY:
        return start + _HOUR if start % _HOUR == 0 else None
    day = (start + utc_offset + (_HOUR if utc_offset != 0 else 0)) // _DAY
    if start != _midnight(day, utc_offset):
        return None
    if cadence == DAILY:
        return _midnight(day + 1, utc_offset)
    if cadence == MONTHLY:
        y, m, d = _civil(day)
        if d != 1:
            return None
        return _midnight(_days_from_civil(y + m // 12, m % 12 + 1), utc_offset)
    return None


def aligned(cadence: int, utc_offset: int, start: int, end: int) -> bool:
    """The contract's window rule (``list_from_template`` reverts "bad delivery window" otherwise):
    ``end`` is the one end :func:`window_end` allows for ``start``."""
    return 0 < end < TIME_LIMIT and end == window_end(cadence, utc_offset, start)


def last_trade_time(start: int, end: int, last_trade_offset: int) -> int:
    """When trading in a window stops: delivery_end for :data:`LAST_TRADE_AT_END`, else
    ``start - last_trade_offset``."""
    return int(end) if last_trade_offset == LAST_TRADE_AT_END else int(start) - int(last_trade_offset)


# ------------------------------------------------------------------------- series


def _eth_to_wei(value: Any) -> int:
    d = units.to_decimal(str(value), "bond")
    wei = d.scaleb(units.ETH_DECIMALS)
    if wei != wei.to_integral_value() or wei < 0:
        raise SeriesError(f"bond must be a non-negative ETH amount with at most 18 decimals, got {value!r}")
    return int(wei)


@dataclass(frozen=True)
class Series:
    """One series template, as read from a markets file (:meth:`from_entry`) or from chain
    (:meth:`from_template`, given the spec the hash commits to).

    ``spec`` is windowless; ``params`` are the contract-unit risk and lot fields
    (quantity_step, min_quantity, price_tick, im_fixed, im_rate_bps, mm_fixed, mm_rate_bps,
    max_price_age, dispute_window, oi_cap); ``bond`` is wei.
    """

    spec: dict[str, Any]
    cadence: int
    tz: str
    last_trade_offset: int = 0
    max_horizon: int = 0
    params: dict[str, int] = field(default_factory=dict)
    bond: int = 0
    feed_bounds: tuple[int, int] = (0, 0)
    template_id: int | None = None
    active: bool = True

    def __post_init__(self) -> None:
        if self.cadence not in (HOURLY, DAILY, MONTHLY):
            raise SeriesError(f"cadence must be 1 (hourly), 2 (daily) or 3 (monthly), got {self.cadence!r}")
        object.__setattr__(self, "spec", _strip_window(self.spec))
        if not self.max_horizon:
            object.__setattr__(self, "max_horizon", DEFAULT_HORIZON[self.cadence])
        if self.cadence == HOURLY and self.utc_offset % _HOUR:
            raise SeriesError(f"an hourly series needs a whole-hour zone, {self.tz} is {self.utc_offset} s")
        series_symbol(self.spec)  # a malformed spec fails here

    # -- identity
    @property
    def kind(self) -> str:
        return self.spec["kind"]

    @property
    def symbol(self) -> str:
        return series_symbol(self.spec)

    @property
    def spec_hash(self) -> bytes:
        return series_spec_hash(self.spec)

    @property
    def mark_class(self) -> bytes:
        return feed_class(self.symbol, "MARK")

    @property
    def settlement_class(self) -> bytes:
        return feed_class(self.symbol, "SETTLE")

    @property
    def utc_offset(self) -> int:
        return standard_offset(self.tz)

    # -- windows
    def market_spec(self, start: int, end: int) -> dict[str, Any]:
        return market_spec(self, start, end)

    def last_trade_time(self, start: int, end: int) -> int:
        return last_trade_time(start, end, self.last_trade_offset)

    def mark_feed(self, start: int, end: int) -> bytes:
        return feed_id(self.mark_class, start, end)

    def settlement_feed(self, start: int, end: int) -> bytes:
        return feed_id(self.settlement_class, start, end)

    def windows(self, now: int, depth: int | None = None) -> list[tuple[int, int]]:
        return windows(self, now, depth)

    # -- chain
    def template(self) -> dict[str, Any]:
        """The ``Clearinghouse.Template`` fields, contract units, keyed by name."""
        return {
            "spec_hash": self.spec_hash,
            "mark_class": self.mark_class,
            "settlement_class": self.settlement_class,
            "cadence": self.cadence,
            "utc_offset": self.utc_offset,
            "last_trade_offset": self.last_trade_offset,
            "max_horizon": self.max_horizon,
            **{k: int(self.params[k]) for k in _PARAM_KEYS},
            "bond": self.bond,
            "active": self.active,
        }

    @classmethod
    def from_template(cls, t: dict[str, Any], spec: dict[str, Any], tz: str, template_id: int | None = None) -> Series:
        """A series read from chain (``Clearinghouse.template(id)`` as a dict): ``spec`` must
        hash to its spec_hash, and its classes must be the spec's."""
        s = cls(
            spec,
            int(t["cadence"]),
            tz,
            int(t["last_trade_offset"]),
            int(t["max_horizon"]),
            {k: int(t[k]) for k in _PARAM_KEYS},
            int(t["bond"]),
            template_id=template_id,
            active=bool(t["active"]),
        )
        for key in ("spec_hash", "mark_class", "settlement_class"):
            if bytes(t[key]) != getattr(s, key):
                raise SeriesError(f"template {template_id}: {key} on chain does not match the spec {s.symbol}")
        if int(t["utc_offset"]) != s.utc_offset:
            raise SeriesError(f"template {template_id}: utc_offset {t['utc_offset']} is not {tz}'s {s.utc_offset}")
        return s

    @classmethod
    def from_entry(cls, e: dict[str, Any]) -> Series:
        """A markets-file entry: ``spec`` (window fields ignored), ``cadence`` (hourly/daily/monthly;
        default from ``delivery.period``), ``tz`` (default ``delivery.tz``, the spec's or its
        power leg's, else UTC), ``last_trade`` ("delivery_start" | "delivery_end") or
        ``last_trade_offset`` (s), ``max_horizon`` (s), ``bond`` (ETH), and the human-unit
        margins the deploy script reads."""
        try:
            spec = e["spec"]
            delivery = e.get("delivery", {})
            cad = e.get("cadence") or delivery.get("period")
            cadence = CADENCES.get(cad) or _PERIOD_CADENCE.get(cad)
            if cadence is None:
                raise SeriesError(f"cadence must be one of {sorted(CADENCES)}, got {cad!r}")
            tz = e.get("tz") or delivery.get("tz") or spec.get("tz") or spec.get("power", {}).get("tz") or "UTC"
            if "last_trade_offset" in e:
                lto = int(e["last_trade_offset"])
            else:
                lto = LAST_TRADE_AT_END if e.get("last_trade", "delivery_end") == "delivery_end" else 0
            params = {
                "quantity_step": units.quantity_to_units(e["quantity_step"]),
                "min_quantity": units.quantity_to_units(e["min_quantity"]),
                "price_tick": units.usd_to_base(e["price_tick"]),
                "im_fixed": units.usd_to_base(e["im_fixed"]),
                "im_rate_bps": units.fraction_to_bps(e["im_rate"]),
                "mm_fixed": units.usd_to_base(e["mm_fixed"]),
                "mm_rate_bps": units.fraction_to_bps(e["mm_rate"]),
                "max_price_age": int(e["max_price_age"]),
                "dispute_window": int(e["dispute_window"]),
                "oi_cap": units.quantity_to_units(e["oi_cap"]),
            }
            bounds = tuple(units.usd_to_base(x) for x in e.get("feed_bounds", ("0", "0")))
            return cls(
                spec,
                cadence,
                tz,
                lto,
                int(e.get("max_horizon", 0)),
                params,
                _eth_to_wei(e.get("bond", DEFAULT_BOND)),
                bounds,  # type: ignore[arg-type]
            )
        except (KeyError, TypeError) as err:
            raise SeriesError(f"series entry: missing or malformed {err}") from err


_PARAM_KEYS = (
    "quantity_step",
    "min_quantity",
    "price_tick",
    "im_fixed",
    "im_rate_bps",
    "mm_fixed",
    "mm_rate_bps",
    "max_price_age",
    "dispute_window",
    "oi_cap",
)


def market_spec(series: Series, start: int, end: int) -> dict[str, Any]:
    """The full market spec of one window (validated by :func:`core.specs.validate_spec`)."""
    spec = _with_window(series.spec, start, end)
    specs.validate_spec(spec)
    return spec


def _next_window(cadence: int, tz: ZoneInfo, start: int) -> tuple[int, int]:
    """The window of ``cadence`` that starts at ``start`` (a window boundary)."""
    if cadence == HOURLY:
        return start, start + _HOUR
    local = dt.datetime.fromtimestamp(start, tz)
    if cadence == DAILY:
        d = local.date() + dt.timedelta(days=1)
    else:
        m = local.month % 12 + 1
        d = dt.date(local.year + (local.month == 12), m, 1)
    return start, int(dt.datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())


def _first_boundary(cadence: int, tz: ZoneInfo, now: int) -> int:
    """The start of the window that contains ``now`` (the current one is considered too: with
    trading through delivery it is still due)."""
    local = dt.datetime.fromtimestamp(now, tz)
    if cadence == HOURLY:
        return now - now % _HOUR
    if cadence == DAILY:
        d = local.date()
    else:
        d = dt.date(local.year, local.month, 1)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())


def windows(series: Series, now: int, depth: int | None = None) -> list[tuple[int, int]]:
    """The next ``depth`` windows (default :data:`DEFAULT_DEPTH` of the cadence) that are due at
    chain time ``now``: last trade time still ahead (> now) and start within ``max_horizon``.
    A window whose trading has closed is not due; a restart asks for the same windows again
    (the lister skips what ``market_of`` already knows)."""
    depth = DEFAULT_DEPTH[series.cadence] if depth is None else int(depth)
    tz = ZoneInfo(series.tz)
    out: list[tuple[int, int]] = []
    start = _first_boundary(series.cadence, tz, int(now))
    while len(out) < depth:
        s, e = _next_window(series.cadence, tz, start)
        if s > now + series.max_horizon:
            break
        if series.last_trade_time(s, e) > now:
            out.append((s, e))
        start = e
    return out


def load_series(path: str) -> list[Series]:
    """Every entry of a markets file (``markets`` and ``series``) that has a cadence (``cadence`` or ``delivery.period``) as a
    :class:`Series`; an entry with an absolute window only is a one-off market, not a series."""
    with open(path) as f:
        data = json.load(f, parse_float=Decimal)
    # `markets` are listed at deploy too; `series` are templates only (listed by anyone later)
    entries = data["markets"] + data.get("series", [])
    return [Series.from_entry(e) for e in entries if e.get("cadence") or e.get("delivery", {}).get("period")]
