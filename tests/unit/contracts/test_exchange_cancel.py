"""Exchange.cancel: a trader kills one of its orders for good."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, events


@pytest.fixture
def bid(market, funded, signed_order, maker):
    return signed_order(maker, market, True, UNIT, MARK)


def test_cancel__own_order__cancelled(exchange, bid, maker):
    order, _ = bid
    with boa.env.prank(maker.address):
        exchange.cancel(order)

    (log,) = events(exchange, "OrderCancelled")
    assert (log.order_hash, log.trader) == (exchange.order_hash(order), maker.address)
    assert exchange.cancelled(exchange.order_hash(order)) is True
    assert exchange.remaining(order) == 0


def test_cancel__partially_filled__rest_unfillable(exchange, bid, maker, taker, snapshot):
    order, sig = bid
    with boa.env.prank(taker.address):
        exchange.fill(order, sig, 400)
    with boa.env.prank(maker.address):
        exchange.cancel(order)

    assert exchange.filled(exchange.order_hash(order)) == 400
    before = snapshot(orders=[order])
    with boa.env.prank(taker.address), boa.reverts("Exchange: order cancelled"):
        exchange.fill(order, sig, 1)
    assert snapshot(orders=[order]) == before


def test_cancel__never_signed_order__cancelled(exchange, protocol, market, maker):
    order = protocol.order(maker, market, False, 5, MARK, 123)
    with boa.env.prank(maker.address):
        exchange.cancel(order)

    assert exchange.cancelled(exchange.order_hash(order))


def test_cancel__someone_elses_order__reverts(exchange, bid, taker, snapshot):
    order, _ = bid
    before = snapshot(orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: not your order"):
        exchange.cancel(order)

    assert snapshot(orders=[order]) == before


def test_cancel__twice__reverts(exchange, bid, maker, snapshot):
    order, _ = bid
    with boa.env.prank(maker.address):
        exchange.cancel(order)
    before = snapshot(orders=[order])

    with boa.env.prank(maker.address), boa.reverts("Exchange: already cancelled"):
        exchange.cancel(order)

    assert snapshot(orders=[order]) == before
