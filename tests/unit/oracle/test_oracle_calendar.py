import datetime as dt

import numpy as np

from oracle.calendar import hours_between, is_nerc_holiday, nerc_holidays, peak_mask, profile_hours
from oracle_test_helpers import utc

CT = "America/Chicago"



def test_nerc_holidays__2021__sunday_july_4_moves_to_monday_saturday_christmas_stays():
    assert nerc_holidays(2021) == (
        dt.date(2021, 1, 1), dt.date(2021, 5, 31), dt.date(2021, 7, 5),
        dt.date(2021, 9, 6), dt.date(2021, 11, 25), dt.date(2021, 12, 25),
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


def test_profile_hours__pjm_eastern_peak():
    hours = profile_hours(utc("2025-07-01T04:00Z"), utc("2025-07-02T04:00Z"), "PEAK", "America/New_York")
    assert hours[0] == utc("2025-07-01T10:00Z") and len(hours) == 16
    assert np.all(np.diff(hours) == 3600)
