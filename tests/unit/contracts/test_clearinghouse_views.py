"""Clearinghouse views: collateral, position, equity, margin_requirements, is_liquidatable,
open_markets, market, market_state, mark and the public getters (the composites, such as
account_summary, are ClearinghouseView's: test_clearinghouse_view_*.py).
Numbers are worked by hand in the comments."""

import boa

from tests.utils.contract_helpers import MARK, UNIT, USDC, margin, now

ZERO32 = b"\x00" * 32


def test_equity__two_markets__collateral_plus_floor_of_unrealised(clearinghouse, book_two, trader):
    # m1: floor(333 * 47.123457) = 15.692111 - 15.06159 = +0.630521
    # m2: floor(-777 * -13.000001) = 10.101000 - 9.58818 = +0.512820
    assert clearinghouse.equity(trader.address) == 1_000 * USDC + 630_521 + 512_820


def test_equity__negative_unrealised_fraction__rounded_down(
    clearinghouse, market, funded, fund, book, set_mark, trader, maker
):
    fund(trader, 10 * USDC)
    book(trader, maker, market, 333, 0)
    set_mark(market, -1_000_001)  # 333 * -1.000001 = -0.333000333 -> -0.333001

    assert clearinghouse.equity(trader.address) == 10 * USDC - 333_001


def test_equity__no_positions__collateral(clearinghouse, fund, trader):
    fund(trader, 7)

    assert clearinghouse.equity(trader.address) == 7
    assert clearinghouse.equity(boa.env.generate_address("nobody")) == 0


def test_margin_requirements__two_markets__sum_of_rounded_up_parts(clearinghouse, book_two, trader):
    # IM m1: 0.333 * (15 + 25% * 47.123457) = 8.9180278 -> 8.918028
    # IM m2: 0.777 * (15 + 25% * 13.000001) = 14.1802502 -> 14.180251
    # MM m1: 0.333 * (10 + 15% * 47.123457) = 5.6838167 -> 5.683817
    # MM m2: 0.777 * (10 + 15% * 13.000001) = 9.2851501 -> 9.285151
    assert clearinghouse.margin_requirements(trader.address) == (8_918_028 + 14_180_251, 5_683_817 + 9_285_151)
    assert margin(333, 15 * USDC, 2_500, 47_123_457) == 8_918_028


def test_margin_requirements__negative_mark__uses_absolute_mark(
    clearinghouse, market, funded, book, set_mark, maker, taker
):
    book(taker, maker, market, UNIT, MARK)
    set_mark(market, -40 * USDC)

    assert clearinghouse.margin_requirements(taker.address) == (25 * USDC, 16 * USDC)


def test_margin_requirements__no_positions__zero(clearinghouse, trader):
    assert clearinghouse.margin_requirements(trader.address) == (0, 0)


def test_is_liquidatable__below_maintenance_on_fresh_mark__true(
    clearinghouse, market, funded, fund, book, set_mark, trader, maker
):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    assert clearinghouse.is_liquidatable(trader.address) is False
    set_mark(market, 35_290_000)  # equity $15.29 < MM $15.2935

    assert clearinghouse.is_liquidatable(trader.address) is True


def test_is_liquidatable__at_maintenance__false(clearinghouse, market, funded, fund, book, set_mark, trader, maker):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    set_mark(market, 35_300_000)  # equity $15.30 >= MM $15.295

    assert clearinghouse.is_liquidatable(trader.address) is False


def test_is_liquidatable__stale_mark__valued_one_mm_against(
    clearinghouse, clearinghouse_view, market, funded, fund, book, set_mark, trader, maker
):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    set_mark(market, 40 * USDC)  # equity $20 >= MM $16
    boa.env.time_travel(seconds=3_601)

    # stale: valued one MM against it, $20 - $16 < $16
    assert clearinghouse.is_liquidatable(trader.address) is True
    assert clearinghouse_view.account_summary(trader.address).fresh is False


def test_is_liquidatable__no_positions__false(clearinghouse, trader):
    assert clearinghouse.is_liquidatable(trader.address) is False


def test_open_markets__closing_one__swaps_last_into_its_slot(
    protocol, clearinghouse, clearinghouse_view, market, second_market, funded, book, maker, taker
):
    third = protocol.list_market("THIRD")
    protocol.set_mark(third, MARK)
    for mid in (market, second_market, third):
        book(taker, maker, mid, UNIT, MARK)
    assert clearinghouse.open_markets(taker.address) == [market, second_market, third]

    book(maker, taker, market, UNIT, MARK)

    assert clearinghouse.open_markets(taker.address) == [third, second_market]
    assert clearinghouse_view.account_summary(taker.address).open_markets == 2


def test_collateral_and_position__after_trade__raw_values(clearinghouse, market, funded, book, maker, taker):
    book(taker, maker, market, 1_234, 45_230_000, buyer_fee=17)

    assert clearinghouse.collateral(taker.address) == 10_000 * USDC - 17
    assert clearinghouse.position(taker.address, market) == (1_234, 55_813_820)
    assert clearinghouse.position(taker.address, market + 1) == (0, 0)


def test_market__listed__parameters(clearinghouse, market, protocol):
    m = clearinghouse.market(market)

    assert (m.mark_feed, m.settlement_feed) == protocol.feeds[market]
    assert (m.quantity_step, m.min_quantity, m.price_tick) == (1, 1, 10_000)
    assert (m.im_fixed, m.im_rate_bps, m.mm_fixed, m.mm_rate_bps) == (15 * USDC, 2_500, 10 * USDC, 1_500)


def test_market__unknown_id__all_zero(clearinghouse):
    m = clearinghouse.market(77)

    assert m.price_tick == 0 and m.mark_feed == ZERO32 and m.oi_cap == 0


def test_market_state__traded_halted__fields(clearinghouse, market, funded, book, guardian, maker, taker):
    book(taker, maker, market, 2_000, MARK)
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)

    assert tuple(clearinghouse.market_state(market)) == (True, False, 0, 2_000)


def test_mark__fresh__price_time_fresh(clearinghouse, market):
    assert clearinghouse.mark(market) == (MARK, now(), True)


def test_mark__exactly_max_age__fresh_one_second_later_stale(clearinghouse, market):
    observed = now()
    boa.env.time_travel(seconds=3_600)
    assert clearinghouse.mark(market) == (MARK, observed, True)
    boa.env.time_travel(seconds=1)
    assert clearinghouse.mark(market) == (MARK, observed, False)


def test_mark__disputed__not_fresh(protocol, clearinghouse, market, guardian):
    with boa.env.prank(guardian):
        protocol.oracle.dispute(protocol.feeds[market][0])

    assert clearinghouse.mark(market)[2] is False


def test_mark__never_reported__not_fresh(protocol, clearinghouse):
    mid = protocol.list_market("UNREPORTED")

    assert clearinghouse.mark(mid) == (0, 0, False)


def test_mark__settled__settlement_price_always_fresh(protocol, clearinghouse, market):
    boa.env.evm.patch.timestamp = clearinghouse.market(market).delivery_end
    protocol.set_settlement(market, 44_440_000)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)
    boa.env.time_travel(seconds=30 * 86_400)

    assert clearinghouse.mark(market) == (44_440_000, now(), True)


def test_getters__deployed__roles_tokens_and_defaults(protocol, clearinghouse, guardian):
    assert clearinghouse.collateral_token() == protocol.usdc.address
    assert clearinghouse.oracle() == protocol.oracle.address
    assert clearinghouse.exchange() == protocol.exchange.address
    assert clearinghouse.guardian() == guardian
    assert clearinghouse.market_count() == 0
    assert (clearinghouse.insurance_fund(), clearinghouse.bad_debt(), clearinghouse.fees()) == (0, 0, 0)
    assert clearinghouse.liquidation_params() == (5_000, 1_000, 10, USDC, 1_000 * USDC)
    assert (clearinghouse.adl_pending_count(), clearinghouse.adl_pending(guardian)) == (0, False)
