"""Clearinghouse.trade: books a matched trade; only the Exchange may call it. Tests call it
as the Exchange (`book`) to exercise the Clearinghouse alone; test_exchange_* go end to end."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events, role_trader
from tests.utils.deployers import MARKET_FIELDS


@pytest.fixture
def step_market(protocol):
    """Quantity step 10 (1/100 MWh), minimum 20, tick 10 cents."""
    mid = protocol.list_market("STEP", quantity_step=10, min_quantity=20, price_tick=100_000)
    protocol.set_mark(mid, MARK)
    return mid


@pytest.fixture
def small_trader(fund, trader):
    """trader with $30: enough for 1 MWh at $50 (IM $27.50), not for 2."""
    fund(trader, 30 * USDC)


def _params(clearinghouse, mid, **overrides):
    m = dict(zip(MARKET_FIELDS, clearinghouse.market(mid), strict=False))
    p = {
        k: m[k]
        for k in ("im_fixed", "im_rate_bps", "mm_fixed", "mm_rate_bps", "max_price_age", "dispute_window", "oi_cap")
    }
    p.update(overrides)
    return tuple(p.values())


# ---------------------------------------------------------------- booking


def test_trade__flat_accounts__opens_long_and_short(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, 2_500, 45_230_000)

    (trade,) = events(clearinghouse, "Trade")
    assert (trade.market_id, trade.buyer, trade.seller, trade.quantity, trade.price) == (
        market,
        taker.address,
        maker.address,
        2_500,
        45_230_000,
    )
    assert clearinghouse.position(taker.address, market) == (2_500, 113_075_000)
    assert clearinghouse.position(maker.address, market) == (-2_500, -113_075_000)
    assert clearinghouse.market_state(market).long_oi == 2_500
    assert clearinghouse.open_markets(taker.address) == [market]
    assert clearinghouse.open_markets(maker.address) == [market]
    assert clearinghouse.collateral(taker.address) == clearinghouse.collateral(maker.address) == 10_000 * USDC


def test_trade__fees__charged_to_collateral_and_pooled(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, UNIT, MARK, buyer_fee=3, seller_fee=5)

    assert clearinghouse.collateral(taker.address) == 10_000 * USDC - 3
    assert clearinghouse.collateral(maker.address) == 10_000 * USDC - 5
    assert clearinghouse.fees() == 8


def test_trade__negative_price__negative_open_notional(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, 1, -12_340_000)

    assert clearinghouse.position(taker.address, market) == (1, -12_340)
    assert clearinghouse.position(maker.address, market) == (-1, 12_340)


def test_trade__add_to_position__open_notional_accumulates(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, UNIT, MARK)
    book(taker, maker, market, UNIT, 52 * USDC)

    assert clearinghouse.position(taker.address, market) == (2 * UNIT, 102 * USDC)
    assert clearinghouse.market_state(market).long_oi == 2 * UNIT


def test_trade__partial_close__realises_pnl(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, 2 * UNIT, MARK)
    book(maker, taker, market, UNIT // 2, 60 * USDC)

    (pos,) = [e for e in events(clearinghouse, "PositionUpdated") if e.account == taker.address]
    assert pos.realised_pnl == 5 * USDC
    assert clearinghouse.position(taker.address, market) == (1_500, 75 * USDC)
    assert clearinghouse.collateral(taker.address) == 10_005 * USDC
    assert clearinghouse.position(maker.address, market) == (-1_500, -75 * USDC)
    assert clearinghouse.collateral(maker.address) == 9_995 * USDC
    assert clearinghouse.market_state(market).long_oi == 1_500


def test_trade__uneven_partial_close__realised_rounded_against_account(
    clearinghouse, market, funded, book, maker, taker
):
    book(taker, maker, market, 3, 10_000)  # open notional 30 base units
    book(taker, maker, market, 1, 20_000)  # 50 for 4 thousandths
    book(maker, taker, market, 1, 20_000)  # closes 1/4: closed share ceil(12.5) = 13

    assert clearinghouse.position(taker.address, market) == (3, 37)
    assert clearinghouse.collateral(taker.address) == 10_000 * USDC + 20 - 13


def test_trade__full_close__position_and_market_slot_freed(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, UNIT, MARK)
    book(maker, taker, market, UNIT, 49 * USDC)

    assert clearinghouse.position(taker.address, market) == (0, 0)
    assert clearinghouse.position(maker.address, market) == (0, 0)
    assert clearinghouse.open_markets(taker.address) == []
    assert clearinghouse.market_state(market).long_oi == 0
    assert clearinghouse.collateral(taker.address) == 9_999 * USDC
    assert clearinghouse.collateral(maker.address) == 10_001 * USDC


def test_trade__flip__realises_old_and_opens_new_at_price(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, UNIT, MARK)
    book(maker, taker, market, 3 * UNIT, 40 * USDC)

    assert clearinghouse.collateral(taker.address) == 9_990 * USDC
    assert clearinghouse.position(taker.address, market) == (-2 * UNIT, -80 * USDC)
    assert clearinghouse.position(maker.address, market) == (2 * UNIT, 80 * USDC)
    assert clearinghouse.market_state(market).long_oi == 2 * UNIT


def test_trade__quantity_on_step__accepted(clearinghouse, step_market, funded, book, maker, taker):
    book(taker, maker, step_market, 30, 50_100_000)

    assert clearinghouse.position(taker.address, step_market) == (30, 1_503_000)


# ---------------------------------------------------------------- caller and order checks


@pytest.mark.parametrize("caller", ["owner", "maker", "guardian"])
def test_trade__not_exchange__reverts(clearinghouse, market, funded, maker, taker, owner, guardian, snapshot, caller):
    sender = {"owner": owner, "maker": maker.address, "guardian": guardian}[caller]
    before = snapshot()

    with boa.env.prank(sender), boa.reverts("Clearinghouse: not exchange"):
        clearinghouse.trade(market, taker.address, maker.address, UNIT, MARK, 0, 0)

    assert snapshot() == before


def test_trade__unknown_market__reverts(market, funded, book, maker, taker, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: unknown market"):
        book(taker, maker, 99, UNIT, MARK)

    assert snapshot() == before


def test_trade__at_last_trade_time__reverts(clearinghouse, market, funded, book, maker, taker, snapshot):
    boa.env.evm.patch.timestamp = clearinghouse.market(market).last_trade_time - 1
    before = snapshot()
    boa.env.time_travel(seconds=1)

    with boa.reverts("Clearinghouse: trading closed"):
        book(taker, maker, market, UNIT, MARK)

    assert snapshot() == before


def test_trade__self_trade__reverts(market, funded, book, maker, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: self trade"):
        book(maker, maker, market, UNIT, MARK)

    assert snapshot() == before


@pytest.mark.parametrize("quantity", [0, 10, 25])
def test_trade__bad_quantity__reverts(step_market, funded, book, maker, taker, snapshot, quantity):
    before = snapshot()

    with boa.reverts("Clearinghouse: bad quantity"):
        book(taker, maker, step_market, quantity, 50_100_000)

    assert snapshot() == before


@pytest.mark.parametrize("price", [50_005_000, -12_345_000, 1])
def test_trade__off_tick__reverts(market, funded, book, maker, taker, snapshot, price):
    before = snapshot()

    with boa.reverts("Clearinghouse: off tick"):
        book(taker, maker, market, UNIT, price)

    assert snapshot() == before


# ---------------------------------------------------------------- risk checks


def test_trade__risk_increasing_below_initial_margin__reverts(
    market, funded, small_trader, book, trader, maker, snapshot
):
    before = snapshot()

    with boa.reverts("Clearinghouse: insufficient margin"):
        book(trader, maker, market, 2 * UNIT, MARK)

    assert snapshot() == before


def test_trade__seller_below_initial_margin__reverts(market, funded, small_trader, book, trader, maker, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: insufficient margin"):
        book(maker, trader, market, 2 * UNIT, MARK)

    assert snapshot() == before


def test_trade__exactly_initial_margin__accepted(clearinghouse, market, funded, fund, book, trader, maker):
    fund(trader, 27_500_000)
    book(trader, maker, market, UNIT, MARK)

    assert clearinghouse.equity(trader.address) == clearinghouse.margin_requirements(trader.address)[0]


def test_trade__fee_pushes_below_initial_margin__reverts(market, funded, fund, book, trader, maker, snapshot):
    fund(trader, 27_500_000)
    before = snapshot()

    with boa.reverts("Clearinghouse: insufficient margin"):
        book(trader, maker, market, UNIT, MARK, buyer_fee=1)

    assert snapshot() == before


def test_trade__risk_increasing_on_stale_mark__reverts(market, funded, book, maker, taker, snapshot):
    boa.env.time_travel(seconds=3_601)
    before = snapshot()

    with boa.reverts("Clearinghouse: stale mark"):
        book(taker, maker, market, UNIT, MARK)

    assert snapshot() == before


def test_trade__risk_reducing_on_stale_mark__accepted(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, UNIT, MARK)
    boa.env.time_travel(seconds=3_601)
    book(maker, taker, market, UNIT, MARK)

    assert clearinghouse.position(taker.address, market) == (0, 0)


def test_trade__flip_counts_as_risk_increasing__reverts(market, funded, small_trader, book, trader, maker, snapshot):
    book(trader, maker, market, UNIT, MARK)
    before = snapshot()

    # closing 1 long is fine; going on to -1 short needs IM the trader no longer has spare
    with boa.reverts("Clearinghouse: insufficient margin"):
        book(maker, trader, market, 2 * UNIT + 500, MARK)

    assert snapshot() == before


def test_trade__halted_market_risk_increasing__reverts(
    clearinghouse, market, funded, book, guardian, maker, taker, snapshot
):
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    before = snapshot()

    with boa.reverts("Clearinghouse: market halted"):
        book(taker, maker, market, UNIT, MARK)

    assert snapshot() == before


def test_trade__halted_market_one_side_increasing__reverts(
    clearinghouse, market, funded, book, guardian, maker, taker, liquidator, snapshot
):
    book(taker, maker, market, UNIT, MARK)
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    before = snapshot()

    # taker reduces, liquidator (flat) would open a long
    with boa.reverts("Clearinghouse: market halted"):
        book(liquidator, taker, market, UNIT, MARK)

    assert snapshot() == before


def test_trade__halted_market_both_reducing__accepted(clearinghouse, market, funded, book, guardian, maker, taker):
    book(taker, maker, market, UNIT, MARK)
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    book(maker, taker, market, UNIT // 2, MARK)

    assert clearinghouse.position(taker.address, market) == (500, 25 * USDC)


def test_trade__open_interest_at_cap__accepted(clearinghouse, market, funded, book, owner, maker, taker):
    with boa.env.prank(owner):
        clearinghouse.set_market_params(market, _params(clearinghouse, market, oi_cap=2 * UNIT))
    book(taker, maker, market, 2 * UNIT, MARK)

    assert clearinghouse.market_state(market).long_oi == 2 * UNIT


def test_trade__open_interest_above_cap__reverts(clearinghouse, market, funded, book, owner, maker, taker, snapshot):
    with boa.env.prank(owner):
        clearinghouse.set_market_params(market, _params(clearinghouse, market, oi_cap=2 * UNIT))
    book(taker, maker, market, 2 * UNIT, MARK)
    before = snapshot()

    with boa.reverts("Clearinghouse: open interest cap"):
        book(taker, maker, market, 1, MARK)

    assert snapshot() == before


def test_trade__cap_lowered_below_open_interest__reducing_accepted(
    clearinghouse, market, funded, book, owner, maker, taker
):
    book(taker, maker, market, 2 * UNIT, MARK)
    with boa.env.prank(owner):
        clearinghouse.set_market_params(market, _params(clearinghouse, market, oi_cap=1))
    book(maker, taker, market, UNIT, MARK)

    assert clearinghouse.market_state(market).long_oi == UNIT


def test_trade__thirty_third_market__reverts(protocol, clearinghouse, market, fund, book, trader, snapshot):
    fund(trader, 100 * USDC)
    mids = [market] + [protocol.list_market(f"MANY/{i}") for i in range(32)]
    boa.env.time_travel(seconds=1)
    marks = [protocol.feeds[m][0] for m in mids]
    protocol.push(marks[:32], [MARK] * 32)
    protocol.push(marks[32:], [MARK])
    # one counterparty per market keeps each of its margin checks to a single market
    sellers = [role_trader(f"seller-{i}") for i in range(33)]
    for seller in sellers:
        fund(seller, 100 * USDC)
    for seller, mid in zip(sellers[:32], mids[:32], strict=False):
        book(trader, seller, mid, 1, MARK)
    assert len(clearinghouse.open_markets(trader.address)) == 32
    before = snapshot(*sellers)

    with boa.reverts("Clearinghouse: too many markets"):
        book(trader, sellers[32], mids[32], 1, MARK)

    assert snapshot(*sellers) == before
    # closing one frees a slot
    book(sellers[0], trader, mids[0], 1, MARK)
    book(trader, sellers[32], mids[32], 1, MARK)
    assert sorted(clearinghouse.open_markets(trader.address)) == sorted(mids[1:])


# ---------------------------------------------------------------- risk-reducing sides keep their health
# Regression: a risk-reducing side skipped every check, so two colluding accounts could trade
# at any price and move more value than the loser had, leaving it flat with negative
# collateral that was never recorded as bad debt (DESIGN §6 invariants 1 and 3).


@pytest.fixture
def long_and_short(market, funded, fund, book, trader, keeper, maker):
    """trader long 1 MWh and keeper short 1 MWh, each with $100, against maker, at $50."""
    fund(trader, 100 * USDC)
    fund(keeper, 100 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(maker, keeper, market, UNIT, MARK)


def test_trade__colluding_reducers_at_off_market_price__reverts(
    clearinghouse, market, long_and_short, book, trader, keeper, snapshot
):
    before = snapshot()

    # trader sells its long to keeper at -$500: a $550 loss on $100 of collateral
    with boa.reverts("Clearinghouse: health would fall"):
        book(keeper, trader, market, UNIT, -500 * USDC)

    assert snapshot() == before


def test_trade__reducer_would_end_insolvent__reverts(
    clearinghouse, market, long_and_short, book, trader, taker, snapshot
):
    before = snapshot()

    # taker (flat, rich) buys trader's long at -$60: a $110 loss on $100 of collateral
    with boa.reverts("Clearinghouse: health would fall"):
        book(taker, trader, market, UNIT, -60 * USDC)

    assert snapshot() == before


def test_trade__reducer_stays_above_initial_margin__accepted(
    clearinghouse, market, long_and_short, book, trader, taker
):
    # a bad price for the trader, but it remains solvent and above IM: its own choice
    book(taker, trader, market, UNIT // 2, 10 * USDC)

    assert clearinghouse.position(trader.address, market) == (500, 25 * USDC)
    assert clearinghouse.collateral(trader.address) == 80 * USDC
    assert clearinghouse.equity(trader.address) >= clearinghouse.margin_requirements(trader.address)[0]


def test_trade__reducer_below_initial_margin_near_mark__accepted(
    clearinghouse, market, set_mark, long_and_short, book, trader, taker
):
    set_mark(market, -35 * USDC)  # trader equity $15, IM $23.75, MM $15.25: below both
    assert clearinghouse.equity(trader.address) < clearinghouse.margin_requirements(trader.address)[0]
    # de-risking half a MWh one cent worse than the mark lowers MM more than equity
    book(taker, trader, market, UNIT // 2, -35_010_000)

    assert clearinghouse.position(trader.address, market)[0] == UNIT // 2


def test_trade__underwater_reducer_at_mark__reverts(
    clearinghouse, market, set_mark, long_and_short, book, trader, taker, snapshot
):
    set_mark(market, -60 * USDC)  # trader equity -$10: only a liquidation may close it
    before = snapshot()

    with boa.reverts("Clearinghouse: health would fall"):
        book(taker, trader, market, UNIT, -60 * USDC)

    assert snapshot() == before
    assert clearinghouse.is_liquidatable(trader.address)


def test_trade__reducer_full_close_with_profit__accepted(
    clearinghouse, market, set_mark, long_and_short, book, trader, taker
):
    set_mark(market, 70 * USDC)
    book(taker, trader, market, UNIT, 70 * USDC)

    assert clearinghouse.collateral(trader.address) == 120 * USDC
    assert clearinghouse.open_markets(trader.address) == []
