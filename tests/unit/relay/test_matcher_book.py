"""Book aggregation and price-time match selection (pure functions)."""

from __future__ import annotations

from matcher_helpers import SEP, make_order

from relay.book import levels, select_match, sides
from relay.store import StoredOrder


def _so(seq, acct, is_buy, price, qty=1_000, in_flight=False):
    o = make_order(acct, is_buy=is_buy, price=price, quantity=qty)
    return StoredOrder("0x" + o.digest(SEP).hex(), o, b"", seq=seq, remaining=qty, in_flight=in_flight)


def test_levels__aggregates_same_price_best_first(traders):
    a, b = traders[:2]
    orders = [
        _so(1, a, True, 100),
        _so(2, b, True, 101),
        _so(3, a, True, 100, 500),
        _so(4, b, False, 103),
        _so(5, a, False, 102),
        _so(6, b, False, 102, 2_000),
    ]
    bids, asks = sides(orders)
    assert [o.seq for o in bids] == [2, 1, 3]
    assert levels(bids) == [
        {"price": 101, "quantity": 1_000, "orders": 1},
        {"price": 100, "quantity": 1_500, "orders": 2},
    ]
    assert levels(asks, depth=1) == [{"price": 102, "quantity": 3_000, "orders": 2}]


def test_select_match__no_cross__none(traders):
    a, b = traders[:2]
    assert select_match([_so(1, a, True, 100), _so(2, b, False, 101)]) is None


def test_select_match__cross__earlier_order_is_maker_and_sets_price(traders):
    a, b = traders[:2]
    ask = _so(1, a, False, 95, 3_000)
    bid = _so(2, b, True, 100, 1_000)
    m = select_match([bid, ask])
    assert m.maker is ask and m.taker is bid and m.price == 95 and m.quantity == 1_000


def test_select_match__price_then_time_priority(traders):
    a, b, c = traders[:3]
    bid = _so(10, a, True, 100)
    ask_later_better = _so(5, b, False, 97)
    ask_early_worse = _so(1, c, False, 99)
    ask_same_price_later = _so(7, c, False, 97)
    m = select_match([bid, ask_early_worse, ask_same_price_later, ask_later_better])
    assert m.taker is bid and m.maker is ask_later_better


def test_select_match__own_order__skipped_for_next_trader(traders):
    a, b = traders[:2]
    bid = _so(1, a, True, 100)
    own_ask = _so(2, a, False, 90)
    other_ask = _so(3, b, False, 95)
    m = select_match([bid, own_ask, other_ask])
    assert m.maker is bid and m.taker is other_ask and m.price == 100


def test_select_match__in_flight_and_skipped_pairs__passed_over(traders):
    a, b, c = traders[:3]
    bid = _so(1, a, True, 100)
    busy = _so(2, b, False, 90, in_flight=True)
    failed = _so(3, c, False, 92)
    nxt = _so(4, b, False, 99)
    m = select_match([bid, busy, failed, nxt], skip={(bid.hash, failed.hash)})
    assert m.taker is nxt


def test_select_match__quantity_rounded_to_step(traders):
    a, b = traders[:2]
    m = select_match([_so(1, a, True, 100, 1_250), _so(2, b, False, 100, 5_000)], step=100)
    assert m.quantity == 1_200
