"""Per-ISO peak blocks, NERC holidays and profile hour masks, in each ISO's local prevailing time.

The data are hourly and keyed by the UTC start of each hour; delivery profiles are defined
by the ISO in its local prevailing time. :data:`PEAK_BLOCKS` is the one table of them
(cited row by row in ``docs/methodology.md`` §5): e.g. ERCOT HE07-HE22 CPT Mon-Fri, PJM
HE08-HE23 EPT Mon-Fri, CAISO HE07-HE22 PPT Mon-Sat, all excluding NERC holidays.

Hours are labelled the way US ISOs publish day-ahead prices: **hour ending** (HE01..HE24).
``HE17`` is the interval 16:00-17:00 local; the block HE07-HE22 is the intervals *starting*
06:00..21:00. Local time is derived per hour with ``zoneinfo`` so both DST days are exact:
the spring-forward day simply has 23 hours, the fall-back day 25 (the repeated 01:00 hour,
HE02 twice, is off-peak in every block).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import numpy as np

PROFILES = ("ATC", "PEAK", "OFFPEAK", "HOURLY")
HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class PeakBlock:
    """An ISO's standard on-peak block: hour-ending ``he_first``..``he_last`` local, on ``days``.

    ``days`` are weekday numbers (Mon=0); NERC holidays are off-peak in every block.
    ``da_publish`` is the local clock time (hours after midnight) by which the ISO's
    day-ahead prices for the next operating day are published, or None where the oracle
    has not verified it (those ISOs' DA hours then count as known only once delivered).
    """

    iso: str
    tz: str
    he_first: int  # first hour-ending label of the block, 1..24
    he_last: int  # last hour-ending label, inclusive
    days: tuple[int, ...]
    da_publish: float | None
    source: str  # where the definition comes from (docs/methodology.md cites it)

    @property
    def label(self) -> str:
        names = (
            "Mon-Fri"
            if self.days == (0, 1, 2, 3, 4)
            else "Mon-Sat"
            if self.days == (0, 1, 2, 3, 4, 5)
            else str(self.days)
        )
        return f"HE{self.he_first:02d}-HE{self.he_last:02d} {TZ_ABBREV[self.tz]} {names} excl. NERC holidays"

    @property
    def first_start_hour(self) -> int:
        """Local clock hour at which the first interval of the block starts (HE07 -> 6)."""
        return self.he_first - 1

    @property
    def last_start_hour(self) -> int:
        return self.he_last - 1


TZ_ABBREV = {"America/Chicago": "CPT", "America/New_York": "EPT", "America/Los_Angeles": "PPT"}
_WEEKDAYS, _WEEKDAYS_SAT = (0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5)

# The one table of ISO peak blocks. "Prevailing" time = the local civil time with DST.
PEAK_BLOCKS: dict[str, PeakBlock] = {
    b.iso: b
    for b in (
        PeakBlock(
            "ERCOT",
            "America/Chicago",
            7,
            22,
            _WEEKDAYS,
            13.5,
            "ERCOT 5x16 on-peak (ICE ERCOT North 345KV Peak / CME ERCOT contracts: HE0700-2200 CPT Mon-Fri, "
            "excl. NERC holidays); DAM results posted by 13:30 CPT (ERCOT Nodal Protocols, DAM timeline)",
        ),
        PeakBlock(
            "PJM",
            "America/New_York",
            8,
            23,
            _WEEKDAYS,
            13.5,
            "PJM on-peak (PJM Manual 11 / ICE and CME PJM Western Hub Peak: HE0800-2300 EPT Mon-Fri, "
            "excl. NERC holidays); DA results posted by 13:30 EPT (PJM Manual 11, day-ahead market timeline)",
        ),
        PeakBlock(
            "MISO",
            "America/New_York",
            8,
            23,
            _WEEKDAYS,
            None,
            "MISO Indiana Hub on-peak (ICE / CME MISO Indiana Hub Peak: HE0800-2300 EPT Mon-Fri, excl. NERC holidays; "
            "MISO's own market clock is EST all year, so its prices must be mapped to UTC before this block applies)",
        ),
        PeakBlock(
            "SPP",
            "America/Chicago",
            7,
            22,
            _WEEKDAYS,
            None,
            "SPP on-peak (ICE SPP South Hub Peak: HE0700-2200 CPT Mon-Fri, excl. NERC holidays)",
        ),
        PeakBlock(
            "CAISO",
            "America/Los_Angeles",
            7,
            22,
            _WEEKDAYS_SAT,
            None,
            "WECC 6x16 on-peak (ICE SP-15 / NP-15 Peak: HE0700-2200 PPT Mon-Sat, excl. NERC holidays)",
        ),
        PeakBlock(
            "NYISO",
            "America/New_York",
            8,
            23,
            _WEEKDAYS,
            None,
            "NYISO on-peak (ICE NYISO Zone A / G / J Peak: HE0800-2300 EPT Mon-Fri, excl. NERC holidays)",
        ),
        PeakBlock(
            "ISO-NE",
            "America/New_York",
            8,
            23,
            _WEEKDAYS,
            None,
            "ISO-NE on-peak (ICE / CME Mass Hub Peak: HE0800-2300 EPT Mon-Fri, excl. NERC holidays)",
        ),
    )
}
ISO_TZ: dict[str, str] = {iso: b.tz for iso, b in PEAK_BLOCKS.items()}


class UnknownIso(ValueError):
    """No peak block is defined for this ISO (PEAK/OFFPEAK cannot be evaluated)."""


def peak_block(iso: str | None = None, tz: str | None = None) -> PeakBlock:
    """The block of ``iso``; without an ISO, the block shared by every ISO of ``tz``.

    The tz fallback exists for callers that only carry a time zone: in the table every ISO
    of one zone has the same block, and this is checked here, so it is never a guess.
    """
    if iso is not None:
        try:
            b = PEAK_BLOCKS[iso]
        except KeyError:
            raise UnknownIso(f"no peak block defined for ISO {iso!r}; known: {', '.join(PEAK_BLOCKS)}") from None
        if tz is not None and tz != b.tz:
            raise ValueError(f"{iso}'s peak block is defined in {b.tz}, not {tz}")
        return b
    blocks = {(b.he_first, b.he_last, b.days): b for b in PEAK_BLOCKS.values() if b.tz == tz}
    if len(blocks) != 1:
        raise UnknownIso(f"cannot tell the peak block from time zone {tz!r} alone; pass the ISO")
    return next(iter(blocks.values()))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """n-th (1-based) ``weekday`` (Mon=0) of a month; n=-1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


@cache
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


def peak_mask(ts: np.ndarray, tz: str, iso: str | None = None) -> np.ndarray:
    """True for hours (UTC starts) in the ISO's peak block (see :data:`PEAK_BLOCKS`)."""
    b = peak_block(iso, tz)
    lt = LocalTime(ts, b.tz)
    return (
        np.isin(lt.weekday, b.days)
        & (lt.hour >= b.first_start_hour)
        & (lt.hour <= b.last_start_hour)
        & ~lt.is_holiday()
    )


def profile_mask(ts: np.ndarray, profile: str, tz: str, iso: str | None = None) -> np.ndarray:
    """Which hours belong to ``profile``. ATC and HOURLY keep every hour given."""
    ts = np.asarray(ts, dtype=np.int64)
    if profile in ("ATC", "HOURLY"):
        return np.ones(ts.shape, dtype=bool)
    if profile == "PEAK":
        return peak_mask(ts, tz, iso)
    if profile == "OFFPEAK":
        return ~peak_mask(ts, tz, iso)
    raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")


def hour_ending_label(ts: int, tz: str) -> str:
    """``HE17`` for the hour starting 16:00 local; ``HE24`` ends at midnight.

    The label is the start hour + 1 in the start's own offset, as the ISOs publish: on the
    fall-back day both 01:00 intervals are ``HE02`` (callers add the zone to tell them
    apart), on the spring-forward day ``HE03`` does not exist.
    """
    s = dt.datetime.fromtimestamp(int(ts), ZoneInfo(tz))
    return f"HE{s.hour + 1:02d}"


def da_known_until(now: int, iso: str) -> int:
    """End (UTC, exclusive) of the hours whose day-ahead price is published by ``now``.

    Day-ahead prices for operating day D are published on D-1 at the block's
    ``da_publish`` local time, so from then every hour of D is known. Where the
    publication time is not in the table only hours that have ended count.
    """
    b = PEAK_BLOCKS.get(iso)
    ended = (int(now) // HOUR) * HOUR
    if b is None or b.da_publish is None:
        return ended
    z = ZoneInfo(b.tz)
    local = dt.datetime.fromtimestamp(int(now), z)
    publish = dt.datetime.combine(local.date(), dt.time(int(b.da_publish), int(round(b.da_publish % 1 * 60))), z)
    last_day = local.date() + dt.timedelta(days=1 if local >= publish else 0)  # last operating day with prices
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), z)
    return max(ended, int(end.timestamp()))


def hours_between(start: int, end: int) -> np.ndarray:
    """UTC hour starts h with start <= h < end (start rounded up to a whole hour)."""
    first = -(-int(start) // HOUR) * HOUR
    return np.arange(first, int(end), HOUR, dtype=np.int64)


def profile_hours(start: int, end: int, profile: str, tz: str, iso: str | None = None) -> np.ndarray:
    """Delivery hours (UTC starts) of ``profile`` within [start, end); PEAK is ``iso``'s block."""
    h = hours_between(start, end)
    return h[profile_mask(h, profile, tz, iso)]


def profile_words(spec: dict) -> str | None:
    """The block a POWER spec's (or a SPREAD's power leg's) PEAK/OFFPEAK profile names, in words."""
    power = spec.get("power", spec) if spec.get("kind") == "SPREAD" else spec
    if power.get("kind") != "POWER" or power.get("profile") not in ("PEAK", "OFFPEAK"):
        return None
    b = peak_block(power["iso"])
    return ("" if power["profile"] == "PEAK" else "every hour outside ") + f"{b.iso} peak {b.label}"
