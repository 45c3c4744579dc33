"""POWER profile averages on real ERCOT HB_WEST day-ahead prices.

Every price list below is copied from data/ercot_dam_hubs_2021_2022.csv.gz (UTC hour
starts given); the expected numbers are computed here from those literals, independently
of the code under test. ``test_literals_are_real`` checks the literals against the file.
"""

from decimal import Decimal

import pytest
from oracle_test_helpers import utc

from core.units import float_usd_to_base as to_units
from oracle import data
from oracle.index import power_profile_average, spread_price

CT = "America/Chicago"


# Fri 2021-03-12 (CST): PEAK = 12:00Z..03:00Z
FRI_0312_PEAK = [
    15.85,
    16.69,
    16.33,
    18.32,
    20.01,
    23.28,
    22.52,
    24.93,
    25.44,
    26.97,
    31.45,
    29.74,
    41.96,
    22.77,
    20.44,
    15.98,
]
# Mon 2021-03-15, first weekday after the spring-forward Sunday (CDT): PEAK = 11:00Z..02:00Z
MON_0315_PEAK = [
    18.91,
    21.71,
    22.95,
    23.15,
    23.99,
    25.69,
    29.50,
    33.01,
    34.01,
    40.34,
    42.66,
    41.13,
    59.89,
    73.29,
    49.61,
    28.97,
]
# Tue 2021-07-06 (CDT): PEAK = 11:00Z..02:00Z; Mon 07-05 is the observed Independence Day
TUE_0706_PEAK = [
    24.89,
    26.40,
    30.21,
    29.01,
    31.01,
    33.49,
    33.93,
    39.47,
    39.42,
    48.88,
    49.52,
    45.95,
    37.75,
    37.13,
    34.17,
    32.05,
]
# 2021-03-09 06:00Z..11:00Z: negative overnight prices
NEG_0309 = [-0.67, -1.66, -1.57, -1.74, -0.60, -0.28]
# Winter Storm Uri, 2021-02-17 06:00Z..11:00Z (the $9,000 cap hours)
URI_0217 = [9000.01, 9000.00, 9000.00, 9000.01, 9000.01, 9000.00]

LITERALS = [
    ("2021-03-12T12:00Z", FRI_0312_PEAK),
    ("2021-03-15T11:00Z", MON_0315_PEAK),
    ("2021-07-06T11:00Z", TUE_0706_PEAK),
    ("2021-03-09T06:00Z", NEG_0309),
    ("2021-02-17T06:00Z", URI_0217),
]


@pytest.fixture(scope="module")
def west():
    return data.load_power("ERCOT", "HB_WEST", "DA")


@pytest.mark.parametrize("start, prices", LITERALS)
def test_literals_are_real(west, start, prices):
    i = int((utc(start) - west.timestamps[0]) // 3600)
    assert west.timestamps[i] == utc(start)
    assert list(west.prices[i : i + len(prices)]) == prices


def test_peak__across_spring_forward__uses_local_he07_he22_on_both_sides(west):
    # window: Fri 2021-03-12 00:00 CST .. Tue 2021-03-16 00:00 CDT (weekend incl. the 23-hour Sunday)
    avg = power_profile_average(*west, utc("2021-03-12T06:00Z"), utc("2021-03-16T05:00Z"), "PEAK", CT)
    hand = (sum(FRI_0312_PEAK) + sum(MON_0315_PEAK)) / 32
    assert avg.n_hours == 32 and avg.missing_hours == ()
    assert avg.value == pytest.approx(hand, abs=1e-12)
    assert avg.units == to_units(Decimal(str(sum(Decimal(str(p)) for p in FRI_0312_PEAK + MON_0315_PEAK))) / 32)


def test_offpeak__spring_forward_window__is_complement(west):
    s, e = utc("2021-03-12T06:00Z"), utc("2021-03-16T05:00Z")
    atc = power_profile_average(*west, s, e, "ATC", CT)
    off = power_profile_average(*west, s, e, "OFFPEAK", CT)
    assert atc.n_hours == 24 + 24 + 23 + 24 and off.n_hours == atc.n_hours - 32
    peak_sum = sum(FRI_0312_PEAK) + sum(MON_0315_PEAK)
    assert off.total == pytest.approx(atc.total - peak_sum, abs=1e-9)


def test_peak__nerc_holiday_monday_july_5_2021__excluded(west):
    # window Mon 07-05 00:00 .. Wed 07-07 00:00 CDT: only Tuesday has PEAK hours
    avg = power_profile_average(*west, utc("2021-07-05T05:00Z"), utc("2021-07-07T05:00Z"), "PEAK", CT)
    assert avg.n_hours == 16
    assert avg.value == pytest.approx(sum(TUE_0706_PEAK) / 16, abs=1e-12)  # 573.28 / 16 = 35.83
    assert avg.units == 35_830_000


def test_atc__negative_prices__average_and_units_negative(west):
    avg = power_profile_average(*west, utc("2021-03-09T06:00Z"), utc("2021-03-09T12:00Z"), "ATC", CT)
    # (-0.67 - 1.66 - 1.57 - 1.74 - 0.60 - 0.28) / 6 = -6.52 / 6 = -1.08666..., half-even -> -1.086667
    assert avg.value == pytest.approx(-6.52 / 6, abs=1e-12)
    assert avg.units == -1_086_667


def test_hourly__negative_hour(west):
    avg = power_profile_average(*west, utc("2021-03-09T09:00Z"), utc("2021-03-09T10:00Z"), "HOURLY", CT)
    assert avg.units == -1_740_000 and avg.n_hours == 1


def test_atc__winter_storm_uri_cap_hours(west):
    avg = power_profile_average(*west, utc("2021-02-17T06:00Z"), utc("2021-02-17T12:00Z"), "ATC", CT)
    # (3 x 9000.01 + 3 x 9000.00) / 6 = 9000.005
    assert avg.units == 9_000_005_000


def test_missing_hours__reported_not_averaged(west):
    # ERCOT data ends 2023-01-01T05:00Z (last hour start); a window running 3 hours past it
    avg = power_profile_average(*west, utc("2023-01-01T04:00Z"), utc("2023-01-01T09:00Z"), "ATC", CT)
    assert avg.value is None and avg.units is None and avg.n_present == 2
    assert avg.missing_hours == (utc("2023-01-01T06:00Z"), utc("2023-01-01T07:00Z"), utc("2023-01-01T08:00Z"))


def test_spread_price__exact_decimal():
    # GPU index 2.69 $/GPU-h minus 0.0012 MWh x 9000.01 $/MWh = 2.69 - 10.800012 = -8.110012
    assert spread_price(2.69, 9000.01, "0.0012") == Decimal("-8.110012")
    assert to_units(spread_price(2.69, -1.74, "0.0012")) == 2_692_088
