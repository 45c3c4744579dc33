"""Clearinghouse.settle: realise one account's position in a finalised market at the
settlement price (quantity * price / 1000 - open_notional) and close it. Anyone may call."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events


@pytest.fixture
def positions(market, funded, book, maker, taker):
    """taker long 2 MWh at $50, maker short 2 MWh."""
    book(taker, maker, market, 2 * UNIT, MARK)


def test_settle__long_winner__realises_profit_and_closes(protocol, clearinghouse, market, positions, taker, keeper):
    protocol.finalize(market, 57_770_000)
    with boa.env.prank(keeper.address):
        clearinghouse.settle(taker.address, market)

    (log,) = events(clearinghouse, "Settled")
    assert (log.account, log.market_id, log.quantity, log.pnl) == (taker.address, market, 2 * UNIT, 15_540_000)
    assert clearinghouse.collateral(taker.address) == 10_000 * USDC + 15_540_000
    assert clearinghouse.position(taker.address, market) == (0, 0)
    assert clearinghouse.open_markets(taker.address) == []
    assert clearinghouse.market_state(market).long_oi == 0


def test_settle__short_loser__realises_loss(protocol, clearinghouse, market, positions, maker):
    protocol.finalize(market, 57_770_000)
    clearinghouse.settle(maker.address, market)

    assert clearinghouse.collateral(maker.address) == 10_000 * USDC - 15_540_000
    assert clearinghouse.position(maker.address, market) == (0, 0)
    assert clearinghouse.market_state(market).long_oi == 2 * UNIT  # the long is not settled yet


def test_settle__negative_settlement_price__long_pays_more_than_price(
    protocol, clearinghouse, market, positions, taker, maker
):
    protocol.finalize(market, -5 * USDC)
    clearinghouse.settle(taker.address, market)
    clearinghouse.settle(maker.address, market)

    assert clearinghouse.collateral(taker.address) == 10_000 * USDC - 110 * USDC
    assert clearinghouse.collateral(maker.address) == 10_000 * USDC + 110 * USDC


def test_settle__both_sides__pnl_sums_to_zero(protocol, clearinghouse, market, positions, taker, maker):
    protocol.finalize(market, 12_340_000)
    clearinghouse.settle(taker.address, market)
    clearinghouse.settle(maker.address, market)

    assert clearinghouse.collateral(taker.address) + clearinghouse.collateral(maker.address) == 20_000 * USDC


def test_settle__flat_loser_below_zero__insurance_covers(
    protocol, clearinghouse, usdc, market, funded, fund, book, trader, maker, keeper
):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    usdc.mint(keeper.address, 15 * USDC)
    with boa.env.prank(keeper.address):
        usdc.approve(clearinghouse.address, 15 * USDC)
        clearinghouse.fund_insurance(15 * USDC)
    # no liquidation before settlement: the $40 loss exceeds the $30 collateral
    protocol.finalize(market, 10 * USDC)

    clearinghouse.settle(trader.address, market)

    (absorbed,) = events(clearinghouse, "BadDebt")
    assert (absorbed.covered_by_insurance, absorbed.uncovered) == (10 * USDC, 0)
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.insurance_fund() == 5 * USDC
    assert clearinghouse.bad_debt() == 0


def test_settle__flat_loser_beyond_insurance__reverts_deleverage_needed(
    protocol, clearinghouse, usdc, market, funded, fund, book, trader, maker, keeper, snapshot
):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    usdc.mint(keeper.address, 5 * USDC)
    with boa.env.prank(keeper.address):
        usdc.approve(clearinghouse.address, 5 * USDC)
        clearinghouse.fund_insurance(5 * USDC)
    protocol.finalize(market, 10 * USDC)
    before = snapshot()

    # writing the $5 beyond the fund off would leave claims the token balance cannot pay
    with boa.reverts("Clearinghouse: deleverage needed"):
        clearinghouse.settle(trader.address, market)

    assert snapshot() == before


def test_settle__loser_with_other_positions__collateral_negative_under_cross_margin(
    protocol, clearinghouse, market, funded, fund, book, trader, maker
):
    other = protocol.list_market("OTHER")
    protocol.set_mark(other, 100 * USDC)
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, other, 50, 100 * USDC)  # IM $2, total $29.50
    protocol.finalize(market, 10 * USDC)
    protocol.set_mark(other, 600 * USDC)  # +$25 on the other position

    clearinghouse.settle(trader.address, market)

    # a $40 loss on $30: collateral goes negative, but equity is $15, so no bad debt
    assert clearinghouse.collateral(trader.address) == -10 * USDC
    assert clearinghouse.equity(trader.address) == 15 * USDC
    assert clearinghouse.bad_debt() == 0


def test_settle__not_finalized__reverts(clearinghouse, market, positions, taker, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: not finalized"):
        clearinghouse.settle(taker.address, market)

    assert snapshot() == before


def test_settle__delivery_over_not_finalized__reverts(protocol, clearinghouse, market, positions, taker, snapshot):
    boa.env.evm.patch.timestamp = clearinghouse.market(market).delivery_end
    protocol.set_settlement(market, MARK)
    before = snapshot()

    with boa.reverts("Clearinghouse: not finalized"):
        clearinghouse.settle(taker.address, market)

    assert snapshot() == before


def test_settle__no_position__reverts(protocol, clearinghouse, market, positions, trader, snapshot):
    protocol.finalize(market, MARK)
    before = snapshot()

    with boa.reverts("Clearinghouse: no position"):
        clearinghouse.settle(trader.address, market)

    assert snapshot() == before


def test_settle__twice__reverts(protocol, clearinghouse, market, positions, taker, snapshot):
    protocol.finalize(market, MARK)
    clearinghouse.settle(taker.address, market)
    before = snapshot()

    with boa.reverts("Clearinghouse: no position"):
        clearinghouse.settle(taker.address, market)

    assert snapshot() == before
