"""Mark and settlement values of a market spec at a chain time (``docs/methodology.md`` §4).

The mark of a future is its fair value given what is known at ``now``::

    mark = (sum of realised hourly values + expected x remaining hours) / total hours

where "hours" are the delivery hours of a POWER profile, or hourly GPU-index fixings for
COMPUTE (for whole-day windows this equals the mean of daily index values, each day
being the mean of its 24 fixings; a fixing without a valid index carries the last valid
one forward for at most ``carry_s``, see :func:`carry_forward`). ``expected`` is the
trailing mean of the same kind of hours over the last ``trailing_days`` days before ``now``. Before delivery everything is
expected; after delivery the mark equals the settlement value. Settlement is the
full-window figure and exists only once the window has closed and every hour has a price.
SPREAD = COMPUTE leg - mwh_per_gpu_hour x POWER leg, for marks and settlements alike.

Chain time is mapped to data time with the source's :class:`~oracle.timemap.TimeMap`;
everything below works on data time, and only data strictly before ``now`` is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from oracle.calendar import DAY, HOUR, LocalTime, hours_between, profile_hours, profile_mask
from oracle.errors import MissingData, NoEstimate, OracleError, WindowOpen
from oracle.index import GpuIndexParams, gpu_index_batch, lookup_hours, spread_price
from oracle.sources import GPU_DATASET, PriceSource
from oracle.specs import validate_spec
from oracle.units import to_decimal, to_units


@dataclass(frozen=True)
class Valuation:
    """A mark or settlement value with the numbers behind it (all times in data time)."""

    kind: str  # POWER | COMPUTE | SPREAD
    final: bool  # True for a settlement value
    price_usd: float
    price_units: int  # USDC base units (6 decimals), int256 on chain
    n_hours: int  # delivery hours / fixings in the window
    n_realised: int
    n_expected: int  # hours valued at the estimate (future + missing realised)
    expected_usd: float | None  # the trailing-mean estimate used for them
    missing: tuple[int, ...]  # realised hours without a price (estimated instead in a mark)
    data_start: int
    data_end: int
    data_now: int
    legs: tuple[tuple[str, "Valuation"], ...] = ()  # SPREAD: (("compute", v), ("power", v))


def blend(realised_sum: float, n_realised: int, expected: float | None, n_rest: int) -> float:
    """(realised sum + expected x remaining) / total; the whole mark formula in one place."""
    total = n_realised + n_rest
    if total <= 0:
        raise ValueError("a delivery window needs at least one hour")
    if n_rest and expected is None:
        raise NoEstimate("no estimate for the unrealised hours")
    return (realised_sum + (expected * n_rest if n_rest else 0.0)) / total


class Valuer:
    """Computes marks and settlement values of specs from a :class:`PriceSource`."""

    def __init__(self, source: PriceSource, gpu_params: GpuIndexParams = GpuIndexParams(), trailing_days: int = 7,
                 carry_s: int = 86_400):
        if trailing_days < 1:
            raise ValueError("trailing_days must be >= 1")
        if carry_s < 0:
            raise ValueError("carry_s must be >= 0")
        self.source, self.gpu_params, self.trailing_days, self.carry_s = source, gpu_params, trailing_days, carry_s

    # ----------------------------------------------------------------- public

    def mark(self, spec: dict[str, Any], chain_now: int) -> Valuation:
        """Fair value at ``chain_now``: realised part + expected rest (see module docstring)."""
        validate_spec(spec)
        return self._value(spec, int(chain_now), final=False)

    def settlement(self, spec: dict[str, Any], chain_now: int) -> Valuation:
        """Full-window value; raises :class:`WindowOpen` before ``delivery_end`` and
        :class:`MissingData` if any delivery hour lacks a price."""
        validate_spec(spec)
        end = spec["power"]["delivery_end"] if spec["kind"] == "SPREAD" else spec["delivery_end"]
        if int(chain_now) < end:
            raise WindowOpen(f"delivery window closes at {end}, now is {chain_now}: no settlement value yet")
        return self._value(spec, int(chain_now), final=True)

    # ----------------------------------------------------------------- internals

    def _value(self, spec: dict[str, Any], now: int, final: bool) -> Valuation:
        if spec["kind"] == "POWER":
            return self._power(spec, now, final)
        if spec["kind"] == "COMPUTE":
            return self._compute(spec, now, final)
        c = self._compute(spec["compute"], now, final)
        p = self._power(spec["power"], now, final)
        price = spread_price(to_decimal(c.price_usd), to_decimal(p.price_usd), Decimal(spec["mwh_per_gpu_hour"]))
        return Valuation("SPREAD", final, float(price), to_units(price), c.n_hours, c.n_realised, c.n_expected,
                         None, c.missing + p.missing, c.data_start, c.data_end, c.data_now,
                         (("compute", c), ("power", p)))

    def _finish(self, kind, final, window_vals, realised, found, trailing_vals, ds, de, now, hours) -> Valuation:
        """Shared tail: settlement checks or the realised/expected blend."""
        missing = tuple(int(h) for h in hours[realised & ~found])
        if final:
            if missing or not realised.all():
                raise MissingData(f"{len(missing) or int((~realised).sum())} of {len(hours)} {kind} hours "
                                  "have no price; settlement needs every hour", missing)
            value = float(window_vals.sum()) / len(hours)
            return Valuation(kind, True, value, to_units(value), len(hours), len(hours), 0, None, (), ds, de, now)
        have = realised & found
        n_rest = int(len(hours) - have.sum())
        expected = None
        if n_rest:
            tv = trailing_vals[~np.isnan(trailing_vals)]
            if tv.size == 0:
                raise NoEstimate(f"no {kind} data in the {self.trailing_days} days before data time {now} "
                                 f"to estimate {n_rest} unrealised hours")
            expected = float(tv.mean())
        value = blend(float(window_vals[have].sum()), int(have.sum()), expected, n_rest)
        return Valuation(kind, False, value, to_units(value), len(hours), int(have.sum()), n_rest, expected,
                         missing, ds, de, now)

    def _power(self, spec: dict[str, Any], chain_now: int, final: bool) -> Valuation:
        tm = self.source.time_map(spec["iso"])
        ds, de, now = tm.to_data(spec["delivery_start"]), tm.to_data(spec["delivery_end"]), tm.to_data(chain_now)
        tz, profile = spec["tz"], spec["profile"]
        hours = profile_hours(ds, de, profile, tz)
        if hours.size == 0:
            raise OracleError(f"no {profile} hours in data window [{ds}, {de}); check the replay speed")
        now_h = (now // HOUR) * HOUR  # hours starting before now_h have ended by now
        lo = min(int(hours[0]), now_h - self.trailing_days * DAY)
        series = self.source.power_hourly(spec["iso"], spec["node"], spec["market"], lo, now_h)  # ended hours only
        px, found = lookup_hours(series.timestamps, series.prices, hours)
        realised = hours + HOUR <= now
        trail = hours_between(now_h - self.trailing_days * DAY, now_h)
        if profile == "HOURLY":  # the same local clock hour on the previous days
            want = LocalTime(hours[:1], tz).hour[0]
            trail = trail[LocalTime(trail, tz).hour == want]
        else:
            trail = trail[profile_mask(trail, profile, tz)]
        tpx, tfound = lookup_hours(series.timestamps, series.prices, trail)
        return self._finish("POWER", final, px, realised, found, np.where(tfound, tpx, np.nan), ds, de, now, hours)

    def _compute(self, spec: dict[str, Any], chain_now: int, final: bool) -> Valuation:
        tm = self.source.time_map(GPU_DATASET)
        ds, de, now = tm.to_data(spec["delivery_start"]), tm.to_data(spec["delivery_end"]), tm.to_data(chain_now)
        fixings = hours_between(ds, de)  # one fixing at each hour start in the window
        if fixings.size == 0:
            raise OracleError(f"no hourly fixings in data window [{ds}, {de}); check the replay speed")
        now_h = (now // HOUR) * HOUR
        trail_lo = now_h - self.trailing_days * DAY + HOUR  # trailing fixings: (now - N days, now]
        lo = min(int(fixings[0]), trail_lo) - self.carry_s  # carry-forward look-back
        grid = hours_between(lo, now_h + 1)  # every fixing that can matter, all known by now
        quotes = self.source.gpu_quotes(spec["gpu"], spec["region"], lo - self.gpu_params.staleness_s, now + 1)
        vals = carry_forward(grid, gpu_index_batch(*quotes, grid, self.gpu_params).values, self.carry_s)
        realised = fixings <= now
        window_vals = np.full(len(fixings), np.nan)
        idx = ((fixings[realised] - lo) // HOUR).astype(np.int64)
        window_vals[realised] = vals[idx]
        found = ~np.isnan(window_vals)
        trailing_vals = vals[grid >= trail_lo]
        return self._finish("COMPUTE", final, window_vals, realised, found, trailing_vals, ds, de, now, fixings)


def carry_forward(times: np.ndarray, values: np.ndarray, max_age_s: int) -> np.ndarray:
    """Replace NaN by the last valid value at most ``max_age_s`` older (vectorised).

    A GPU class whose quotes drop below ``min_quotes`` for a few hours keeps its last
    published index for up to ``max_age_s`` (the usual benchmark-administrator rule), so a
    thin class (B200, H100-PCIe) can still settle; longer gaps stay missing.
    """
    valid = ~np.isnan(values)
    last = np.maximum.accumulate(np.where(valid, np.arange(len(values)), -1))
    ok = (last >= 0) & (times - times[np.maximum(last, 0)] <= max_age_s)
    return np.where(ok, values[np.maximum(last, 0)], np.nan)
