"""ClearinghouseView.market_view: market, market_state and mark in one call."""

import boa

from tests.utils.contract_helpers import MARK, UNIT, now


def test_market_view__traded_halted__market_state_and_mark(
    clearinghouse, clearinghouse_view, market, funded, book, guardian, maker, taker
):
    book(taker, maker, market, 2 * UNIT, MARK)
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)

    v = clearinghouse_view.market_view(market)
    assert tuple(v.market) == tuple(clearinghouse.market(market))
    assert tuple(v.state) == (True, False, 0, 2 * UNIT) == tuple(clearinghouse.market_state(market))
    assert (v.mark, v.observed_at, v.fresh) == (MARK, now(), True) == clearinghouse.mark(market)


def test_market_view__settled__settlement_price_fresh(protocol, clearinghouse, clearinghouse_view, market):
    boa.env.evm.patch.timestamp = clearinghouse.market(market).delivery_end
    protocol.set_settlement(market, 44_440_000)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)

    v = clearinghouse_view.market_view(market)
    assert tuple(v.state)[:3] == (False, True, 44_440_000)
    assert (v.mark, v.fresh) == (44_440_000, True)


def test_market_view__unknown_id__all_zero_not_fresh(clearinghouse_view):
    v = clearinghouse_view.market_view(77)

    assert v.market.price_tick == 0 and tuple(v.state) == (False, False, 0, 0)
    assert (v.mark, v.observed_at, v.fresh) == (0, 0, False)
