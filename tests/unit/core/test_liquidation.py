"""core.liquidation with the numbers of the contract's own liquidation tests (the random-state
comparison with the Clearinghouse is in test_margin_contract.py)."""

from __future__ import annotations

import pytest

from core import liquidation as cl
from core import margin as cm

USDC = 10**6
POWER = cm.Risk(15 * USDC, 2_500, 10 * USDC, 1_500)  # IM $15 + 25%, MM $10 + 15%
LOT = cl.Lot(10_000, 1, 1)
P = cl.LiquidationParams()


def _long_1mwh_at_50(mark: int, collateral: int = 30 * USDC) -> dict[int, cm.Leg]:
    return {1: cm.Leg(1_000, 50 * USDC, mark, POWER)}


def test_liquidate__partial__takes_only_what_restores_maintenance():
    # as tests/unit/contracts/test_clearinghouse_liquidate.py: $30, long 1 MWh at $50, mark $35:
    # u = $15.25, pu = min(50% u, 10% of $35) = $3.50: (15.25 - 15) / (15.25 - 3.50) MWh -> 22 kWh
    out = cl.liquidate(30 * USDC, _long_1mwh_at_50(35 * USDC), 1, 10**9, LOT, P, fund=0)
    assert out == cl.Outcome(22, 35 * USDC, 77_000, 77_000, False)  # the reward is capped by the fund


def test_liquidate__healthy_or_no_position_or_stale__contract_reasons():
    with pytest.raises(ValueError, match="account healthy"):
        cl.liquidate(30 * USDC, _long_1mwh_at_50(50 * USDC), 1, 10**9, LOT, P, 0)
    with pytest.raises(ValueError, match="no position"):
        cl.liquidate(30 * USDC, _long_1mwh_at_50(35 * USDC), 2, 10**9, LOT, P, 0)
    stale = {1: cm.Leg(1_000, 50 * USDC, 35 * USDC, POWER, fresh=False)}
    with pytest.raises(ValueError, match="stale mark"):
        cl.liquidate(30 * USDC, stale, 1, 10**9, LOT, P, 0)
    halted = {1: cm.Leg(1_000, 50 * USDC, 35 * USDC, POWER, fresh=False, halted=True)}
    assert cl.liquidate(30 * USDC, halted, 1, 10**9, LOT, P, 0).size == 22  # a halted leg goes at its last mark
    with pytest.raises(ValueError, match="zero quantity"):
        cl.liquidate(30 * USDC, _long_1mwh_at_50(35 * USDC), 1, 0, LOT, P, 0)


def test_liquidate__insolvent__close_out_if_the_fund_carries_it_else_flag():
    legs = _long_1mwh_at_50(10 * USDC)  # equity 30 - 40 = -$10
    assert cl.liquidate(30 * USDC, legs, 1, 1, LOT, P, fund=10 * USDC + P.min_reward - 1).flagged
    out = cl.liquidate(30 * USDC, legs, 1, 1, LOT, P, fund=20 * USDC)
    # whole leg, no penalty; the reward is what the fund holds beyond the deficit, at most the formula
    assert out == cl.Outcome(1_000, 10 * USDC, 0, P.reward(1_000, 10 * USDC), False)


def test_penalty__health_cap__ratio_never_falls():
    before = cm.Summary(0, 15 * USDC, 0, 16 * USDC)
    after = cm.Summary(0, 14 * USDC, 0, 10 * USDC)
    # uncapped 5 units x $2 = $10; cap: 14 - ceil(15 * 10 / 16) = 14 - 9.375 -> $4.625
    assert cl.health_capped_penalty(5_000, 2 * USDC, before, after) == 14 * USDC - 9_375_000
    assert (after.equity - 4_625_000) * before.maintenance >= before.equity * after.maintenance


@pytest.mark.parametrize(
    "held,cap,step,min_q,want",
    [
        (1_000, 10**9, 1, 1, 22),  # restores health
        (1_000, 10, 1, 1, 10),  # the caller's cap
        (30, 10**9, 1, 20, 30),  # would leave 8 < min 20: take it all
        (30, 25, 1, 20, 10),  # ... but the caller caps at 25: leave the minimum instead
        (1_000, 10**9, 100, 100, 100),  # rounded up to the step
    ],
)
def test_partial_size__rounding_and_minimum(held, cap, step, min_q, want):
    u, pu = 15_250_000, 3_500_000
    assert cl.partial_size(held, cap, 15_250_000, 15 * USDC, u, pu, step, min_q) == want


def test_reward__min_max_and_fund_cap():
    assert P.reward(1_000, 35 * USDC) == P.min_reward + 35_000
    assert P.reward(10**12, 10**9) == P.max_reward
    assert P.paid(1_000, 35 * USDC, fund=0, penalty=77_000) == 77_000
    assert P.paid(1_000, 35 * USDC, fund=10**9, cap=5) == 5


def test_rank_counterparties__profit_times_leverage__cut_at_the_shortfall():
    holders = [
        ("0xA", -500, -30_000_000, 100 * USDC),
        ("0xB", -500, -40_000_000, 10 * USDC),
        ("0xC", 300, 10_000_000, 50 * USDC),
        ("0xD", -100, -1_000_000, -1),
    ]  # C same side, D insolvent
    cps = cl.rank_counterparties(1_000, holders, 20 * USDC, shortfall=15 * USDC)
    # B: profit 30 x notional 10 / equity 10 = 30e6; A: 20 x 10 / 100 = 2e6 -> B first
    assert [c.account for c in cps] == ["0xB", "0xA"]
    assert cps[0].score == cl.adl_score(-500, -40_000_000, 10 * USDC, 20 * USDC)
    assert cps[0].profit == 10 * USDC  # capped at its equity
    # B alone gives up its capped $10 over its 500 units: enough for a $10 shortfall
    assert [c.account for c in cl.rank_counterparties(1_000, holders, 20 * USDC, shortfall=10 * USDC)] == ["0xB"]
