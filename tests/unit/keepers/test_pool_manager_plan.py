"""keepers.pool_manager's plain rules: the hedge plan (targets within the hedge cap and the margin
budget, nearest window first, the roll as a window stops trading) and the order that moves a
market to its target (inside the pool's slippage band, rounded to the tick away from the band)."""

from __future__ import annotations

import pytest

from keepers.pool_manager import HedgeMarket, order_for, plan_hedge

USDC = 10**6


def mkt(mid, start, cap, position=0, im=700_000, tradable=True, step=1_000, min_q=1_000):
    return HedgeMarket(mid, start, position, cap, im, step, min_q, tradable)


def im_of(targets, markets):
    per = {m.market_id: m.im_per_unit for m in markets}
    return sum(abs(q) * per[mid] // 1_000 for mid, q in targets.items())


def test_full_cap_when_margin_allows():
    ms = [mkt(1, 100, 57_600_000), mkt(2, 200, 57_600_000)]
    t = plan_hedge(
        ms, equity=1_000_000 * USDC, initial=0, max_margin_bps=5_000, target_bps=10_000, margin_use_bps=9_000
    )
    assert t == {1: -57_600_000, 2: -57_600_000}


def test_margin_budget_fills_nearest_window_first():
    # budget: 100k x 50% x 90% = 45,000 USD; 0.70 USD IM per GPU-h: 64,285 GPU-h in all
    ms = [mkt(2, 200, 57_600_000), mkt(1, 100, 57_600_000)]
    t = plan_hedge(ms, equity=100_000 * USDC, initial=0, max_margin_bps=5_000, target_bps=10_000, margin_use_bps=9_000)
    assert t[1] == -57_600_000
    assert t[2] == -6_685_000  # the rest of the budget, floored to the step
    assert im_of(t, ms) <= 45_000 * USDC


def test_margin_of_positions_the_plan_cannot_move_comes_off_the_budget():
    # market 1 stopped trading with 30,000 GPU-h short (21,000 USD IM): market 2 gets the rest
    ms = [mkt(1, 100, 57_600_000, position=-30_000_000, tradable=False), mkt(2, 200, 57_600_000)]
    t = plan_hedge(
        ms, equity=100_000 * USDC, initial=21_000 * USDC, max_margin_bps=5_000, target_bps=10_000, margin_use_bps=9_000
    )
    assert 1 not in t
    assert t[2] == -34_285_000  # (45,000 - 21,000) / 0.70


def test_roll__window_stops_trading__its_margin_moves_to_the_next():
    before = [mkt(1, 100, 40_000_000, position=-40_000_000), mkt(2, 200, 40_000_000)]
    t0 = plan_hedge(before, 60_000 * USDC, 28_000 * USDC, 5_000, 10_000, 10_000)
    assert t0 == {1: -40_000_000, 2: -2_857_000}
    # window 1 settled (no position, not listed as held any more): window 2 takes the budget
    after = [mkt(2, 200, 40_000_000, position=-2_857_000)]
    t1 = plan_hedge(after, 60_000 * USDC, 1_999_900_000, 5_000, 10_000, 10_000)
    assert t1 == {2: -40_000_000}


def test_target_bps_and_min_quantity():
    ms = [mkt(1, 100, 10_000_000), mkt(2, 200, 1_500, min_q=1_000)]
    t = plan_hedge(ms, 10**12, 0, 5_000, 5_000, 10_000)
    assert t == {1: -5_000_000, 2: 0}  # half of 1.5 GPU-h is below the market's minimum


@pytest.mark.parametrize("equity", [0, -5])
def test_no_equity__flat_targets(equity):
    assert plan_hedge([mkt(1, 1, 10_000_000)], equity, 0, 5_000, 10_000, 10_000) == {1: 0}


def test_order_for__sell_inside_band_rounded_up_to_tick():
    o = order_for(
        target=-10_000_000,
        position=-4_000_000,
        pending=-1_000_000,
        mark=2_000_000,
        tick=1_000,
        band=90_000,
        edge_bps=50,
        step=1_000,
        min_qty=1_000,
    )
    assert (o.is_buy, o.quantity, o.price) == (False, 5_000_000, 1_990_000)


def test_order_for__buy_back_edge_capped_by_band():
    o = order_for(0, -3_000_000, 0, 2_000_003, 1_000, band=5_000, edge_bps=500, step=1_000, min_qty=1_000)
    assert o.is_buy and o.quantity == 3_000_000
    assert o.price == 2_005_000 and o.price - 2_000_003 <= 5_000


def test_order_for__within_a_step__nothing():
    assert order_for(-10_000_000, -9_999_500, 0, 2 * USDC, 1_000, 90_000, 50, 1_000, 1_000) is None


# ---------------------------------------------------------------- which pool


POOLS = {"block": 3, "pools": {"west": {"address": "0x" + "ab" * 20, "block": 42}}}


def test_resolve_pool__by_name_and_by_address():
    from keepers.pool_manager import resolve_pool

    address, block = resolve_pool(POOLS, "west")
    assert address.lower() == "0x" + "ab" * 20 and block == 42
    assert resolve_pool(POOLS, "0x" + "ab" * 20) == (address, 42)
    # an address the manifest does not know: scan its logs from the deployment's block
    assert resolve_pool(POOLS, "0x" + "cd" * 20)[1] == 3


def test_resolve_pool__unknown_name__names_the_known_pools():
    from keepers.pool_manager import resolve_pool

    with pytest.raises(ValueError, match="no pool 'east'.*west"):
        resolve_pool(POOLS, "east")


def test_sdk_pool_address__unknown_name__clear_error():
    from sdk.pool import pool_address

    assert pool_address(POOLS, "west").lower() == "0x" + "ab" * 20
    with pytest.raises(ValueError, match="neither an address nor a pool"):
        pool_address({"pools": {}}, "east")


def test_same_month_at_two_nodes__budget_shared_pro_rata():
    # budget 45,000 USD; each node wants 57,600 GPU-h (40,320 USD): both get 45,000 / 80,640 of it
    ms = [mkt(4, 100, 57_600_000), mkt(5, 100, 57_600_000)]
    t = plan_hedge(ms, 100_000 * USDC, 0, 5_000, 10_000, 9_000)
    assert t[4] == t[5] == -32_142_000  # 57,600 x 45,000 / 80,640, floored to the step
    assert im_of(t, ms) <= 45_000 * USDC
