"""Index methodology throughput on the vendored real data (no new prices: real rows repeated)."""

from __future__ import annotations

import time

import numpy as np

from oracle import data
from oracle.index import gpu_index_batch, power_profile_average


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run() -> list[dict]:
    rows = []
    q = data.load_gpu_quotes("H100-SXM")
    span = int(q.timestamps.max() - q.timestamps.min()) + 86400
    reps = 200  # the real H100 rows on 200 shifted clocks
    ts = np.concatenate([q.timestamps + i * span for i in range(reps)])
    prov, px, n = np.tile(q.providers, reps), np.tile(q.prices, reps), np.tile(q.n_listings, reps)
    times = np.unique(ts)
    dt = _best(lambda: gpu_index_batch(ts, prov, px, n, times), 2)
    rows.append(
        {
            "name": f"GPU index, {len(ts):,} quotes at {len(times):,} fixing times",
            "value": round(len(ts) / dt),
            "unit": "quotes/s",
            "target": ">= 1,000,000",
        }
    )

    s = data.load_power("ERCOT", "HB_WEST", "DAM")
    start, end = int(s.timestamps.min()), int(s.timestamps.max()) + 3600
    for profile in ("ATC", "PEAK"):
        dt = _best(lambda: power_profile_average(s.timestamps, s.prices, start, end, profile, "America/Chicago"))  # noqa: B023 - timed now
        rows.append(
            {
                "name": f"{profile} average over ERCOT HB_WEST 2021-2022 ({(end - start) // 3600:,} h)",
                "value": round((end - start) / 3600 / dt),
                "unit": "hours/s",
                "target": "",
            }
        )
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
