"""Which real data period a devnet's clock replays (see docs/methodology.md, "chain time").

The vendored data cover ERCOT 2021-2022, PJM May-Jul 2025 and GPU quotes 19 Oct-16 Nov 2025.
A devnet started at wall-clock time (2026...) lies outside all of them, so the reporters map
chain time onto data time with per-dataset offsets (CSPREAD_ORACLE_REPLAY_OFFSETS); this
module picks them. No price is shifted or invented: only the clock is.
"""

from __future__ import annotations

import datetime as dt
import json

# the vendored data sets (data/SOURCES.md): [first, last) instant a replayed "now" may map to, and where
# to map it when the chain clock is outside (ERCOT: the same calendar date in 2021; others: a fixed day)
_DATA = {
    "ERCOT": (dt.datetime(2021, 1, 8, tzinfo=dt.UTC), dt.datetime(2022, 12, 1, tzinfo=dt.UTC)),
    "PJM": (dt.datetime(2025, 5, 8, tzinfo=dt.UTC), dt.datetime(2025, 7, 31, tzinfo=dt.UTC)),
    "GPU": (dt.datetime(2025, 10, 26, tzinfo=dt.UTC), dt.datetime(2025, 11, 16, tzinfo=dt.UTC)),
}
_ANCHOR = {"PJM": dt.datetime(2025, 7, 10, tzinfo=dt.UTC), "GPU": dt.datetime(2025, 11, 9, tzinfo=dt.UTC)}


def replay_offsets(chain_now: int) -> dict[str, int]:
    """Per-dataset replay offsets (data = chain + s, whole hours) so that the oracle has data at
    the chain's start time: 0 where the clock already lies inside a data set, else a shift.
    ERCOT moves by whole years (same calendar date and hour in 2021), PJM to 2025-07-10 and the
    GPU quotes to 2025-11-09 (they span only 2025-10-19..11-16: marks last ~1 week of chain time)."""
    now = dt.datetime.fromtimestamp(chain_now, dt.UTC).replace(minute=0, second=0, microsecond=0)
    hour = int(now.timestamp())
    out = {}
    for name, (lo, hi) in _DATA.items():
        if lo <= now < hi:
            continue
        if name == "ERCOT":
            day = 28 if (now.month, now.day) == (2, 29) else now.day
            target = now.replace(year=2021, day=day)
            if target < lo:
                target = target.replace(year=2022)
        else:
            target = _ANCHOR[name].replace(hour=now.hour)
        out[name] = int(target.timestamp()) - hour
    return out


def replay_env(chain_now: int) -> dict[str, str]:
    """The reporter environment for a chain whose clock starts at `chain_now` (unix s)."""
    return {"CSPREAD_ORACLE_REPLAY_OFFSETS": json.dumps(replay_offsets(chain_now))}
