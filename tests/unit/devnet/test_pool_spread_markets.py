"""devnet.pool.spread_markets on a templated devnet: the lister lists a year of monthly windows of
each spread series (the current month too), so a pool asked for the next `windows` per (GPU
class, node) gets exactly those not yet in delivery, nearest first, whatever order the Reader lists
them in; None keeps every window not yet ended."""

from __future__ import annotations

import types

import pytest

from devnet.anvil import DevnetError
from devnet.pool import spread_markets

NOW = 1_612_134_000
MONTH = 28 * 86_400


def _m(mid, gpu, node, k, past=False):
    start = NOW - 2 * MONTH if past else NOW + int(k * MONTH) + (1 if k >= 0 else 0)
    return types.SimpleNamespace(
        id=mid, spec={"compute": {"gpu": gpu}}, node=node, delivery_start=start, delivery_end=start + MONTH
    )


class _Reader:
    def __init__(self, rows):
        self.rows = rows
        self.w3 = types.SimpleNamespace(eth=types.SimpleNamespace(get_block=lambda _: {"timestamp": NOW}))

    def listed_markets(self, kind=None, limit=None):
        assert kind == "SPREAD" and limit is None
        return self.rows


# id order is not window order: the deploy's month (id 4), then the lister's, one listed late
ROWS = [
    _m(4, "H100-SXM", "HB_WEST", 0),
    _m(9, "H100-SXM", "HB_WEST", 2),
    _m(8, "H100-SXM", "HB_NORTH", 1),
    _m(7, "H100-SXM", "HB_WEST", 1),
    _m(6, "B200", "HB_WEST", 0),
    _m(3, "H100-SXM", "HB_WEST", 0, past=True),
    _m(5, "H100-SXM", "HB_NORTH", 0),
    _m(2, "H100-SXM", "HB_WEST", -0.5),  # in delivery now (the lister's current month)
]


def test_next_windows_per_gpu_and_node__not_the_one_in_delivery():
    got = spread_markets(_Reader(ROWS), ["H100-SXM"], ["HB_WEST", "HB_NORTH"], windows=2)
    assert [r["market_id"] for r in got] == [4, 5, 7, 8]
    got = spread_markets(_Reader(ROWS), ["H100-SXM"], ["HB_WEST"], windows=1)
    assert [r["market_id"] for r in got] == [4]


def test_every_window_by_default_nearest_first_past_windows_dropped():
    got = spread_markets(_Reader(ROWS), ["H100-SXM"], ["HB_WEST"])
    assert [r["market_id"] for r in got] == [2, 4, 7, 9]
    assert {r["units_per_gpu"] for r in got} == {MONTH // 3600 * 1_000}


@pytest.mark.parametrize("bad", [0, -1])
def test_windows_below_one_refused(bad):
    with pytest.raises(DevnetError, match="windows must be >= 1"):
        spread_markets(_Reader(ROWS), ["H100-SXM"], ["HB_WEST"], windows=bad)
