"""Clearinghouse.withdraw: collateral back to the caller; with positions, only on fresh marks
and only while equity stays >= initial margin."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events

DEPOSIT = 100 * USDC
# IM of 1 MWh long at $50: $15 + 25% * $50
IM_ONE = 27_500_000


@pytest.fixture
def deposited(fund, trader):
    fund(trader, DEPOSIT)


@pytest.fixture
def long_one(market, funded, deposited, book, trader, maker):
    """trader long 1 MWh at the $50 mark, equity $100, IM $27.50."""
    book(trader, maker, market, UNIT, MARK)


def test_withdraw__no_positions__all_collateral(clearinghouse, usdc, trader, deposited):
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(DEPOSIT)

    (log,) = events(clearinghouse, "Withdraw")
    assert (log.account, log.amount) == (trader.address, DEPOSIT)
    assert clearinghouse.collateral(trader.address) == 0
    assert usdc.balanceOf(trader.address) == DEPOSIT


def test_withdraw__no_positions_stale_marks__allowed(clearinghouse, market, trader, deposited):
    boa.env.time_travel(seconds=10 * 86_400)
    assert clearinghouse.mark(market)[2] is False
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(1)

    assert clearinghouse.collateral(trader.address) == DEPOSIT - 1


def test_withdraw__with_position__down_to_initial_margin(clearinghouse, usdc, trader, long_one):
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(DEPOSIT - IM_ONE)

    assert clearinghouse.equity(trader.address) == IM_ONE
    assert clearinghouse.margin_requirements(trader.address)[0] == IM_ONE
    assert usdc.balanceOf(trader.address) == DEPOSIT - IM_ONE


def test_withdraw__with_position__one_unit_past_initial_margin__reverts(clearinghouse, trader, long_one, snapshot):
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: insufficient margin"):
        clearinghouse.withdraw(DEPOSIT - IM_ONE + 1)

    assert snapshot() == before


def test_withdraw__unrealised_loss__lowers_limit(clearinghouse, market, set_mark, trader, long_one, snapshot):
    set_mark(market, 40 * USDC)  # equity $90, IM $15 + $10 = $25
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(65 * USDC)
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: insufficient margin"):
        clearinghouse.withdraw(1)

    assert snapshot() == before


def test_withdraw__unrealised_profit__not_beyond_collateral(
    clearinghouse, market, set_mark, trader, long_one, snapshot
):
    set_mark(market, 500 * USDC)  # equity $550, collateral still $100
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: exceeds collateral"):
        clearinghouse.withdraw(DEPOSIT + 1)

    assert snapshot() == before


def test_withdraw__stale_mark_it_depends_on__reverts(clearinghouse, market, trader, long_one, snapshot):
    boa.env.time_travel(seconds=3_601)
    assert clearinghouse.mark(market)[2] is False
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: stale mark"):
        clearinghouse.withdraw(1)

    assert snapshot() == before


def test_withdraw__mark_exactly_max_age__allowed(clearinghouse, trader, long_one):
    boa.env.time_travel(seconds=3_600)
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(1)

    assert clearinghouse.collateral(trader.address) == DEPOSIT - 1


def test_withdraw__disputed_mark__reverts(protocol, clearinghouse, market, guardian, trader, long_one, snapshot):
    with boa.env.prank(guardian):
        protocol.oracle.dispute(protocol.feeds[market][0])
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: stale mark"):
        clearinghouse.withdraw(1)

    assert snapshot() == before


def test_withdraw__stale_mark_of_other_market__not_needed_without_position_there(
    protocol, clearinghouse, market, trader, long_one
):
    other = protocol.list_market("OTHER")
    protocol.set_mark(other, MARK)
    boa.env.time_travel(seconds=3_000)
    protocol.set_mark(market, MARK)  # refresh only the market trader holds
    boa.env.time_travel(seconds=1_000)
    assert clearinghouse.mark(other)[2] is False
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(1)

    assert clearinghouse.collateral(trader.address) == DEPOSIT - 1


def test_withdraw__settled_position__needs_no_fresh_mark(protocol, clearinghouse, market, trader, long_one):
    boa.env.time_travel(seconds=40 * 86_400)
    protocol.set_settlement(market, 60 * USDC)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)
    # mark feed long stale; the settled position is worth $10 more and needs no margin
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(DEPOSIT)

    assert clearinghouse.equity(trader.address) == 10 * USDC


def test_withdraw__zero_amount__reverts(clearinghouse, trader, deposited, snapshot):
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: zero amount"):
        clearinghouse.withdraw(0)

    assert snapshot() == before


def test_withdraw__more_than_collateral__reverts(clearinghouse, trader, deposited, snapshot):
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: exceeds collateral"):
        clearinghouse.withdraw(DEPOSIT + 1)

    assert snapshot() == before


def test_withdraw__no_account__reverts(clearinghouse, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("Clearinghouse: exceeds collateral"):
        clearinghouse.withdraw(1)

    assert snapshot() == before


def test_withdraw__token_returns_false__reverts(failing_protocol, failing_snapshot, trader):
    ch = failing_protocol.clearinghouse
    failing_protocol.fund(trader.address, 100)
    failing_protocol.usdc.set_failing(True)
    before = failing_snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: transfer failed"):
        ch.withdraw(100)

    assert failing_snapshot() == before

    assert ch.collateral(trader.address) == 100
    assert failing_protocol.usdc.balanceOf(ch.address) == 100
