"""Marks and settlement values on real data (literals copied from the vendored CSVs and
checked against them in test_oracle_index_power.py / below)."""

from decimal import Decimal

import pytest
from oracle_test_helpers import utc
from test_oracle_index_power import FRI_0312_PEAK, MON_0315_PEAK

from core.specs import compute_spec, power_spec, spread_spec
from oracle import data
from oracle.errors import MissingData, NoEstimate, SeriesUnavailable, WindowOpen
from oracle.index import gpu_index_at
from oracle.sources import ReplaySource
from oracle.timemap import TimeMap
from oracle.valuation import Valuer

CT = "America/Chicago"


# HB_WEST DA, 2021-03-09T12:00Z .. 2021-03-10T11:00Z (24 hours; the last 6 fall on 2021-03-10 CST)
TRAIL_24 = [
    4.88,
    5.66,
    3.41,
    1.82,
    0.97,
    0.80,
    0.99,
    1.75,
    1.64,
    0.44,
    1.02,
    2.80,
    11.81,
    5.66,
    3.52,
    0.80,
    1.76,
    -0.28,
    -0.29,
    -1.19,
    -0.77,
    -0.29,
    -0.28,
    5.37,
]


def test_trail_literals_are_real():
    s = data.load_power("ERCOT", "HB_WEST", "DA")
    i = int((utc("2021-03-09T12:00Z") - s.timestamps[0]) // 3600)
    assert list(s.prices[i : i + 24]) == TRAIL_24


OLD = {"mark_method": "trailing"}  # the previous mark rule, kept to measure old against new


def test_mark__day_ahead_prices_published_the_day_before_count_as_known():
    # ATC of Thu 2021-03-11 (CST). ERCOT posts DAM results for it by 13:30 CST on 03-10 = 19:30Z.
    spec = power_spec("ERCOT", "HB_WEST", "DA", "ATC", utc("2021-03-11T06:00Z"), utc("2021-03-12T06:00Z"))
    valuer = Valuer(ReplaySource())
    before = valuer.mark(spec, utc("2021-03-10T19:29Z"))
    after = valuer.mark(spec, utc("2021-03-10T19:30Z"))
    final = valuer.settlement(spec, utc("2021-03-12T06:00Z"))
    assert (before.n_realised, before.n_expected) == (0, 24)
    assert (after.n_realised, after.n_expected) == (24, 0) and after.price_units == final.price_units
    # the old rule ignored published prices: nothing known until the hours had ended
    assert Valuer(ReplaySource(), **OLD).mark(spec, utc("2021-03-10T19:30Z")).n_realised == 0


def test_mark__real_time_market__only_ended_hours_are_known():
    # PJM RT has no day-ahead publication: at 12:00Z the hours 04:00Z..11:00Z of 2025-07-01 EDT have ended
    spec = power_spec("PJM", "WESTERN HUB", "RT", "ATC", utc("2025-07-01T04:00Z"), utc("2025-07-02T04:00Z"))
    v = Valuer(ReplaySource()).mark(spec, utc("2025-07-01T12:00Z"))
    assert (v.n_realised, v.n_expected) == (8, 16)


def test_mark__estimate_shrinks_from_recent_to_seasonal_level_with_distance():
    # Feb 2021 at HB_WEST, observed Tue 02-16 00:00 CST in the storm: the DA prices of 02-16 are
    # known; the estimate for 02-17 is near the storm level, for 02-28 near the 28-day median
    spec = power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", utc("2021-02-17T12:00Z"), utc("2021-02-17T13:00Z"))
    late = power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", utc("2021-02-28T12:00Z"), utc("2021-02-28T13:00Z"))
    now = utc("2021-02-16T06:00Z")
    near, far = (Valuer(ReplaySource()).mark(x, now).price_usd for x in (spec, late))
    old_far = Valuer(ReplaySource(), **OLD).mark(late, now).price_usd
    assert far < near and far < 100 < old_far


def test_mark__old_rule__during_delivery__realised_plus_trailing_estimate():
    spec = power_spec("ERCOT", "HB_WEST", "DA", "ATC", utc("2021-03-10T06:00Z"), utc("2021-03-11T06:00Z"))
    v = Valuer(ReplaySource(), trailing_days=1, **OLD).mark(spec, utc("2021-03-10T12:00Z"))
    realised = TRAIL_24[-6:]  # 06:00Z..11:00Z have ended at 12:00Z
    expected = sum(TRAIL_24) / 24  # trailing 24 h mean = 55.61 / 24
    hand = (sum(realised) + expected * 18) / 24
    assert (v.n_hours, v.n_realised, v.n_expected) == (24, 6, 18)
    assert v.expected_usd == pytest.approx(expected, abs=1e-12)
    assert v.price_usd == pytest.approx(hand, abs=1e-12) and not v.final


def test_mark__old_rule__before_delivery__trailing_peak_mean():
    # Mon 2021-03-15 PEAK, observed Sat 03-13 00:00 CST with a 1-day trailing window = Fri 03-12
    spec = power_spec("ERCOT", "HB_WEST", "DA", "PEAK", utc("2021-03-15T05:00Z"), utc("2021-03-16T05:00Z"))
    v = Valuer(ReplaySource(), trailing_days=1, **OLD).mark(spec, utc("2021-03-13T06:00Z"))
    assert (v.n_realised, v.n_expected) == (0, 16)
    assert v.price_usd == pytest.approx(sum(FRI_0312_PEAK) / 16, abs=1e-12)


def test_mark__trailing_window_only_holiday_and_weekend__no_estimate():
    # Tue 2021-07-06 PEAK seen at Tue 00:00 CDT: the 2 previous days are Sunday and the Monday holiday
    spec = power_spec("ERCOT", "HB_WEST", "DA", "PEAK", utc("2021-07-06T05:00Z"), utc("2021-07-07T05:00Z"))
    with pytest.raises(NoEstimate):
        Valuer(ReplaySource(), trailing_days=2, **OLD).mark(spec, utc("2021-07-06T05:00Z"))
    # default rule, Sun 07-04 12:00 CDT (before the 13:30 DAM posting): prices are known through
    # Sun 07-04, and the 2 known days before that (Sat, Sun) hold no PEAK hour
    spec = power_spec("ERCOT", "HB_WEST", "DA", "PEAK", utc("2021-07-07T05:00Z"), utc("2021-07-08T05:00Z"))
    with pytest.raises(NoEstimate):
        Valuer(ReplaySource(), trailing_days=2, seasonal_days=2).mark(spec, utc("2021-07-04T17:00Z"))


def test_mark__hourly__same_local_hour_previous_day():
    # 2021-03-10 03:00 CST hour, seen at 00:00 CST: yesterday's 03:00 CST = 2021-03-09T09:00Z = -1.74
    h = utc("2021-03-10T09:00Z")
    v = Valuer(ReplaySource(), trailing_days=1, **OLD).mark(
        power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", h, h + 3600), utc("2021-03-10T06:00Z")
    )
    assert v.price_units == -1_740_000


def test_settlement__before_end__raises_window_open():
    spec = power_spec("ERCOT", "HB_WEST", "DA", "PEAK", utc("2021-03-12T06:00Z"), utc("2021-03-16T05:00Z"))
    with pytest.raises(WindowOpen):
        Valuer(ReplaySource()).settlement(spec, utc("2021-03-16T05:00Z") - 1)


def test_settlement__after_end__full_window_and_mark_agrees():
    spec = power_spec("ERCOT", "HB_WEST", "DA", "PEAK", utc("2021-03-12T06:00Z"), utc("2021-03-16T05:00Z"))
    valuer = Valuer(ReplaySource())
    s = valuer.settlement(spec, utc("2021-03-16T05:00Z"))
    # exact: the sum is 941.49 over 32 hours = 29.4215625, a tie at the micro-dollar -> half-even 29.421562
    hand = sum(Decimal(str(x)) for x in FRI_0312_PEAK + MON_0315_PEAK) / 32
    assert hand == Decimal("29.4215625")
    assert s.final and s.n_hours == 32 and s.price_units == 29_421_562
    assert valuer.mark(spec, utc("2021-03-20T00:00Z")).price_units == s.price_units


def test_settlement__missing_hours__raises_with_list():
    spec = power_spec("ERCOT", "HB_WEST", "DA", "ATC", utc("2023-01-01T05:00Z"), utc("2023-01-01T08:00Z"))
    with pytest.raises(MissingData) as e:
        Valuer(ReplaySource()).settlement(spec, utc("2023-01-02T00:00Z"))
    assert e.value.missing == (utc("2023-01-01T06:00Z"), utc("2023-01-01T07:00Z"))


def test_mark__ercot_real_time__unavailable():
    spec = power_spec("ERCOT", "HB_WEST", "RT", "ATC", utc("2021-03-10T06:00Z"), utc("2021-03-11T06:00Z"))
    with pytest.raises(SeriesUnavailable):
        Valuer(ReplaySource()).mark(spec, utc("2021-03-10T12:00Z"))


def test_compute_settlement__mean_of_hourly_fixings():
    q = data.load_gpu_quotes("H100-SXM")
    s, e = utc("2025-10-22T08:00Z"), utc("2025-10-22T10:00Z")
    v = Valuer(ReplaySource()).settlement(compute_spec("H100-SXM", s, e), e)
    fix = [gpu_index_at(*q, t).value for t in (s, s + 3600)]
    # 08:00 predates the 08:37:21 snapshot, 09:00 sees it (index 2.40, see test_oracle_index_gpu)
    assert fix[1] == 2.40 and v.n_hours == 2
    assert v.price_units == int((Decimal(str(fix[0])) + Decimal(str(fix[1]))) / 2 * 10**6)


def test_spread__per_dataset_time_maps__uri_hour_against_gpu_hour():
    """Chain hour 2026-12-03T14:00Z replays ERCOT 2021-02-17T06:00Z ($9,000.01) and GPU 2025-10-22T09:00Z (2.69)."""
    x = utc("2026-12-03T14:00Z")
    source = ReplaySource(
        time_maps={
            "ERCOT": TimeMap.from_offset(utc("2021-02-17T06:00Z") - x),
            "GPU": TimeMap.from_offset(utc("2025-10-22T09:00Z") - x),
        }
    )
    spec = spread_spec(
        compute_spec("H100-SXM", x, x + 3600), power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", x, x + 3600), "0.0012"
    )
    v = Valuer(source).settlement(spec, x + 3600)
    # 2.40 - 0.0012 x 9000.01 = 2.40 - 10.800012 = -8.400012
    assert v.price_units == -8_400_012 and v.kind == "SPREAD"
    legs = dict(v.legs)
    assert legs["power"].price_usd == 9000.01 and legs["compute"].price_usd == 2.40


def test_timemap__speed_and_inverse():
    tm = TimeMap(chain_anchor=1_000, data_anchor=50_000, speed=24.0)
    assert tm.to_data(1_000 + 3600) == 50_000 + 86_400
    assert tm.to_data(tm.to_chain(123_456)) >= 123_456
    with pytest.raises(ValueError):
        TimeMap(speed=0)


def test_carry_forward__last_valid_value_up_to_max_age():
    import numpy as np

    from oracle.valuation import carry_forward

    t = np.arange(6, dtype=np.int64) * 3600
    v = np.array([np.nan, 2.69, np.nan, np.nan, 5.69, np.nan])
    out = carry_forward(t, v, 3600)
    np.testing.assert_array_equal(out, [np.nan, 2.69, 2.69, np.nan, 5.69, 5.69])
    np.testing.assert_array_equal(carry_forward(t, v, 0), v)


def test_mark__uri__worst_overshoot_cut_at_least_in_half_and_other_months_not_worse():
    """Issue 9's acceptance on the real data (the full table is docs/methodology.md §7, made by
    scripts/methodology.py): HB_WEST ATC, marks every 3 h through Feb 2021; days 5/10/15/20 of
    every other month."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from core.specs import month_window

    src = ReplaySource()
    new, old = Valuer(src), Valuer(src, **OLD)
    s, e = month_window(2021, 2, CT)
    feb = power_spec("ERCOT", "HB_WEST", "DA", "ATC", s, e)
    final = new.settlement(feb, e).price_usd
    over = {
        name: max(v.mark(feb, t).price_usd for t in range(s, e, 3 * 3600)) - final
        for name, v in (("old", old), ("new", new))
    }
    assert over["old"] > 1800 and over["new"] <= over["old"] / 2
    errs = {"old": [], "new": []}
    for y, m in [(y, m) for y in (2021, 2022) for m in range(1, 13) if (y, m) != (2021, 2)]:
        ms, me = month_window(y, m, CT)
        spec = power_spec("ERCOT", "HB_WEST", "DA", "ATC", ms, me)
        fin = new.settlement(spec, me).price_usd
        for d in (5, 10, 15, 20):
            t = int(dt.datetime(y, m, d, tzinfo=ZoneInfo(CT)).timestamp())
            for name, v in (("old", old), ("new", new)):
                errs[name].append(abs(v.mark(spec, t).price_usd - fin))
    assert sum(errs["new"]) <= sum(errs["old"])
