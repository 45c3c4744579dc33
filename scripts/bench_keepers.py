"""Keeper benchmarks: liquidator health-scan throughput and blocks from price update to last
liquidation in the Winter Storm Uri shock scenario.

    python -m scripts.bench_keepers            # prints the rows
    from scripts.bench_keepers import run      # rows for `make bench` / BENCHMARKS.md

Each row: {name, value, unit, target}.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core.units import USD_SCALE
from keepers.liquidator import MarketVector, scan
from keepers.positions import PositionBook
from scripts._keepers_env import LIQ_A, SHOCK_AT, Env, handled, liquidatable_at, open_book, wait_until

N_MARKETS = 8
POSITIONS_PER_ACCOUNT = 4


def synthetic_book(n: int, seed: int = 1) -> tuple[PositionBook, MarketVector]:
    """n accounts x 4 positions among 8 markets (sizes/prices in contract units)."""
    rng = np.random.default_rng(seed)
    q = np.zeros((n, N_MARKETS))
    cols = np.argsort(rng.random((n, N_MARKETS)), axis=1)[:, :POSITIONS_PER_ACCOUNT]
    sizes = rng.integers(100, 100_000, (n, POSITIONS_PER_ACCOUNT)) * rng.choice([-1, 1], (n, POSITIONS_PER_ACCOUNT))
    np.put_along_axis(q, cols, sizes, axis=1)
    marks = rng.integers(-50, 5_000, N_MARKETS) * USD_SCALE
    on = np.floor(q * marks * rng.uniform(0.8, 1.2, (n, N_MARKETS)) / 1000)
    coll = rng.integers(1_000, 1_000_000, n) * USD_SCALE
    book = PositionBook()
    book.set_bulk([f"0x{i:040x}" for i in range(n)], q, on, coll, list(range(1, N_MARKETS + 1)))
    mv = MarketVector(
        list(range(1, N_MARKETS + 1)),
        marks.astype(float),
        np.ones(N_MARKETS, bool),
        rng.integers(1, 300, N_MARKETS) * float(USD_SCALE),
        rng.integers(500, 3000, N_MARKETS).astype(float),
        np.zeros(N_MARKETS, bool),
        np.zeros(N_MARKETS, bool),
    )
    return book, mv


def bench_scan(n: int, repeats: int = 5) -> float:
    book, mv = synthetic_book(n)
    q, on, coll = book.view()
    scan(q, on, coll, mv)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        r = scan(q, on, coll, mv)
        order = np.argsort(-r.shortfall[r.liquidatable])  # include the ranking the keeper does
        best = min(best, time.perf_counter() - t)
    del order
    return best


def bench_shock() -> dict:
    """The integration scenario: real reporters + pusher + liquidator on anvil (1 s blocks)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = Env(Path(tmp))
        try:
            shorts = open_book(env)
            liq = env.start_bot("liquidator", LIQ_A, "--poll-interval", "0.1")
            wait_until(lambda: any(line.get("msg") == "startup" for line in liq.lines()), 30, 0.2, "liquidator")
            env.interval_mining(1)
            env.warp_to(SHOCK_AT)
            ev = wait_until(
                lambda: [e for e in env.oracle_events() if e.args.observed_at >= SHOCK_AT], 60, 0.2, "shock push"
            )
            expected = liquidatable_at(env, shorts, ev[0].blockNumber)
            # an insolvent short the empty insurance fund cannot carry is deleveraged, not liquidated
            wait_until(lambda: handled(env) >= expected, 30, 0.2, "liquidations and deleverages")
            last = max(e.blockNumber for e in env.events("Liquidation") + env.events("Deleveraged"))
            return {"blocks": last - ev[0].blockNumber, "accounts": len(expected)}
        finally:
            env.close()


def run(shock: bool = True) -> list[dict]:
    rows = []
    for n in (1_000, 10_000, 100_000):
        s = bench_scan(n)
        rows.append(
            {
                "name": f"liquidator health scan, {n:,} accounts x {POSITIONS_PER_ACCOUNT} positions",
                "value": round(n / s),
                "unit": "accounts/s",
                "target": None,
            }
        )
        if n == 100_000:
            rows.append(
                {
                    "name": "liquidator health scan, 100,000 accounts: compute time after sync",
                    "value": round(s, 4),
                    "unit": "s",
                    "target": "< 1",
                }
            )
    if shock:
        r = bench_shock()
        rows.append(
            {
                "name": f"Uri shock (ERCOT HB_WEST ATC 2021-02-14): blocks from price update to last of "
                f"{r['accounts']} liquidations/deleverages",
                "value": r["blocks"],
                "unit": "blocks",
                "target": "<= 2",
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(shock="--no-shock" not in sys.argv):
        print(f"{row['name']}: {row['value']} {row['unit']} (target {row['target']})")
