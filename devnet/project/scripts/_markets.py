"""Turn a markets file (markets/default.json or the user's own) into listable markets.

Delivery windows in the file are either absolute (`delivery_start`/`delivery_end` in the
spec, unix seconds) or relative to the chain's clock: {period: hour|day|month, offset: N,
hour: H} in the spec's local time zone. Human units (USD, MWh, GPU-hours, fractions) become
contract integers through `core.units`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from core import abi, specs, units
from core.manifest import market_entry

DEFAULT_MARKETS = Path(__file__).resolve().parents[1] / "markets" / "default.json"


# Oracle agreement band and jump limit per feed, by kind, in human units (override per market
# with "feed_limits": {"band_floor", "band", "jump_floor", "jump"}): reporters' rows agree
# within max(band_floor USD, band x |median|); without every reporter a value moves at most
# max(jump_floor USD, jump x |value|) per hour. Power crosses zero, hence the USD floors.
DEFAULT_FEED_LIMITS = {
    "POWER": {"band_floor": "0.05", "band": "0.005", "jump_floor": "20", "jump": "0.5"},
    "COMPUTE": {"band_floor": "0.005", "band": "0.005", "jump_floor": "0.25", "jump": "0.5"},
    "SPREAD": {"band_floor": "0.005", "band": "0.005", "jump_floor": "0.25", "jump": "0.5"},
}


def feed_limits(kind: str, overrides: dict | None = None) -> tuple[int, int, int, int]:
    """(band_floor, band_bps, jump_floor, jump_bps) in contract units for `Oracle.set_feed_limits`."""
    h = {**DEFAULT_FEED_LIMITS[kind], **(overrides or {})}
    return (
        units.usd_to_base(h["band_floor"]),
        units.fraction_to_bps(h["band"]),
        units.usd_to_base(h["jump_floor"]),
        units.fraction_to_bps(h["jump"]),
    )


class MarketsFileError(ValueError):
    """The markets file is malformed; the message names the entry and field."""


def _add_months(d: dt.datetime, n: int) -> dt.datetime:
    m = d.month - 1 + n
    return d.replace(year=d.year + m // 12, month=m % 12 + 1, day=1)


def resolve_window(delivery: dict, tz: str, now: int) -> tuple[int, int]:
    """Relative window -> (start, end) unix seconds; local periods, DST-correct."""
    z = ZoneInfo(tz)
    local = dt.datetime.fromtimestamp(now, z)
    period, offset = delivery["period"], int(delivery.get("offset", 1))
    if period == "month":
        start = _add_months(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0), offset)
        end = _add_months(start, 1)
    elif period == "day":
        day = local.date() + dt.timedelta(days=offset)
        start = dt.datetime.combine(day, dt.time(0), z)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), z)
    elif period == "hour":
        day = local.date() + dt.timedelta(days=offset)
        start = dt.datetime.combine(day, dt.time(int(delivery.get("hour", 0))), z)
        return int(start.timestamp()), int(start.timestamp()) + 3600
    else:
        raise MarketsFileError(f"unknown delivery period {period!r} (hour, day or month)")
    return int(start.timestamp()), int(end.timestamp())


def _with_window(spec: dict, start: int, end: int) -> dict:
    spec = copy.deepcopy(spec)
    if spec["kind"] == "SPREAD":
        for leg in ("compute", "power"):
            spec[leg]["delivery_start"], spec[leg]["delivery_end"] = start, end
    else:
        spec["delivery_start"], spec["delivery_end"] = start, end
    return spec


@dataclass(frozen=True)
class ListedMarket:
    """One market ready for `Clearinghouse.list_market`, plus its manifest entry."""

    spec: dict
    symbol: str
    spec_hash: str
    mark_feed: bytes
    settlement_feed: bytes
    params: dict  # contract units, keyed like the Market struct
    feed_bounds: tuple[int, int]  # base units per unit
    feed_limits: tuple[int, int, int, int] = (0, 0, 0, 0)  # band_floor, band_bps, jump_floor, jump_bps

    def struct(self) -> tuple:
        """The `Market` tuple `list_market` takes, built by field name from the ABI."""
        return abi.Market.decode(
            {
                **self.params,
                "spec_hash": self.spec_hash,
                "mark_feed": self.mark_feed,
                "settlement_feed": self.settlement_feed,
            }
        ).encode()

    def manifest_entry(self, market_id: int) -> dict:
        return {
            **market_entry(market_id, self.spec),
            "params": self.params,
            "feed_bounds": list(self.feed_bounds),
            "feed_limits": list(self.feed_limits),
        }


def load_markets(path: Path | str | None, now: int) -> list[ListedMarket]:
    """Read a markets file and resolve it against chain time `now` (unix s)."""
    path = Path(path) if path else DEFAULT_MARKETS
    try:
        # JSON numbers parse as Decimal: a float in the file would lose digits on the way to chain units
        entries = json.loads(path.read_text(), parse_float=Decimal)["markets"]
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise MarketsFileError(f"{path}: cannot read markets ({e})") from e
    out, seen = [], set()
    for i, e in enumerate(entries):
        where = f"{path.name} market #{i}"
        try:
            spec = e["spec"]
            if "delivery" in e:
                tz = e["delivery"].get("tz") or spec.get("tz") or spec.get("power", {}).get("tz") or "UTC"
                start, end = resolve_window(e["delivery"], tz, now)
                spec = _with_window(spec, start, end)
            specs.validate_spec(spec)
            sym = specs.symbol(spec)
            leg = spec["power"] if spec["kind"] == "SPREAD" else spec
            start, end = leg["delivery_start"], leg["delivery_end"]
            last_trade = start if e.get("last_trade", "delivery_end") == "delivery_start" else end
            params = dict(
                delivery_start=start,
                delivery_end=end,
                last_trade_time=last_trade,
                quantity_step=units.quantity_to_units(e["quantity_step"]),
                min_quantity=units.quantity_to_units(e["min_quantity"]),
                price_tick=units.usd_to_base(e["price_tick"]),
                im_fixed=units.usd_to_base(e["im_fixed"]),
                im_rate_bps=units.fraction_to_bps(e["im_rate"]),
                mm_fixed=units.usd_to_base(e["mm_fixed"]),
                mm_rate_bps=units.fraction_to_bps(e["mm_rate"]),
                max_price_age=int(e["max_price_age"]),
                dispute_window=int(e["dispute_window"]),
                oi_cap=units.quantity_to_units(e["oi_cap"]),
            )
            lo, hi = (units.usd_to_base(x) for x in e["feed_bounds"])
            limits = feed_limits(spec["kind"], e.get("feed_limits"))
        except (KeyError, TypeError, ValueError) as err:
            raise MarketsFileError(f"{where}: {err}") from err
        if last_trade <= now:
            raise MarketsFileError(f"{where} ({sym}): trading would already be closed at chain time {now}")
        if sym in seen:
            raise MarketsFileError(f"{where}: duplicate symbol {sym}")
        seen.add(sym)
        out.append(
            ListedMarket(
                spec,
                sym,
                specs.spec_hash(spec),
                specs.mark_feed(sym),
                specs.settlement_feed(sym),
                params,
                (lo, hi),
                limits,
            )
        )
    return out
