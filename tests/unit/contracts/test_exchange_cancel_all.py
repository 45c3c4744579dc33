"""Exchange.cancel_all: a trader kills every order with a nonce below a new minimum."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, events


def test_cancel_all__raised_minimum__lower_nonces_dead_others_alive(
    exchange, market, funded, signed_order, maker, taker, snapshot
):
    old = signed_order(maker, market, True, UNIT, MARK, nonce=9)
    kept = signed_order(maker, market, True, UNIT, MARK, nonce=10)
    with boa.env.prank(maker.address):
        exchange.cancel_all(10)

    (log,) = events(exchange, "MinNonceSet")
    assert (log.trader, log.min_nonce) == (maker.address, 10)
    assert exchange.min_nonce(maker.address) == 10
    assert exchange.remaining(old[0]) == 0
    assert exchange.remaining(kept[0]) == UNIT
    with boa.env.prank(taker.address):
        exchange.fill(kept[0], kept[1], UNIT)
    before = snapshot(orders=[old[0], kept[0]])
    with boa.env.prank(taker.address), boa.reverts("Exchange: nonce below minimum"):
        exchange.fill(old[0], old[1], UNIT)
    assert snapshot(orders=[old[0], kept[0]]) == before


def test_cancel_all__one_trader__others_unaffected(exchange, maker, taker):
    with boa.env.prank(maker.address):
        exchange.cancel_all(5)

    assert exchange.min_nonce(taker.address) == 0


def test_cancel_all__max_nonce__accepted(exchange, maker):
    with boa.env.prank(maker.address):
        exchange.cancel_all(2**256 - 1)

    assert exchange.min_nonce(maker.address) == 2**256 - 1


@pytest.mark.parametrize("new_minimum", [10, 9, 0])
def test_cancel_all__not_increasing__reverts(exchange, maker, snapshot, new_minimum):
    with boa.env.prank(maker.address):
        exchange.cancel_all(10)
    before = snapshot()

    with boa.env.prank(maker.address), boa.reverts("Exchange: nonce not increasing"):
        exchange.cancel_all(new_minimum)

    assert snapshot() == before


def test_cancel_all__zero_from_start__reverts(exchange, maker, snapshot):
    before = snapshot()

    with boa.env.prank(maker.address), boa.reverts("Exchange: nonce not increasing"):
        exchange.cancel_all(0)

    assert snapshot() == before
