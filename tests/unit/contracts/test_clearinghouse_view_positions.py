"""ClearinghouseView.positions: every open position with its mark, in open_markets order."""

import boa

from tests.utils.contract_helpers import MARK, UNIT


def test_positions__two_markets__open_markets_order_with_marks(
    clearinghouse, clearinghouse_view, market, second_market, book_two, trader
):
    got = [tuple(p) for p in clearinghouse_view.positions(trader.address)]

    assert got == [
        (market, 333, 15_061_590, 47_123_457, True),
        (second_market, -777, 9_588_180, -13_000_001, True),
    ]
    assert [p[0] for p in got] == list(clearinghouse.open_markets(trader.address))
    assert [p[1:3] for p in got] == [clearinghouse.position(trader.address, m) for m in (market, second_market)]


def test_positions__stale_mark__flagged_not_fresh(clearinghouse_view, market, funded, book, maker, taker):
    book(taker, maker, market, UNIT, MARK)
    boa.env.time_travel(seconds=3_601)

    assert [tuple(p) for p in clearinghouse_view.positions(taker.address)] == [(market, UNIT, 50_000_000, MARK, False)]


def test_positions__no_positions__empty(clearinghouse_view, trader):
    assert clearinghouse_view.positions(trader.address) == []
