"""Clearinghouse.settle_many: settle up to 100 accounts of a finalised market; accounts without
a position are skipped. After settling everyone, sum of realised PnL + fees = 0 (DESIGN §6.5)."""

import boa
import pytest

from tests.utils.contract_helpers import FUNDING, UNIT, USDC, events


@pytest.fixture
def traded(market, funded, fund, book, maker, taker, trader, keeper):
    """Four accounts trade with fees, partial closes and flips; net positions
    taker +833, maker +1000, trader -1500, keeper -333 thousandths."""
    fund(trader, 1_000 * USDC)
    fund(keeper, 1_000 * USDC)
    book(taker, maker, market, 2 * UNIT, 50 * USDC, buyer_fee=10, seller_fee=12)
    book(trader, taker, market, 1_500, 51_370_000, buyer_fee=3, seller_fee=4)
    book(maker, trader, market, 3 * UNIT, 49_990_000, buyer_fee=7, seller_fee=7)
    book(taker, keeper, market, 333, 50_010_000, buyer_fee=1, seller_fee=2)
    return {maker.address: FUNDING, taker.address: FUNDING, trader.address: 1_000 * USDC, keeper.address: 1_000 * USDC}


def test_settle_many__everyone__pnl_plus_fees_sum_to_zero(protocol, clearinghouse, market, traded, keeper):
    assert sum(clearinghouse.position(a, market)[0] for a in traded) == 0
    protocol.finalize(market, 47_770_000)

    with boa.env.prank(keeper.address):
        n = clearinghouse.settle_many(list(traded), market)

    assert n == 4
    assert len(events(clearinghouse, "Settled")) == 4
    pnl = {a: clearinghouse.collateral(a) - deposit for a, deposit in traded.items()}
    assert sum(pnl.values()) + clearinghouse.fees() == 0
    assert clearinghouse.fees() == 46
    assert all(clearinghouse.position(a, market) == (0, 0) for a in traded)
    assert clearinghouse.market_state(market).long_oi == 0


def test_settle_many__flat_and_repeated_accounts__skipped(
    protocol, clearinghouse, market, traded, maker, taker, non_owner
):
    protocol.finalize(market, 47_770_000)

    n = clearinghouse.settle_many([maker.address, non_owner, maker.address, taker.address], market)

    assert n == 2
    assert clearinghouse.position(maker.address, market) == (0, 0)
    assert clearinghouse.position(taker.address, market) == (0, 0)


def test_settle_many__empty_batch__settles_nothing(protocol, clearinghouse, market, traded):
    protocol.finalize(market, 47_770_000)

    assert clearinghouse.settle_many([], market) == 0


def test_settle_many__same_result_as_settle(protocol, clearinghouse, market, traded, maker, taker):
    protocol.finalize(market, 47_770_000)
    with boa.env.anchor():
        clearinghouse.settle(maker.address, market)
        clearinghouse.settle(taker.address, market)
        one_by_one = (clearinghouse.collateral(maker.address), clearinghouse.collateral(taker.address))

    clearinghouse.settle_many([maker.address, taker.address], market)

    assert (clearinghouse.collateral(maker.address), clearinghouse.collateral(taker.address)) == one_by_one


def test_settle_many__not_finalized__reverts(clearinghouse, market, traded, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: not finalized"):
        clearinghouse.settle_many(list(traded), market)

    assert snapshot() == before
