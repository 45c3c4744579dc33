"""Clearinghouse.liquidate: anyone takes over (part of) an account below maintenance margin at
the mark, one market per call; the account pays a penalty (a share of MM, capped at a share of
notional and so its health ratio never falls) into the insurance fund, and the liquidator is paid
a reward from it. An insolvent account is closed out market by market; a loss the fund cannot
carry flags the account for deleverage instead (tests in test_clearinghouse_deleverage.py)."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events, now

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def long_at_50(market, funded, fund, book, trader, maker):
    """trader: $30 collateral, long 1 MWh at $50 (IM $27.50)."""
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)


@pytest.fixture
def underwater(long_at_50, market, set_mark):
    """Mark $35: equity $15 < MM $10 + 15% * $35 = $15.25 (IM $23.75)."""
    set_mark(market, 35 * USDC)


def _health(ch, who):
    a = getattr(who, "address", who)
    return ch.equity(a), ch.margin_requirements(a)[1]


def _liquidate(ch, liquidator, account, mid, quantity):
    with boa.env.prank(getattr(liquidator, "address", liquidator)):
        return ch.liquidate(getattr(account, "address", account), mid, quantity)


# ---------------------------------------------------------------- partial liquidation


def test_liquidate__partial__takes_only_what_restores_maintenance(
    clearinghouse, market, underwater, trader, liquidator
):
    assert clearinghouse.is_liquidatable(trader.address)

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    # u = $15.25 MM per unit, penalty per unit min(50% of u, 10% of $35) = $3.50:
    # (15.25 - 15) / (15.25 - 3.50) MWh -> 22 kWh
    assert taken == 22
    (log,) = events(clearinghouse, "Liquidation")
    assert (log.account, log.liquidator, log.market_id, log.quantity, log.price) == (
        trader.address,
        liquidator.address,
        market,
        22,
        35 * USDC,
    )
    # penalty 22 kWh * $3.50 into the fund; the reward ($1 + 0.1% of $0.77) is capped by the fund
    assert (log.penalty, log.reward) == (77_000, 77_000)
    # 22 kWh sold at $35 against an average entry of $50: $0.33 realised loss
    assert clearinghouse.position(trader.address, market) == (978, 48_900_000)
    assert clearinghouse.collateral(trader.address) == 30 * USDC - 330_000 - 77_000
    assert clearinghouse.position(liquidator.address, market) == (22, 770_000)
    assert clearinghouse.collateral(liquidator.address) == 10_000 * USDC + 77_000
    assert clearinghouse.insurance_fund() == 0
    equity, maintenance = _health(clearinghouse, trader)
    assert (equity, maintenance) == (14_923_000, 14_914_500)
    assert not clearinghouse.is_liquidatable(trader.address)


def test_liquidate__partial_with_insurance__liquidator_paid_full_reward(
    clearinghouse, market, underwater, insurance, trader, liquidator
):
    insurance(100 * USDC)

    _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    # $1 minimum + 10 bps of the $0.77 notional taken
    assert (log.penalty, log.reward) == (77_000, 1_000_770)
    assert clearinghouse.collateral(liquidator.address) == 10_000 * USDC + 1_000_770
    assert clearinghouse.insurance_fund() == 100 * USDC + 77_000 - 1_000_770


def test_liquidate__quantity_below_needed__takes_quantity(clearinghouse, market, underwater, trader, liquidator):
    e0, m0 = _health(clearinghouse, trader)
    taken = _liquidate(clearinghouse, liquidator, trader, market, 10)

    assert taken == 10
    assert clearinghouse.position(trader.address, market)[0] == 990
    e1, m1 = _health(clearinghouse, trader)
    assert e1 * m0 >= e0 * m1  # health ratio did not fall
    assert clearinghouse.is_liquidatable(trader.address)


@pytest.mark.parametrize("mark", [33_500_000, 33_005_000, 30 * USDC, 27_500_000, 25 * USDC, 21 * USDC, 18 * USDC])
@pytest.mark.parametrize("quantity", [1, 33, 250, 10**9])
def test_liquidate__any_size_and_mark__health_ratio_never_falls(
    clearinghouse, market, set_mark, long_at_50, second_market, fund, book, trader, maker, liquidator, mark, quantity
):
    # a second position (0.1 MWh) keeps maintenance > 0 when the first is taken whole;
    # equity = mark - $17, MM = $11.75 + 15% * mark: liquidatable for $17 < mark < $33.82
    fund(trader, 3 * USDC)
    book(trader, maker, second_market, 100, MARK)
    set_mark(market, mark)
    e0, m0 = _health(clearinghouse, trader)
    assert 0 < e0 < m0

    _liquidate(clearinghouse, liquidator, trader, market, quantity)

    e1, m1 = _health(clearinghouse, trader)
    assert e1 * m0 >= e0 * m1
    assert clearinghouse.collateral(trader.address) >= 0
    assert clearinghouse.equity(liquidator.address) >= clearinghouse.margin_requirements(liquidator.address)[0]
    if quantity == 10**9 and clearinghouse.position(trader.address, market)[0] != 0:
        # a partial take, not capped by the caller: it is the size that restores health
        assert e1 >= m1


def test_liquidate__penalty_unaffordable__whole_position_and_penalty_capped(
    clearinghouse, market, set_mark, long_at_50, trader, liquidator
):
    # equity $2 < the $2.20 penalty on one unit (10% of $22): nothing short of all restores health
    set_mark(market, 22 * USDC)

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert taken == UNIT
    (log,) = events(clearinghouse, "Liquidation")
    # nominal penalty $2.20, capped at the $2 equity left: the account ends at zero, not below
    assert log.penalty == 2 * USDC
    assert clearinghouse.position(trader.address, market) == (0, 0)
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.bad_debt() == 0


def test_liquidate__penalty_capped_by_notional__share_of_price(
    clearinghouse, market, second_market, set_mark, funded, fund, book, trader, maker, liquidator
):
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, second_market, UNIT, MARK)
    set_mark(market, 2 * USDC)  # equity $12, MM $10.30 + $17.50 = $27.80

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert taken == UNIT
    (log,) = events(clearinghouse, "Liquidation")
    # 50% of MM would be $5.15, 257% of the $2 notional; the cap is 10% of it
    assert log.penalty == 200_000


def test_liquidate__penalty_capped_by_health_ratio__ratio_kept(
    clearinghouse, market, second_market, set_mark, funded, fund, book, owner, trader, maker, liquidator
):
    with boa.env.prank(owner):
        clearinghouse.set_liquidation_params(5_000, 2_500, 10, USDC, 1_000 * USDC)
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, second_market, UNIT, MARK)
    set_mark(second_market, 30 * USDC)
    set_mark(market, 20 * USDC)  # equity $10, MM $13 + $14.50 = $27.50
    e0, m0 = _health(clearinghouse, trader)
    assert (e0, m0) == (10 * USDC, 27_500_000)

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert taken == UNIT
    (log,) = events(clearinghouse, "Liquidation")
    # cap = 10 - ceil(10 * 14.5 / 27.5) = $4.727272; the nominal $5 would lower the ratio
    assert log.penalty == 4_727_272
    e1, m1 = _health(clearinghouse, trader)
    assert m1 == 14_500_000
    assert e1 * m0 >= e0 * m1


def test_liquidate__long_mark_off_tick__account_sells_at_tick_above(
    clearinghouse, market, set_mark, long_at_50, trader, liquidator
):
    set_mark(market, 34_995_000)

    _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    assert log.price == 35 * USDC


def test_liquidate__short_mark_off_tick__account_buys_at_tick_below(
    clearinghouse, market, set_mark, funded, fund, book, trader, maker, liquidator
):
    fund(trader, 30 * USDC)
    book(maker, trader, market, UNIT, MARK)
    set_mark(market, 65_005_000)  # equity $14.995 < MM $19.75

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    assert log.price == 65 * USDC
    assert log.quantity == -taken  # the liquidator takes over a short
    assert clearinghouse.position(liquidator.address, market)[0] == -taken
    assert clearinghouse.position(trader.address, market)[0] == -(UNIT - taken)


def test_liquidate__quantity_rounded_down_to_step__takes_whole_steps(
    protocol, clearinghouse, set_mark, funded, fund, book, trader, maker, liquidator
):
    mid = protocol.list_market("STEP", quantity_step=10, min_quantity=10, price_tick=100_000)
    protocol.set_mark(mid, MARK)
    fund(trader, 30 * USDC)
    book(trader, maker, mid, UNIT, MARK)
    set_mark(mid, 35 * USDC)

    assert _liquidate(clearinghouse, liquidator, trader, mid, 25) == 20


# ---------------------------------------------------------------- insolvent close-out


def test_liquidate__insolvent_fund_short__flags_for_deleverage_moves_nothing(
    clearinghouse, market, second_market, insolvent, insurance, owner, trader, liquidator
):
    insurance(4 * USDC)
    assert clearinghouse.equity(trader.address) == -10 * USDC

    assert _liquidate(clearinghouse, liquidator, trader, market, 10**9) == 0

    (flag,) = events(clearinghouse, "DeleverageNeeded")
    # $10 deficit + the $1 minimum reward for each of its two legs, against a $4 fund
    assert (flag.account, flag.shortfall) == (trader.address, 8 * USDC)
    assert events(clearinghouse, "Liquidation") == []
    assert clearinghouse.adl_pending(trader.address) and clearinghouse.adl_pending_count() == 1
    assert clearinghouse.position(trader.address, market) == (UNIT, MARK)
    assert clearinghouse.insurance_fund() == 4 * USDC
    with boa.env.prank(owner), boa.reverts("Clearinghouse: loss unassigned"):
        clearinghouse.withdraw_fees(owner, 0)
    # flagging twice counts the account once
    _liquidate(clearinghouse, liquidator, trader, second_market, 10**9)
    assert clearinghouse.adl_pending_count() == 1


def test_liquidate__insolvent__one_market_per_call_with_reward(
    clearinghouse, market, second_market, insolvent, insurance, trader, liquidator
):
    insurance(100 * USDC)

    taken = _liquidate(clearinghouse, liquidator, trader, market, 1)

    assert taken == UNIT  # the whole position in that market, whatever was asked
    (log,) = events(clearinghouse, "Liquidation")
    # no penalty from an insolvent account; $1 + 10 bps of the $20 notional from the fund
    assert (log.market_id, log.quantity, log.price, log.penalty, log.reward) == (market, UNIT, -20 * USDC, 0, 1_020_000)
    assert clearinghouse.open_markets(trader.address) == [second_market]
    assert clearinghouse.equity(trader.address) == -10 * USDC
    assert clearinghouse.position(liquidator.address, market) == (UNIT, -20 * USDC)

    _liquidate(clearinghouse, liquidator, trader, second_market, 1)

    (absorbed,) = events(clearinghouse, "BadDebt")
    assert (absorbed.account, absorbed.covered_by_insurance, absorbed.uncovered) == (trader.address, 10 * USDC, 0)
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.position(liquidator.address, second_market) == (UNIT, MARK)
    assert clearinghouse.insurance_fund() == 100 * USDC - 1_020_000 - 1_050_000 - 10 * USDC
    assert clearinghouse.bad_debt() == 0


def test_liquidate__insolvent_reward_capped__fund_keeps_the_deficit(
    clearinghouse, market, second_market, insolvent, insurance, trader, liquidator
):
    insurance(12 * USDC)  # the $10 deficit plus the $1 minimum for each of two legs

    _liquidate(clearinghouse, liquidator, trader, market, 1)
    _liquidate(clearinghouse, liquidator, trader, second_market, 1)

    # each reward ($1.02, then $1.05 by the notional) is capped so the fund keeps the deficit
    assert [log.reward for log in events(clearinghouse, "Liquidation")] == [USDC]
    assert clearinghouse.insurance_fund() == 0
    assert clearinghouse.collateral(trader.address) == 0


def test_liquidate__zero_equity__closed_out_without_penalty(
    clearinghouse, market, set_mark, long_at_50, insurance, trader, liquidator
):
    insurance(5 * USDC)
    set_mark(market, 20 * USDC)  # equity exactly 0

    _liquidate(clearinghouse, liquidator, trader, market, 1)

    (log,) = events(clearinghouse, "Liquidation")
    assert (log.quantity, log.penalty, log.reward) == (UNIT, 0, 1_020_000)
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.bad_debt() == 0


def test_liquidate__settled_leg__settled_not_transferred(
    protocol, clearinghouse, market, set_mark, funded, fund, book, insurance, trader, maker, liquidator
):
    t = now()
    short = protocol.list_market("SHORT", delivery_start=t + 1, delivery_end=t + 86_400, last_trade_time=t + 86_400)
    protocol.set_mark(short, MARK)
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, short, UNIT, MARK)
    boa.env.time_travel(seconds=86_400)
    protocol.set_settlement(short, 45 * USDC)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(short)
    set_mark(market, -20 * USDC)  # equity 60 - 70 - 5 = -$15

    assert _liquidate(clearinghouse, liquidator, trader, short, 1) == 0

    (settled,) = events(clearinghouse, "Settled")
    assert (settled.market_id, settled.quantity, settled.pnl) == (short, UNIT, -5 * USDC)
    assert clearinghouse.position(liquidator.address, short) == (0, 0)
    assert clearinghouse.open_markets(trader.address) == [market]


def test_liquidate__halted_market__liquidated_at_last_mark(
    clearinghouse, market, underwater, guardian, trader, liquidator
):
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    boa.env.time_travel(seconds=7_200)  # the mark is stale too: a halted market uses its last one

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    assert (taken, log.price) == (22, 35 * USDC)


def test_liquidate__insolvent_with_halted_market__closed_out_at_last_mark(
    clearinghouse, market, second_market, insolvent, insurance, guardian, trader, liquidator
):
    insurance(100 * USDC)
    with boa.env.prank(guardian):
        clearinghouse.halt_market(second_market)

    for mid in (second_market, market):
        _liquidate(clearinghouse, liquidator, trader, mid, 10**9)

    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.position(liquidator.address, second_market) == (UNIT, MARK)


def test_liquidate__stale_leg_elsewhere__account_still_liquidatable(
    clearinghouse, market, second_market, set_mark, long_at_50, fund, book, maker, trader, liquidator
):
    # a 1 kWh position in a second market whose mark then goes stale used to shield the account
    fund(trader, 1 * USDC)
    book(trader, maker, second_market, 1, MARK)
    boa.env.time_travel(seconds=3_601)
    set_mark(market, 34 * USDC)  # only the first market's mark is fresh

    assert clearinghouse.is_liquidatable(trader.address)
    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert taken > 0
    assert clearinghouse.position(trader.address, second_market)[0] == 1


# ---------------------------------------------------------------- rejections


def test_liquidate__self__reverts(clearinghouse, market, underwater, trader, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: self liquidation"):
        _liquidate(clearinghouse, trader, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__healthy_account__reverts(clearinghouse, market, long_at_50, trader, liquidator, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: account healthy"):
        _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__exactly_at_maintenance__reverts(
    clearinghouse, market, set_mark, long_at_50, owner, trader, liquidator, snapshot
):
    with boa.env.prank(owner):  # MM a flat $10 per MWh, so equity can equal it exactly
        clearinghouse.set_market_params(market, (15 * USDC, 2_500, 10 * USDC, 0, 3_600, 3_600, 10**12))
    set_mark(market, 30 * USDC)  # equity 30 + 30 - 50 = $10 = MM
    before = snapshot()

    with boa.reverts("Clearinghouse: account healthy"):
        _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert snapshot() == before
    set_mark(market, 29_990_000)
    assert clearinghouse.is_liquidatable(trader.address)


def test_liquidate__account_without_positions__reverts(clearinghouse, market, fund, trader, liquidator, snapshot):
    fund(trader, 1)
    before = snapshot()

    with boa.reverts("Clearinghouse: account healthy"):
        _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__stale_mark__reverts(clearinghouse, market, underwater, trader, liquidator, snapshot):
    boa.env.time_travel(seconds=3_601)
    before = snapshot()

    with boa.reverts("Clearinghouse: stale mark"):
        _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert snapshot() == before
    # valued conservatively it is liquidatable; only a fresh or halted market can be acted on
    assert clearinghouse.is_liquidatable(trader.address)


def test_liquidate__disputed_mark__reverts(
    protocol, clearinghouse, market, underwater, guardian, trader, liquidator, snapshot
):
    with boa.env.prank(guardian):
        protocol.oracle.dispute(protocol.feeds[market][0])
    before = snapshot()

    with boa.reverts("Clearinghouse: stale mark"):
        _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__liquidator_below_initial_margin__reverts(
    clearinghouse, market, underwater, trader, keeper, snapshot
):
    before = snapshot()

    # keeper has no collateral: 33 kWh at $35 needs $0.78 of IM, the penalty share is $0.20
    with boa.reverts("Clearinghouse: insufficient margin"):
        _liquidate(clearinghouse, keeper, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__market_without_position__reverts(
    clearinghouse, second_market, underwater, trader, liquidator, snapshot
):
    before = snapshot()

    with boa.reverts("Clearinghouse: no position"):
        _liquidate(clearinghouse, liquidator, trader, second_market, 10**9)

    assert snapshot() == before


@pytest.mark.parametrize("quantity", [0])
def test_liquidate__zero_quantity__reverts(clearinghouse, market, underwater, trader, liquidator, snapshot, quantity):
    before = snapshot()

    with boa.reverts("Clearinghouse: zero quantity"):
        _liquidate(clearinghouse, liquidator, trader, market, quantity)

    assert snapshot() == before


def test_liquidate__quantity_below_step__reverts(
    protocol, clearinghouse, set_mark, funded, fund, book, trader, maker, liquidator, snapshot
):
    mid = protocol.list_market("STEP", quantity_step=10, min_quantity=10, price_tick=100_000)
    protocol.set_mark(mid, MARK)
    fund(trader, 30 * USDC)
    book(trader, maker, mid, UNIT, MARK)
    set_mark(mid, 35 * USDC)
    before = snapshot()

    with boa.reverts("Clearinghouse: zero quantity"):
        _liquidate(clearinghouse, liquidator, trader, mid, 9)

    assert snapshot() == before
