"""scripts.bench_margin_gas: its markets file lists enough distinct markets to hold 33."""

from __future__ import annotations

from scripts import bench_margin_gas as B
from scripts._markets import load_markets
from tests.utils.sdk_helpers import NOW


def test_markets_file__default_markets_plus_40_hourly_all_listable():
    listed = load_markets(B.markets_file(), NOW)
    hourly = [m for m in listed if ".HOURLY." in m.symbol]
    # 32 held + a 33rd to show the refusal; symbols are unique (load_markets refuses duplicates)
    assert len(hourly) == 41 and len({m.symbol for m in hourly}) == 41
    assert len(listed) == 7 + 40


def test_opcode_breakdown__classes_add_up_to_the_executed_gas():
    steps = [
        {"op": "PUSH1", "gas": 1000, "depth": 1},
        {"op": "SLOAD", "gas": 997, "depth": 1},
        {"op": "STATICCALL", "gas": 897, "depth": 1},  # cold account + callee
        {"op": "SLOAD", "gas": 300, "depth": 2},  # callee: one cold read
        {"op": "RETURN", "gas": 200, "depth": 2},
        {"op": "SSTORE", "gas": 280, "depth": 1},
        {"op": "LOG2", "gas": 180, "depth": 1},
        {"op": "STOP", "gas": 100, "depth": 1},
    ]
    out = B.opcode_breakdown(steps)
    assert out["SLOAD"] == (2, 100 + 100)
    assert out["SSTORE"] == (1, 100) and out["LOG2"] == (1, 80)
    assert out["other (arithmetic, stack, memory, jumps)"] == (1, 3)
    assert sum(g for _, g in out.values()) == 1000 - 100
