import datetime as dt

import numpy as np
import pytest

from core.calendar import (
    PEAK_BLOCKS,
    UnknownIso,
    da_known_until,
    hour_ending_label,
    hours_between,
    is_nerc_holiday,
    nerc_holidays,
    peak_block,
    peak_mask,
    profile_hours,
)


def utc(s: str) -> int:
    """'2021-03-12T12:00Z' -> unix seconds."""
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


ET = "America/New_York"

CT = "America/Chicago"


def test_nerc_holidays__2021__sunday_july_4_moves_to_monday_saturday_christmas_stays():
    assert nerc_holidays(2021) == (
        dt.date(2021, 1, 1),
        dt.date(2021, 5, 31),
        dt.date(2021, 7, 5),
        dt.date(2021, 9, 6),
        dt.date(2021, 11, 25),
        dt.date(2021, 12, 25),
    )
    assert not is_nerc_holiday(dt.date(2021, 7, 4))
    assert not is_nerc_holiday(dt.date(2021, 12, 24))  # no Friday substitution for a Saturday holiday


def test_nerc_holidays__2022__sunday_christmas_moves_to_monday_26():
    assert dt.date(2022, 12, 26) in nerc_holidays(2022)
    assert dt.date(2022, 1, 1) in nerc_holidays(2022)  # a Saturday: stays


def test_peak_hours__cst_day__start_1200z_to_0300z():
    # Friday 2021-03-12 is CST (UTC-6): HE07..HE22 = 12:00Z .. 03:00Z (16 hours)
    hours = profile_hours(utc("2021-03-12T06:00Z"), utc("2021-03-13T06:00Z"), "PEAK", CT)
    assert hours[0] == utc("2021-03-12T12:00Z") and hours[-1] == utc("2021-03-13T03:00Z") and len(hours) == 16


def test_peak_hours__cdt_day__shift_one_hour_earlier_in_utc():
    hours = profile_hours(utc("2021-03-15T05:00Z"), utc("2021-03-16T05:00Z"), "PEAK", CT)
    assert hours[0] == utc("2021-03-15T11:00Z") and hours[-1] == utc("2021-03-16T02:00Z") and len(hours) == 16


def test_dst_days__23_and_25_hours__all_offpeak_sundays():
    spring = hours_between(utc("2021-03-14T06:00Z"), utc("2021-03-15T05:00Z"))
    fall = hours_between(utc("2021-11-07T05:00Z"), utc("2021-11-08T06:00Z"))
    assert len(spring) == 23 and len(fall) == 25
    assert not peak_mask(spring, CT).any() and not peak_mask(fall, CT).any()


def test_peak_mask__holiday_monday_july_5_2021__is_offpeak_tuesday_is_peak():
    mon = hours_between(utc("2021-07-05T05:00Z"), utc("2021-07-06T05:00Z"))
    tue = hours_between(utc("2021-07-06T05:00Z"), utc("2021-07-07T05:00Z"))
    assert peak_mask(mon, CT).sum() == 0
    assert peak_mask(tue, CT).sum() == 16


def test_peak_mask__saturday_holiday_friday_before__is_peak():
    fri = hours_between(utc("2021-12-24T06:00Z"), utc("2021-12-25T06:00Z"))
    assert peak_mask(fri, CT).sum() == 16


def test_profile_hours__pjm_block_is_he08_he23_ept_not_ercot_s():
    # Tue 2025-07-01 EDT (UTC-4): HE08..HE23 = intervals starting 07:00..22:00 EDT = 11:00Z..02:00Z
    hours = profile_hours(utc("2025-07-01T04:00Z"), utc("2025-07-02T04:00Z"), "PEAK", ET, "PJM")
    assert hours[0] == utc("2025-07-01T11:00Z") and hours[-1] == utc("2025-07-02T02:00Z") and len(hours) == 16
    assert np.all(np.diff(hours) == 3600)
    assert [hour_ending_label(int(h), ET) for h in hours[[0, -1]]] == ["HE08", "HE23"]


def test_pjm__fall_back_week__25_hour_sunday_offpeak_and_utc_shift():
    fri = profile_hours(utc("2025-10-31T04:00Z"), utc("2025-11-01T04:00Z"), "PEAK", ET, "PJM")  # EDT
    sun = hours_between(utc("2025-11-02T04:00Z"), utc("2025-11-03T05:00Z"))
    mon = profile_hours(utc("2025-11-03T05:00Z"), utc("2025-11-04T05:00Z"), "PEAK", ET, "PJM")  # EST
    assert fri[0] == utc("2025-10-31T11:00Z") and mon[0] == utc("2025-11-03T12:00Z") and len(fri) == len(mon) == 16
    assert len(sun) == 25 and not peak_mask(sun, ET, "PJM").any()


def test_pjm__spring_forward_monday_after__starts_one_hour_earlier_in_utc():
    fri = profile_hours(utc("2025-03-07T05:00Z"), utc("2025-03-08T05:00Z"), "PEAK", ET, "PJM")  # EST
    mon = profile_hours(utc("2025-03-10T04:00Z"), utc("2025-03-11T04:00Z"), "PEAK", ET, "PJM")  # EDT
    assert fri[0] == utc("2025-03-07T12:00Z") and mon[0] == utc("2025-03-10T11:00Z")
    spring = hours_between(utc("2025-03-09T05:00Z"), utc("2025-03-10T04:00Z"))
    assert len(spring) == 23 and not peak_mask(spring, ET, "PJM").any()


def test_pjm__independence_day_friday_2025_is_offpeak_on_real_data():
    from oracle import data
    from oracle.index import power_profile_average

    assert peak_mask(hours_between(utc("2025-07-04T04:00Z"), utc("2025-07-05T04:00Z")), ET, "PJM").sum() == 0
    s = data.load_power("PJM", "AEP-DAYTON HUB", "DA")
    july = power_profile_average(*s, utc("2025-07-01T04:00Z"), utc("2025-08-01T04:00Z"), "PEAK", ET)
    assert july.n_hours == 22 * 16  # 23 weekdays in July 2025 minus the holiday


@pytest.mark.parametrize(
    "iso,tz,day,first_utc,n_hours",
    [
        # (ISO, zone, local weekday date, UTC start of its first peak hour, peak hours that day)
        ("ERCOT", "America/Chicago", "2025-07-01", "2025-07-01T11:00Z", 16),  # HE07 CDT
        ("SPP", "America/Chicago", "2025-07-01", "2025-07-01T11:00Z", 16),  # HE07 CDT
        ("PJM", ET, "2025-07-01", "2025-07-01T11:00Z", 16),  # HE08 EDT
        ("MISO", ET, "2025-07-01", "2025-07-01T11:00Z", 16),  # HE08 EDT
        ("NYISO", ET, "2025-07-01", "2025-07-01T11:00Z", 16),
        ("ISO-NE", ET, "2025-07-01", "2025-07-01T11:00Z", 16),
        ("CAISO", "America/Los_Angeles", "2025-07-01", "2025-07-01T13:00Z", 16),  # HE07 PDT
        ("CAISO", "America/Los_Angeles", "2025-07-05", "2025-07-05T13:00Z", 16),  # WECC 6x16: Saturday is peak
        ("PJM", ET, "2025-07-05", None, 0),  # Saturday: off-peak in the East
        ("ERCOT", "America/Chicago", "2025-12-25", None, 0),  # Christmas (Thursday)
        ("CAISO", "America/Los_Angeles", "2025-12-25", None, 0),
    ],
)
def test_each_iso_block(iso, tz, day, first_utc, n_hours):
    import datetime as _dt
    from zoneinfo import ZoneInfo

    d = _dt.date.fromisoformat(day)
    z = ZoneInfo(tz)
    s = int(_dt.datetime(d.year, d.month, d.day, tzinfo=z).timestamp())
    hours = profile_hours(s, s + 86400, "PEAK", tz, iso)
    assert len(hours) == n_hours
    if first_utc:
        assert hours[0] == utc(first_utc)
        assert hour_ending_label(int(hours[0]), tz) == f"HE{PEAK_BLOCKS[iso].he_first:02d}"


def test_block_table__every_iso_cited_and_tz_lookup_unambiguous():
    assert set(PEAK_BLOCKS) == {"ERCOT", "PJM", "MISO", "SPP", "CAISO", "NYISO", "ISO-NE"}
    assert all(b.source for b in PEAK_BLOCKS.values())
    assert peak_block(tz="America/Chicago").he_first == 7 and peak_block(tz=ET).he_first == 8
    with pytest.raises(UnknownIso):
        peak_block("AESO")
    with pytest.raises(ValueError):
        peak_block("PJM", "America/Chicago")
    with pytest.raises(UnknownIso):
        peak_block(tz="Europe/Berlin")


def test_da_known_until__next_operating_day_from_1330_local():
    # ERCOT: at 13:29 CST on 2021-03-10 the rest of 03-10 (posted on 03-09); at 13:30 all of 03-11 too
    assert da_known_until(utc("2021-03-10T19:29Z"), "ERCOT") == utc("2021-03-11T06:00Z")
    assert da_known_until(utc("2021-03-10T19:30Z"), "ERCOT") == utc("2021-03-12T06:00Z")
    # PJM: 13:30 EDT = 17:30Z; next day ends at 2025-07-03T04:00Z
    assert da_known_until(utc("2025-07-01T17:30Z"), "PJM") == utc("2025-07-03T04:00Z")
    # before 13:30, the current day (published yesterday) is known to its end
    assert da_known_until(utc("2025-07-01T12:00Z"), "PJM") == utc("2025-07-02T04:00Z")
    # an ISO whose publication time is not in the table: only ended hours
    assert da_known_until(utc("2025-07-01T17:45Z"), "CAISO") == utc("2025-07-01T17:00Z")
