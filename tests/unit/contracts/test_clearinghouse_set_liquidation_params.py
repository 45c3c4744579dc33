"""Clearinghouse.set_liquidation_params: the penalty (bps of the MM of the size taken, <= 90%, at
most penalty_cap_bps <= 25% of its notional) and the liquidator's reward (min_reward + reward_bps
<= 1% of the notional taken, at most max_reward), one packed word read by `liquidation_params`."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events


def test_liquidation_params__deployed__defaults(clearinghouse):
    # 50% of MM, at most 10% of notional; $1 + 10 bps, at most $1,000
    assert clearinghouse.liquidation_params() == (5_000, 1_000, 10, USDC, 1_000 * USDC)


def test_set_liquidation_params__owner__stored(clearinghouse, owner):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(2_500, 500, 20, 2 * USDC, 50 * USDC)

    (log,) = events(clearinghouse, "LiquidationParamsSet")
    assert (log.penalty_bps, log.penalty_cap_bps, log.reward_bps, log.min_reward, log.max_reward) == (
        2_500,
        500,
        20,
        2 * USDC,
        50 * USDC,
    )
    assert clearinghouse.liquidation_params() == (2_500, 500, 20, 2 * USDC, 50 * USDC)


@pytest.mark.parametrize("params", [(0, 0, 0, 0, 0), (9_000, 2_500, 100, 2**64 - 1, 2**64 - 1)])
def test_set_liquidation_params__bounds__accepted(clearinghouse, owner, params):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(*params)

    assert clearinghouse.liquidation_params() == params


def test_set_liquidation_params__zero_penalty__liquidation_charges_nothing(
    clearinghouse, market, set_mark, funded, fund, book, owner, trader, maker, liquidator
):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(0, 1_000, 10, USDC, 1_000 * USDC)
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    set_mark(market, 35 * USDC)  # equity $15 < MM $15.25
    with boa.env.prank(liquidator.address):
        taken = clearinghouse.liquidate(trader.address, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    # without a penalty the size is (15.25 - 15) / 15.25 MWh -> 17 kWh; an empty fund pays no reward
    assert (taken, log.penalty, log.reward) == (17, 0, 0)
    assert clearinghouse.insurance_fund() == 0


def test_set_liquidation_params__max_reward__caps_reward(
    clearinghouse, market, set_mark, funded, fund, book, owner, trader, maker, liquidator, keeper, usdc
):
    usdc.mint(keeper.address, 100 * USDC)
    with boa.env.prank(keeper.address):
        usdc.approve(clearinghouse.address, 100 * USDC)
        clearinghouse.fund_insurance(100 * USDC)
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(5_000, 1_000, 100, USDC, 1_200_000)
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    set_mark(market, 35 * USDC)
    with boa.env.prank(liquidator.address):
        clearinghouse.liquidate(trader.address, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    assert log.reward == 1_007_700  # $1 + 1% of the $0.77 notional, under the $1.20 cap
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(5_000, 1_000, 100, USDC, USDC)
    set_mark(market, 30 * USDC)
    with boa.env.prank(liquidator.address):
        clearinghouse.liquidate(trader.address, market, 10**9)
    assert events(clearinghouse, "Liquidation")[-1].reward == USDC


@pytest.mark.parametrize(
    "params, reason",
    [
        ((9_001, 1_000, 10, 1, 1), "Clearinghouse: penalty too high"),
        ((5_000, 2_501, 10, 1, 1), "Clearinghouse: penalty cap too high"),
        ((5_000, 1_000, 101, 1, 1), "Clearinghouse: reward too high"),
        ((5_000, 1_000, 10, 2, 1), "Clearinghouse: bad reward bounds"),
        ((5_000, 1_000, 10, 1, 2**64), "Clearinghouse: bad reward bounds"),
    ],
)
def test_set_liquidation_params__out_of_bounds__reverts(clearinghouse, owner, snapshot, params, reason):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts(reason):
        clearinghouse.set_liquidation_params(*params)

    assert snapshot() == before


def test_set_liquidation_params__non_owner__reverts(clearinghouse, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.set_liquidation_params(1, 1, 1, 1, 1)

    assert snapshot() == before
