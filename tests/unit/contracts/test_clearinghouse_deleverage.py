"""Clearinghouse.deleverage: a loss the insurance fund cannot carry is assigned to profitable
opposite positions, ranked by profit x leverage, each giving up at most its profit on the part
closed, never written off; the caller's reward joins the assigned loss."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events, role_trader


def _deleverage(ch, caller, account, mid, counterparties):
    with boa.env.prank(getattr(caller, "address", caller)):
        return ch.deleverage(
            getattr(account, "address", account), mid, [getattr(c, "address", c) for c in counterparties]
        )


def _claims_covered(protocol, accounts):
    """DESIGN invariant 1: the token balance covers every claim (collateral may be negative only
    while an account holds positions, as a claim of the protocol on them)."""
    ch = protocol.clearinghouse
    claims = sum(ch.collateral(getattr(a, "address", a)) for a in accounts) + ch.insurance_fund() + ch.fees()
    return protocol.usdc.balanceOf(ch.address) >= claims


@pytest.fixture
def flagged(clearinghouse, market, insolvent, insurance, trader, liquidator):
    """The insolvent trader (-$10) against a $4 fund: liquidate only flags it."""
    insurance(4 * USDC)
    with boa.env.prank(liquidator.address):
        assert clearinghouse.liquidate(trader.address, market, 10**9) == 0
    assert clearinghouse.adl_pending(trader.address)


def test_deleverage__insolvent_beyond_fund__loss_assigned_to_profitable_short(
    protocol, clearinghouse, market, second_market, flagged, trader, maker, taker, keeper, liquidator
):
    closed = _deleverage(clearinghouse, keeper, trader, market, [maker])

    assert closed == UNIT
    (log,) = events(clearinghouse, "Deleveraged")
    # shortfall = $10 deficit - $4 fund + the $1.02 reward + $1 for closing the other leg = $8.02:
    # the trader sells at -$20 + $8.02, the maker gives up $8.02 of its $70 profit
    assert (log.account, log.counterparty, log.market_id, log.quantity, log.price, log.loss) == (
        trader.address,
        maker.address,
        market,
        UNIT,
        -11_980_000,
        8_020_000,
    )
    assert clearinghouse.position(maker.address, market) == (0, 0)
    assert clearinghouse.collateral(maker.address) == 10_000 * USDC + 61_980_000
    assert clearinghouse.collateral(keeper.address) == 1_020_000
    assert clearinghouse.equity(trader.address) == -3 * USDC
    assert not clearinghouse.adl_pending(trader.address)
    assert clearinghouse.adl_pending_count() == 0

    # the rest is an ordinary close-out the fund can carry, reward included
    with boa.env.prank(liquidator.address):
        clearinghouse.liquidate(trader.address, second_market, 10**9)
    (liq,) = events(clearinghouse, "Liquidation")
    assert liq.reward == USDC
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.open_markets(trader.address) == []
    assert (clearinghouse.insurance_fund(), clearinghouse.bad_debt()) == (0, 0)
    assert _claims_covered(protocol, [trader, maker, taker, keeper, liquidator])


def test_deleverage__ranked_counterparties__most_leveraged_first(
    protocol, clearinghouse, market, set_mark, funded, fund, book, insurance, trader, maker, keeper
):
    small = role_trader("small_short")
    fund(small, 100 * USDC)
    fund(trader, 60 * USDC)
    book(trader, small, market, UNIT, MARK)
    book(trader, maker, market, UNIT, MARK)
    insurance(4 * USDC)
    set_mark(market, -20 * USDC)  # trader: 60 - 140 = -$80

    # both made $70; the small account is the more leveraged: it goes first
    with boa.reverts("Clearinghouse: counterparties not ranked"):
        _deleverage(clearinghouse, keeper, trader, market, [maker, small])
    closed = _deleverage(clearinghouse, keeper, trader, market, [small, maker])

    assert closed == 2 * UNIT
    first, second = events(clearinghouse, "Deleveraged")
    # the small short gives up all $70 of its profit (closed at its $50 entry); the maker the rest:
    # $80 - $4 + $1.04 reward = $77.04
    assert (first.counterparty, first.loss, first.price) == (small.address, 70 * USDC, 50 * USDC)
    assert (second.counterparty, second.loss) == (maker.address, 7_040_000)
    assert clearinghouse.collateral(small.address) == 100 * USDC
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.insurance_fund() == 0


def test_deleverage__counterparties_short_of_the_loss__partial_and_still_flagged(
    clearinghouse, market, second_market, flagged, fund, book, trader, maker, keeper
):
    # the maker buys its short back from a newcomer at -$19: the only short left made just $1
    late = role_trader("late_short")
    fund(late, 100 * USDC)
    book(maker, late, market, UNIT, -19 * USDC)

    closed = _deleverage(clearinghouse, keeper, trader, market, [late])

    assert closed == UNIT
    (log,) = events(clearinghouse, "Deleveraged")
    assert (log.loss, log.price) == (USDC, -19 * USDC)  # all of its profit, no more
    assert clearinghouse.collateral(late.address) == 100 * USDC
    # $8.02 were needed: the rest stays on the book, visible and blocking fee withdrawals
    assert clearinghouse.equity(trader.address) == -10_020_000
    assert clearinghouse.adl_pending(trader.address)
    assert clearinghouse.open_markets(trader.address) == [second_market]


def test_deleverage__counterparty_larger__only_the_account_size_closed(
    clearinghouse, market, set_mark, funded, fund, book, insurance, trader, taker, maker, keeper
):
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(taker, trader, market, 500, MARK)  # the trader sold half of it on: now long 0.5 MWh
    insurance(USDC)
    set_mark(market, -100 * USDC)  # trader: 60 - 75 = -$15; the maker made $150 on 1 MWh

    closed = _deleverage(clearinghouse, keeper, trader, market, [maker])

    assert closed == 500
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.position(maker.address, market)[0] == -500


def test_deleverage__settled_market__counterparty_paid_less_at_settlement(
    protocol, clearinghouse, market, funded, fund, book, insurance, trader, maker, keeper, snapshot
):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    insurance(5 * USDC)
    end = clearinghouse.market(market).delivery_end
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 10 * USDC)  # the trader loses $40 on $30
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)
    with boa.reverts("Clearinghouse: deleverage needed"):
        clearinghouse.settle(trader.address, market)

    _deleverage(clearinghouse, keeper, trader, market, [maker])

    (log,) = events(clearinghouse, "Deleveraged")
    # $40 - $30 - $5 fund + $1.01 reward = $6.01 from the maker's $40 gain
    assert (log.price, log.loss) == (16_010_000, 6_010_000)
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.insurance_fund() == 0
    assert clearinghouse.collateral(maker.address) == 10_000 * USDC + 33_990_000


# ---------------------------------------------------------------- rejections


def test_deleverage__fund_covers__reverts(clearinghouse, market, insolvent, insurance, trader, maker, keeper, snapshot):
    insurance(100 * USDC)
    before = snapshot()

    with boa.reverts("Clearinghouse: insurance covers"):
        _deleverage(clearinghouse, keeper, trader, market, [maker])

    assert snapshot() == before


def test_deleverage__healthy_account__reverts(
    clearinghouse, market, funded, fund, book, trader, maker, keeper, snapshot
):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    before = snapshot()

    with boa.reverts("Clearinghouse: insurance covers"):
        _deleverage(clearinghouse, keeper, trader, market, [maker])

    assert snapshot() == before


def test_deleverage__no_position__reverts(protocol, clearinghouse, flagged, trader, maker, keeper, snapshot):
    other = protocol.list_market("OTHER")
    before = snapshot()

    with boa.reverts("Clearinghouse: no position"):
        _deleverage(clearinghouse, keeper, trader, other, [maker])

    assert snapshot() == before


def test_deleverage__stale_mark__reverts(clearinghouse, market, flagged, trader, maker, keeper, snapshot):
    boa.env.time_travel(seconds=3_601)
    before = snapshot()

    with boa.reverts("Clearinghouse: stale mark"):
        _deleverage(clearinghouse, keeper, trader, market, [maker])

    assert snapshot() == before


@pytest.mark.parametrize(
    "who, reason",
    [
        ("trader", "Clearinghouse: counterparty is the account"),
        ("taker", "Clearinghouse: not an opposite position"),
    ],
)
def test_deleverage__bad_counterparty__reverts(
    clearinghouse, market, flagged, trader, taker, keeper, snapshot, who, reason
):
    before = snapshot()

    with boa.reverts(reason):
        _deleverage(clearinghouse, keeper, trader, market, [{"trader": trader, "taker": taker}[who]])

    assert snapshot() == before


def test_deleverage__same_side_counterparty__reverts(
    clearinghouse, market, flagged, book, trader, taker, maker, keeper, snapshot
):
    book(taker, maker, market, UNIT, -20 * USDC)  # taker long too, like the trader
    before = snapshot()

    with boa.reverts("Clearinghouse: not an opposite position"):
        _deleverage(clearinghouse, keeper, trader, market, [taker])

    assert snapshot() == before


def test_deleverage__counterparty_at_a_loss__reverts(
    protocol, clearinghouse, market, flagged, book, trader, taker, maker, keeper, snapshot
):
    book(maker, taker, market, UNIT, -30 * USDC)  # taker short at -$30, mark -$20: losing
    before = snapshot()

    with boa.reverts("Clearinghouse: counterparty not in profit"):
        _deleverage(clearinghouse, keeper, trader, market, [taker])

    assert snapshot() == before


def test_deleverage__flagged_account_recovered__flag_cleared_fees_unblocked(
    clearinghouse, market, flagged, set_mark, owner, trader, maker, keeper
):
    set_mark(market, 45 * USDC)  # prices come back: the trader is solvent again
    with boa.env.prank(owner), boa.reverts("Clearinghouse: loss unassigned"):
        clearinghouse.withdraw_fees(owner, 0)

    assert _deleverage(clearinghouse, keeper, trader, market, [maker]) == 0

    assert not clearinghouse.adl_pending(trader.address) and clearinghouse.adl_pending_count() == 0
    assert events(clearinghouse, "Deleveraged") == []
    with boa.env.prank(owner):
        clearinghouse.withdraw_fees(owner, 0)


@pytest.fixture
def leveraged_short(protocol, market, flagged, fund, book, set_mark, liquidator):
    """A second short in `market` ($70 profit at -$20) that lost elsewhere: `third(mark)` sets
    its other leg's mark; it deposited $80 and is long 1 MWh of THIRD at $50."""
    cp = role_trader("leveraged_short")
    fund(cp, 80 * USDC)
    third = protocol.list_market("THIRD")
    protocol.set_mark(third, MARK)
    book(liquidator, cp, market, UNIT, MARK)
    book(cp, liquidator, third, UNIT, MARK)

    def at(mark):
        set_mark(third, mark)
        set_mark(market, -20 * USDC)
        return cp

    return at


def test_deleverage__counterparty_with_losses_elsewhere__keeps_equity_non_negative(
    clearinghouse, market, leveraged_short, trader, keeper
):
    # fuzz finding (deep run, 2026-11-29): a profitable counterparty with losses elsewhere gave
    # up all its profit here and ended flat with negative collateral. Now it gives up at most
    # what leaves its equity >= 0 (80 + 70 - 145 = $5, less a tick of rounding)
    cp = leveraged_short(-95 * USDC)
    assert clearinghouse.equity(cp.address) == 5 * USDC

    _deleverage(clearinghouse, keeper, trader, market, [cp])

    (log,) = events(clearinghouse, "Deleveraged")
    assert log.loss == 4_990_000
    assert clearinghouse.equity(cp.address) >= 0
    assert clearinghouse.adl_pending(trader.address)  # $8.02 were needed: the rest waits


def test_deleverage__insolvent_counterparty__reverts(clearinghouse, market, leveraged_short, trader, keeper, snapshot):
    cp = leveraged_short(-110 * USDC)  # 80 + 70 - 160 = -$10
    before = snapshot(cp)

    with boa.reverts("Clearinghouse: counterparty insolvent"):
        _deleverage(clearinghouse, keeper, trader, market, [cp])

    assert snapshot(cp) == before


def test_deleverage__nothing_closed__reverts_no_reward_drain(clearinghouse, market, flagged, trader, keeper, snapshot):
    # an empty call used to pay the caller the reward out of the bankrupt account, again and
    # again: a drain on whoever is deleveraged later
    before = snapshot()

    with boa.reverts("Clearinghouse: zero quantity"):
        _deleverage(clearinghouse, keeper, trader, market, [])

    assert snapshot() == before
