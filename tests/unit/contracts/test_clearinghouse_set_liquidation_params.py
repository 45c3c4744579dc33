"""Clearinghouse.set_liquidation_params: penalty (bps of the MM of the size taken, <= 90%) and
the insurance fund's share of it (bps, <= 100%)."""
import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events


def test_set_liquidation_params__owner__stored(clearinghouse, owner):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(2_500, 5_000)

    (log,) = events(clearinghouse, "LiquidationParamsSet")
    assert (log.penalty_bps, log.insurance_share_bps) == (2_500, 5_000)
    assert (clearinghouse.liquidation_penalty_bps(), clearinghouse.insurance_share_bps()) == (2_500, 5_000)


@pytest.mark.parametrize("penalty, share", [(0, 0), (9_000, 10_000)])
def test_set_liquidation_params__bounds__accepted(clearinghouse, owner, penalty, share):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(penalty, share)

    assert (clearinghouse.liquidation_penalty_bps(), clearinghouse.insurance_share_bps()) == (penalty, share)


def test_set_liquidation_params__zero_penalty__liquidation_charges_nothing(clearinghouse, market, set_mark, funded,
                                                                          fund, book, owner, trader, maker,
                                                                          liquidator):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(0, 2_000)
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    set_mark(market, 35 * USDC)  # equity $15 < MM $15.25
    with boa.env.prank(liquidator.address):
        taken = clearinghouse.liquidate(trader.address, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    # without a penalty the size is (15.25 - 15) / 15.25 MWh -> 17 kWh
    assert (taken, log.penalty, log.insurance_share) == (17, 0, 0)
    assert clearinghouse.insurance_fund() == 0


def test_set_liquidation_params__full_share__penalty_all_to_insurance(clearinghouse, market, set_mark, funded, fund,
                                                                     book, owner, trader, maker, liquidator):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(5_000, 10_000)
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    set_mark(market, 35 * USDC)
    with boa.env.prank(liquidator.address):
        clearinghouse.liquidate(trader.address, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    assert log.insurance_share == log.penalty == 251_625
    assert clearinghouse.insurance_fund() == 251_625


def test_set_liquidation_params__penalty_above_cap__reverts(clearinghouse, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Clearinghouse: penalty too high"):
        clearinghouse.set_liquidation_params(9_001, 2_000)

    assert snapshot() == before


def test_set_liquidation_params__share_above_100_percent__reverts(clearinghouse, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Clearinghouse: share too high"):
        clearinghouse.set_liquidation_params(5_000, 10_001)

    assert snapshot() == before


def test_set_liquidation_params__non_owner__reverts(clearinghouse, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.set_liquidation_params(1, 1)

    assert snapshot() == before
