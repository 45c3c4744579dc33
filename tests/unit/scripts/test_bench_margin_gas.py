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
