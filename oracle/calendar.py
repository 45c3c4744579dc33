"""NERC holidays and profile hour masks, in an ISO's local prevailing time.

The data are hourly and keyed by the UTC start of each hour; delivery profiles are
defined in local time (PEAK = hour-ending HE07..HE22, i.e. intervals starting 06:00..21:00
local, Monday-Friday, excluding NERC holidays). Local time is derived per hour with
``zoneinfo`` so both DST days are exact: the spring-forward day simply has 23 hours, the
fall-back day 25 (the repeated 01:00 hour is off-peak either way).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

PROFILES = ("ATC", "PEAK", "OFFPEAK", "HOURLY")
PEAK_FIRST_HOUR, PEAK_LAST_HOUR = 6, 21  # local start hours of HE07 and HE22
HOUR = 3600
DAY = 86400


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """n-th (1-based) ``weekday`` (Mon=0) of a month; n=-1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


@lru_cache(maxsize=None)
def nerc_holidays(year: int) -> tuple[dt.date, ...]:
    """The six NERC off-peak holidays of ``year`` as observed.

    New Year's Day, Memorial Day (last Mon of May), Independence Day, Labor Day (first Mon
    of Sep), Thanksgiving (4th Thu of Nov), Christmas. A fixed-date holiday on a Sunday is
    observed on the Monday after; on a Saturday it is *not* moved (NERC rule), so that
    Saturday is off-peak anyway and the Friday before stays a peak day.
    """

    def observed(d: dt.date) -> dt.date:
        return d + dt.timedelta(days=1) if d.weekday() == 6 else d

    return (
        observed(dt.date(year, 1, 1)),
        _nth_weekday(year, 5, 0, -1),
        observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),
        _nth_weekday(year, 11, 3, 4),
        observed(dt.date(year, 12, 25)),
    )


def is_nerc_holiday(day: dt.date) -> bool:
    return day in nerc_holidays(day.year)


@lru_cache(maxsize=1 << 18)
def _utc_offset(tz: str, ts: int) -> int:
    return int(dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).utcoffset().total_seconds())


def utc_offsets(ts: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset in seconds (local = utc + offset) for each timestamp, DST-exact."""
    ts = np.asarray(ts, dtype=np.int64)
    uniq, inv = np.unique(ts, return_inverse=True)
    offs = np.fromiter((_utc_offset(tz, int(t)) for t in uniq), dtype=np.int64, count=len(uniq))
    return offs[inv].reshape(ts.shape)


class LocalTime:
    """Vectorised local calendar fields of UTC timestamps in a time zone."""

    def __init__(self, ts: np.ndarray, tz: str):
        ts = np.asarray(ts, dtype=np.int64)
        local = ts + utc_offsets(ts, tz)
        self.day = local // DAY  # local calendar day number (days since 1970-01-01)
        self.hour = (local % DAY) // HOUR  # local clock hour 0..23 of the interval start
        self.weekday = (self.day + 3) % 7  # Mon=0 (1970-01-01 was a Thursday)

    def is_holiday(self) -> np.ndarray:
        if self.day.size == 0:
            return np.zeros(0, dtype=bool)
        lo, hi = (dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in (self.day.min(), self.day.max()))
        epoch = dt.date(1970, 1, 1)
        hol = [(d - epoch).days for y in range(lo.year, hi.year + 1) for d in nerc_holidays(y)]
        return np.isin(self.day, np.asarray(hol, dtype=np.int64))


def peak_mask(ts: np.ndarray, tz: str) -> np.ndarray:
    """True for hours (UTC starts) that are PEAK: 06:00..21:00 local start, Mon-Fri, no NERC holiday."""
    lt = LocalTime(ts, tz)
    return (lt.weekday < 5) & (lt.hour >= PEAK_FIRST_HOUR) & (lt.hour <= PEAK_LAST_HOUR) & ~lt.is_holiday()


def profile_mask(ts: np.ndarray, profile: str, tz: str) -> np.ndarray:
    """Which hours belong to ``profile``. ATC and HOURLY keep every hour given."""
    ts = np.asarray(ts, dtype=np.int64)
    if profile in ("ATC", "HOURLY"):
        return np.ones(ts.shape, dtype=bool)
    if profile == "PEAK":
        return peak_mask(ts, tz)
    if profile == "OFFPEAK":
        return ~peak_mask(ts, tz)
    raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")


def hours_between(start: int, end: int) -> np.ndarray:
    """UTC hour starts h with start <= h < end (start rounded up to a whole hour)."""
    first = -(-int(start) // HOUR) * HOUR
    return np.arange(first, int(end), HOUR, dtype=np.int64)


def profile_hours(start: int, end: int, profile: str, tz: str) -> np.ndarray:
    """Delivery hours (UTC starts) of ``profile`` within [start, end)."""
    h = hours_between(start, end)
    return h[profile_mask(h, profile, tz)]
