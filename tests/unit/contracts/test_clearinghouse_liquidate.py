"""Clearinghouse.liquidate: anyone takes over (part of) an account below maintenance margin at
the mark, the account pays a penalty that never lowers its health ratio; an insolvent account
is closed out in every market and its loss goes to the insurance fund, then to bad debt."""
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


@pytest.fixture
def second_market(protocol):
    mid = protocol.list_market("SECOND")
    protocol.set_mark(mid, MARK)
    return mid


def _health(ch, who):
    s = ch.account_summary(getattr(who, "address", who))
    return s.equity, s.maintenance


def _liquidate(ch, liquidator, account, mid, quantity):
    with boa.env.prank(getattr(liquidator, "address", liquidator)):
        return ch.liquidate(getattr(account, "address", account), mid, quantity)


# ---------------------------------------------------------------- partial liquidation


def test_liquidate__partial__takes_only_what_restores_maintenance(clearinghouse, market, underwater, trader,
                                                                   liquidator):
    assert clearinghouse.is_liquidatable(trader.address)

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    # u = $15.25 per unit, penalty 50% of it: (15.25 - 15) / (15.25 * 0.5) MWh -> 33 kWh
    assert taken == 33
    (log,) = events(clearinghouse, "Liquidation")
    assert (log.account, log.liquidator, log.market_id, log.quantity, log.price) == (
        trader.address, liquidator.address, market, 33, 35 * USDC)
    # penalty: 33 kWh * $15.25 * 50% = $0.251625, a fifth of it to insurance
    assert (log.penalty, log.insurance_share) == (251_625, 50_325)
    # 33 kWh sold at $35 against an average entry of $50: $0.495 realised loss
    assert clearinghouse.position(trader.address, market) == (967, 48_350_000)
    assert clearinghouse.collateral(trader.address) == 30 * USDC - 495_000 - 251_625
    assert clearinghouse.position(liquidator.address, market) == (33, 1_155_000)
    assert clearinghouse.collateral(liquidator.address) == 10_000 * USDC + 201_300
    assert clearinghouse.insurance_fund() == 50_325
    equity, maintenance = _health(clearinghouse, trader)
    assert (equity, maintenance) == (14_748_375, 14_746_750)
    assert not clearinghouse.is_liquidatable(trader.address)


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
def test_liquidate__any_size_and_mark__health_ratio_never_falls(clearinghouse, market, set_mark, long_at_50,
                                                                 second_market, fund, book, trader, maker,
                                                                 liquidator, mark, quantity):
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


def test_liquidate__penalty_unaffordable__whole_position_and_penalty_capped(clearinghouse, market, set_mark,
                                                                          long_at_50, trader, liquidator):
    set_mark(market, 25 * USDC)  # equity $5 < half of MM $13.75: nothing short of all restores health

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert taken == UNIT
    (log,) = events(clearinghouse, "Liquidation")
    # nominal penalty $6.875, capped at the $5 equity left: the account ends at zero, not below
    assert log.penalty == 5 * USDC
    assert clearinghouse.position(trader.address, market) == (0, 0)
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.bad_debt() == 0


def test_liquidate__penalty_capped_by_health_ratio__ratio_kept(clearinghouse, market, second_market, set_mark,
                                                               funded, fund, book, trader, maker, liquidator):
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, second_market, UNIT, MARK)
    set_mark(market, 2 * USDC)  # equity $12, MM $10.30 + $17.50 = $27.80
    e0, m0 = _health(clearinghouse, trader)
    assert (e0, m0) == (12 * USDC, 27_800_000)

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert taken == UNIT
    (log,) = events(clearinghouse, "Liquidation")
    # cap = 12 - ceil(12 * 17.5 / 27.8) = $4.446043; the nominal $5.15 would lower the ratio
    assert log.penalty == 4_446_043
    e1, m1 = _health(clearinghouse, trader)
    assert m1 == 17_500_000
    assert e1 * m0 >= e0 * m1


def test_liquidate__long_mark_off_tick__account_sells_at_tick_above(clearinghouse, market, set_mark, long_at_50,
                                                                   trader, liquidator):
    set_mark(market, 34_995_000)

    _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    assert log.price == 35 * USDC


def test_liquidate__short_mark_off_tick__account_buys_at_tick_below(clearinghouse, market, set_mark, funded, fund,
                                                                   book, trader, maker, liquidator):
    fund(trader, 30 * USDC)
    book(maker, trader, market, UNIT, MARK)
    set_mark(market, 65_005_000)  # equity $14.995 < MM $19.75

    taken = _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    assert log.price == 65 * USDC
    assert log.quantity == -taken  # the liquidator takes over a short
    assert clearinghouse.position(liquidator.address, market)[0] == -taken
    assert clearinghouse.position(trader.address, market)[0] == -(UNIT - taken)


def test_liquidate__quantity_rounded_down_to_step__takes_whole_steps(protocol, clearinghouse, set_mark, funded,
                                                                     fund, book, trader, maker, liquidator):
    mid = protocol.list_market("STEP", quantity_step=10, min_quantity=10, price_tick=100_000)
    protocol.set_mark(mid, MARK)
    fund(trader, 30 * USDC)
    book(trader, maker, mid, UNIT, MARK)
    set_mark(mid, 35 * USDC)

    assert _liquidate(clearinghouse, liquidator, trader, mid, 25) == 20


# ---------------------------------------------------------------- insolvent close-out


@pytest.fixture
def insolvent(market, second_market, set_mark, funded, fund, book, trader, maker):
    """trader: $60, long 1 MWh in each market at $50; market 1 marks -$20: equity -$10."""
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, second_market, UNIT, MARK)
    set_mark(market, -20 * USDC)
    set_mark(second_market, MARK)


@pytest.fixture
def insurance(usdc, clearinghouse, keeper):
    def _fund(amount):
        usdc.mint(keeper.address, amount)
        with boa.env.prank(keeper.address):
            usdc.approve(clearinghouse.address, amount)
            clearinghouse.fund_insurance(amount)

    return _fund


def test_liquidate__insolvent__closed_out_everywhere_insurance_then_bad_debt(clearinghouse, market, second_market,
                                                                            insolvent, insurance, trader,
                                                                            liquidator):
    insurance(4 * USDC)
    assert clearinghouse.equity(trader.address) == -10 * USDC

    taken = _liquidate(clearinghouse, liquidator, trader, second_market, 1)

    assert taken == UNIT  # the whole position, whatever was asked
    (bad,) = events(clearinghouse, "BadDebt")
    assert (bad.account, bad.covered_by_insurance, bad.uncovered) == (trader.address, 4 * USDC, 6 * USDC)
    liquidations = events(clearinghouse, "Liquidation")
    assert sorted((e.market_id, e.quantity, e.price, e.penalty) for e in liquidations) == [
        (market, UNIT, -20 * USDC, 0), (second_market, UNIT, MARK, 0)]
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.position(trader.address, market) == (0, 0)
    assert clearinghouse.position(trader.address, second_market) == (0, 0)
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.insurance_fund() == 0
    assert clearinghouse.bad_debt() == 6 * USDC
    assert clearinghouse.position(liquidator.address, market) == (UNIT, -20 * USDC)
    assert clearinghouse.position(liquidator.address, second_market) == (UNIT, MARK)


def test_liquidate__insolvent_insurance_enough__no_bad_debt(clearinghouse, market, insolvent, insurance, trader,
                                                           liquidator):
    insurance(100 * USDC)

    _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert clearinghouse.insurance_fund() == 90 * USDC
    assert clearinghouse.bad_debt() == 0
    assert clearinghouse.collateral(trader.address) == 0


def test_liquidate__zero_equity__closed_out_without_penalty(clearinghouse, market, set_mark, long_at_50, trader,
                                                            liquidator):
    set_mark(market, 20 * USDC)  # equity exactly 0

    _liquidate(clearinghouse, liquidator, trader, market, 1)

    (log,) = events(clearinghouse, "Liquidation")
    assert (log.quantity, log.penalty) == (UNIT, 0)
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.bad_debt() == 0


def test_liquidate__insolvent_with_settled_market__settles_it(protocol, clearinghouse, market, set_mark, funded,
                                                              fund, book, trader, maker, liquidator):
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

    _liquidate(clearinghouse, liquidator, trader, market, 1)

    (settled,) = events(clearinghouse, "Settled")
    assert (settled.market_id, settled.quantity, settled.pnl) == (short, UNIT, -5 * USDC)
    assert clearinghouse.position(liquidator.address, short) == (0, 0)
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.bad_debt() == 15 * USDC


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


def test_liquidate__exactly_at_maintenance__reverts(clearinghouse, market, set_mark, long_at_50, owner, trader,
                                                    liquidator, snapshot):
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
    assert not clearinghouse.is_liquidatable(trader.address)


def test_liquidate__disputed_mark__reverts(protocol, clearinghouse, market, underwater, guardian, trader, liquidator,
                                          snapshot):
    with boa.env.prank(guardian):
        protocol.oracle.dispute(protocol.feeds[market][0])
    before = snapshot()

    with boa.reverts("Clearinghouse: stale mark"):
        _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__liquidator_below_initial_margin__reverts(clearinghouse, market, underwater, trader, keeper,
                                                             snapshot):
    before = snapshot()

    # keeper has no collateral: 33 kWh at $35 needs $0.78 of IM, the penalty share is $0.20
    with boa.reverts("Clearinghouse: insufficient margin"):
        _liquidate(clearinghouse, keeper, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__halted_market__reverts(clearinghouse, market, underwater, guardian, trader, liquidator, snapshot):
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    before = snapshot()

    with boa.reverts("Clearinghouse: market halted"):
        _liquidate(clearinghouse, liquidator, trader, market, 10**9)

    assert snapshot() == before


def test_liquidate__insolvent_with_halted_market__reverts(clearinghouse, second_market, insolvent, guardian, trader,
                                                          liquidator, snapshot):
    with boa.env.prank(guardian):
        clearinghouse.halt_market(second_market)
    before = snapshot()

    with boa.reverts("Clearinghouse: market halted"):
        _liquidate(clearinghouse, liquidator, trader, 1, 10**9)

    assert snapshot() == before


def test_liquidate__settled_market__reverts(protocol, clearinghouse, market, set_mark, funded, fund, book, trader,
                                           maker, liquidator, snapshot):
    t = now()
    short = protocol.list_market("SHORT", delivery_start=t + 1, delivery_end=t + 86_400, last_trade_time=t + 86_400)
    protocol.set_mark(short, MARK)
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, short, UNIT, MARK)
    boa.env.time_travel(seconds=86_400)
    protocol.set_settlement(short, MARK)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(short)
    set_mark(market, -1 * USDC)  # equity $9 < MM $10.15; the settled position needs no margin
    assert clearinghouse.is_liquidatable(trader.address)
    before = snapshot()

    with boa.reverts("Clearinghouse: market settled"):
        _liquidate(clearinghouse, liquidator, trader, short, 10**9)

    assert snapshot() == before


def test_liquidate__market_without_position__reverts(clearinghouse, second_market, underwater, trader, liquidator,
                                                     snapshot):
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


def test_liquidate__quantity_below_step__reverts(protocol, clearinghouse, set_mark, funded, fund, book, trader, maker,
                                                 liquidator, snapshot):
    mid = protocol.list_market("STEP", quantity_step=10, min_quantity=10, price_tick=100_000)
    protocol.set_mark(mid, MARK)
    fund(trader, 30 * USDC)
    book(trader, maker, mid, UNIT, MARK)
    set_mark(mid, 35 * USDC)
    before = snapshot()

    with boa.reverts("Clearinghouse: zero quantity"):
        _liquidate(clearinghouse, liquidator, trader, mid, 9)

    assert snapshot() == before
