"""Mark and settlement values of a market spec at a chain time (``docs/methodology.md`` §7).

The mark of a future is its fair value given what is known at ``now``::

    mark = (sum of known hourly values + sum of estimates for the other hours) / total hours

"Hours" are the delivery hours of a POWER profile, or hourly GPU-index fixings for COMPUTE
(for whole-day windows this equals the mean of daily index values; a fixing without a
valid index carries the last valid one forward for at most ``carry_s``, see
:func:`carry_forward`).

Known POWER hours are the ended ones and, for a day-ahead market, every hour whose DA price
the ISO has already published (the next operating day from ~13:30 local, see
:func:`core.calendar.da_known_until`). The estimate for an unknown hour at distance d days
from the last known one (``mark_method="blend"``, the default) is::

    E(d) = S + (R - S) * exp(-d / tau)

with R the mean of the profile's *daily* means over its last ``recent_days`` (1) known days
that have hours of the profile (a PEAK mark on Monday uses Friday, not the weekend), S the
median of those daily means over the last ``seasonal_days`` calendar days (a median,
so a few storm days do not move it) and tau = ``decay_days``: the recent level counts for
the next day or two, the seasonal level for the rest of the month, so a storm is not
extrapolated over the whole window. ``mark_method="trailing"`` is the previous rule (ended
hours only, trailing 7-day mean for every other hour), kept to measure old against new.

Settlement is the full-window figure, exists only once the window has closed and every hour
has a price, and is computed exactly: integer micro-dollars summed and divided once,
half-to-even (:func:`core.units.div_half_even`). SPREAD = COMPUTE leg - mwh_per_gpu_hour x
POWER leg, for marks and settlements alike (exact in ``Decimal`` for settlements).

Chain time is mapped to data time with the source's :class:`~oracle.timemap.TimeMap`;
everything below works on data time, and only data published by ``now`` is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from core.calendar import DAY, HOUR, LocalTime, da_known_until, hours_between, profile_hours, profile_mask
from core.specs import validate_spec
from core.units import USD_SCALE, base_to_float, base_to_usd, div_half_even, exact_units, float_usd_to_base
from oracle.errors import MissingData, NoEstimate, OracleError, WindowOpen
from oracle.index import GpuIndexParams, gpu_index_batch, lookup_hours, spread_price
from oracle.sources import GPU_DATASET, PriceSource

MARK_METHODS = ("blend", "trailing")


@dataclass(frozen=True)
class Valuation:
    """A mark or settlement value with the numbers behind it (all times in data time)."""

    kind: str  # POWER | COMPUTE | SPREAD
    final: bool  # True for a settlement value
    price_usd: float
    price_units: int  # USDC base units (6 decimals), int256 on chain
    n_hours: int  # delivery hours / fixings in the window
    n_realised: int  # hours with a known price (ended, or DA published)
    n_expected: int  # hours valued at the estimate (future + missing realised)
    expected_usd: float | None  # mean of the estimates used for them
    missing: tuple[int, ...]  # realised hours without a price (estimated instead in a mark)
    data_start: int
    data_end: int
    data_now: int
    legs: tuple[tuple[str, Valuation], ...] = ()  # SPREAD: (("compute", v), ("power", v))


class Valuer:
    """Computes marks and settlement values of specs from a :class:`PriceSource`."""

    def __init__(
        self,
        source: PriceSource,
        gpu_params: GpuIndexParams = GpuIndexParams(),  # noqa: B008 - frozen dataclass, never mutated
        trailing_days: int = 7,
        carry_s: int = 86_400,
        mark_method: str = "blend",
        seasonal_days: int = 28,
        decay_days: float = 1.0,
        recent_days: int = 1,
    ):
        if trailing_days < 1:
            raise ValueError("trailing_days must be >= 1")
        if carry_s < 0:
            raise ValueError("carry_s must be >= 0")
        if mark_method not in MARK_METHODS:
            raise ValueError(f"mark_method must be one of {MARK_METHODS}, got {mark_method!r}")
        if not 1 <= recent_days <= seasonal_days:
            raise ValueError("need 1 <= recent_days <= seasonal_days")
        if not decay_days > 0:
            raise ValueError("decay_days must be > 0")
        self.source, self.gpu_params, self.trailing_days, self.carry_s = source, gpu_params, trailing_days, carry_s
        self.mark_method, self.seasonal_days, self.decay_days = mark_method, seasonal_days, float(decay_days)
        self.recent_days = recent_days

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
        # the legs' 6-decimal values, combined exactly and rounded once (float_usd_to_base, half-even)
        price = spread_price(base_to_usd(c.price_units), base_to_usd(p.price_units), Decimal(spec["mwh_per_gpu_hour"]))
        return Valuation(
            "SPREAD",
            final,
            float(price),
            float_usd_to_base(price),
            c.n_hours,
            c.n_realised,
            c.n_expected,
            None,
            c.missing + p.missing,
            c.data_start,
            c.data_end,
            c.data_now,
            (("compute", c), ("power", p)),
        )

    def _finish(self, kind, final, window_vals, known, found, estimates, ds, de, now, hours, exact_scale) -> Valuation:
        """Shared tail: exact settlement, or known values + estimates for the rest.

        ``estimates`` is a callable giving the estimate of each unknown hour (called only when
        some hour needs one); ``exact_scale`` is how many exact units make one USD for the
        window values (10**6 for power prices, 2 * 10**6 for GPU medians of whole micro-dollars).
        """
        missing = tuple(int(h) for h in hours[known & ~found])
        if final:
            if missing or not known.all():
                raise MissingData(
                    f"{len(missing) or int((~known).sum())} of {len(hours)} {kind} hours "
                    "have no price; settlement needs every hour",
                    missing,
                )
            total = int(exact_units(window_vals, exact_scale).sum(dtype=np.int64))
            units = div_half_even(total * USD_SCALE, exact_scale * len(hours))
            return Valuation(kind, True, base_to_float(units), units, len(hours), len(hours), 0, None, (), ds, de, now)
        have = known & found
        rest = ~have
        n_rest = int(rest.sum())
        expected = None
        est_sum = 0.0
        if n_rest:
            est = np.asarray(estimates(hours[rest]), dtype=np.float64)
            expected, est_sum = float(est.mean()), float(est.sum())
        value = (float(window_vals[have].sum()) + est_sum) / len(hours)
        return Valuation(
            kind,
            False,
            value,
            float_usd_to_base(value),
            len(hours),
            int(have.sum()),
            n_rest,
            expected,
            missing,
            ds,
            de,
            now,
        )

    def _power(self, spec: dict[str, Any], chain_now: int, final: bool) -> Valuation:
        iso = spec["iso"]
        tm = self.source.time_map(iso)
        ds, de, now = tm.to_data(spec["delivery_start"]), tm.to_data(spec["delivery_end"]), tm.to_data(chain_now)
        tz, profile = spec["tz"], spec["profile"]
        hours = profile_hours(ds, de, profile, tz, iso)
        if hours.size == 0:
            raise OracleError(f"no {profile} hours in data window [{ds}, {de}); check the replay speed")
        now_h = (now // HOUR) * HOUR  # hours starting before now_h have ended by now
        if self.mark_method == "trailing" or spec["market"] != "DA":
            known_end = now_h
        else:  # day-ahead prices published by now are known, not estimated
            known_end = min(da_known_until(now, iso), max(now_h, int(hours[-1]) + HOUR))
        lookback = max(self.trailing_days, self.seasonal_days if self.mark_method == "blend" else 0)
        lo = min(int(hours[0]), known_end - lookback * DAY)
        series = self.source.power_hourly(iso, spec["node"], spec["market"], lo, known_end)
        px, found = lookup_hours(series.timestamps, series.prices, hours)
        known = hours < known_end

        def same_kind(window_start: int) -> np.ndarray:
            """Hours of the same kind as the window's in [window_start, known_end) that have a price."""
            trail = hours_between(window_start, known_end)
            if profile == "HOURLY":  # the same local clock hour on the previous days
                trail = trail[LocalTime(trail, tz).hour == LocalTime(hours[:1], tz).hour[0]]
            else:
                trail = trail[profile_mask(trail, profile, tz, iso)]
            return trail

        def estimates(unknown: np.ndarray) -> np.ndarray:
            if self.mark_method == "trailing":  # the old rule: mean of the trailing calendar days
                recent = same_kind(known_end - self.trailing_days * DAY)
                rpx, rfound = lookup_hours(series.timestamps, series.prices, recent)
                if not rfound.any():
                    raise NoEstimate(
                        f"no POWER data in the {self.trailing_days} days before data time {known_end} "
                        f"to estimate {len(unknown)} unknown hours"
                    )
                return np.full(len(unknown), float(rpx[rfound].mean()))
            season = same_kind(known_end - self.seasonal_days * DAY)
            spx, sfound = lookup_hours(series.timestamps, series.prices, season)
            if not sfound.any():
                raise NoEstimate(
                    f"no {profile} POWER data in the {self.seasonal_days} days before data time "
                    f"{known_end} to estimate {len(unknown)} unknown hours"
                )
            day = LocalTime(season[sfound], tz).day
            _, inv = np.unique(day, return_inverse=True)
            daily = np.bincount(inv, weights=spx[sfound]) / np.bincount(inv)  # local days in time order
            recent = float(daily[-self.recent_days :].mean())  # R: the last recent_days days of this profile
            level = float(np.median(daily))  # S: robust to a few storm days
            dist_days = np.maximum(unknown - known_end, 0) / DAY
            return level + (recent - level) * np.exp(-dist_days / self.decay_days)

        return self._finish("POWER", final, px, known, found, estimates, ds, de, now, hours, USD_SCALE)

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

        def estimates(unknown: np.ndarray) -> np.ndarray:
            # GPU rental prices move slowly (docs/methodology.md §7): the trailing mean of fixings
            tv = trailing_vals[~np.isnan(trailing_vals)]
            if tv.size == 0:
                raise NoEstimate(
                    f"no COMPUTE data in the {self.trailing_days} days before data time {now} "
                    f"to estimate {len(unknown)} unrealised fixings"
                )
            return np.full(len(unknown), float(tv.mean()))

        # a median of whole-micro-dollar quotes is a whole number of half micro-dollars
        return self._finish(
            "COMPUTE", final, window_vals, realised, found, estimates, ds, de, now, fixings, 2 * USD_SCALE
        )


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
