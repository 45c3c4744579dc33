"""Oracle.dispute: the guardian freezes a feed for free, anyone else for exactly the bond."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, now, submit_rows
from tests.utils.deployers import configure_settlement_feed, feed_id

FEED = feed_id("DISPUTE/SETTLE")
PRICE = 45 * USDC
BOND = 10**17


@pytest.fixture(scope="module", autouse=True)
def reported(protocol, owner, reporters):
    # settlement feed written from now on (not_before = now - 200)
    configure_settlement_feed(protocol.oracle, owner, FEED, -1_000 * USDC, 1_000 * USDC, now() - 200)
    submit_rows(protocol, reporters[:2], [FEED], [[PRICE], [PRICE]])


@pytest.fixture(scope="module")
def disputer():
    return boa.env.generate_address("disputer")


def test_dispute__guardian__freezes_feed_for_free(oracle, guardian):
    price, observed_at, updated_at, _, _ = oracle.feed(FEED)
    with boa.env.prank(guardian):
        oracle.dispute(FEED)

    (log,) = oracle.get_logs()
    assert (log.feed_id, log.disputer, log.price, log.bond) == (FEED, guardian, PRICE, 0)
    assert oracle.feed(FEED) == (price, observed_at, updated_at, True, False)
    assert oracle.disputer(FEED) == guardian
    assert oracle.dispute_deposit(FEED) == 0
    assert boa.env.get_balance(oracle.address) == 0


def test_dispute__bonded_disputer__holds_bond(oracle, disputer):
    boa.env.set_balance(disputer, BOND)
    with boa.env.prank(disputer):
        oracle.dispute(FEED, value=BOND)

    assert oracle.feed(FEED)[3] is True
    assert oracle.disputer(FEED) == disputer
    assert oracle.dispute_deposit(FEED) == BOND
    assert boa.env.get_balance(oracle.address) == BOND
    assert boa.env.get_balance(disputer) == 0


def test_dispute__guardian_with_bond_disabled__still_free(oracle, owner, guardian):
    with boa.env.prank(owner):
        oracle.set_timing(3_600, 60, 0)
    with boa.env.prank(guardian):
        oracle.dispute(FEED)

    assert oracle.feed(FEED)[3] is True


def test_dispute__disputed_mark__stops_clearinghouse_mark_being_fresh(protocol, clearinghouse, market, guardian):
    mark_feed = protocol.feeds[market][0]
    with boa.env.prank(guardian):
        protocol.oracle.dispute(mark_feed)

    assert clearinghouse.mark(market)[2] is False


@pytest.mark.parametrize("value", [0, BOND - 1, BOND + 1])
def test_dispute__wrong_bond__reverts(oracle, disputer, snapshot, value):
    boa.env.set_balance(disputer, 2 * BOND)
    before = snapshot(disputer, feeds=[FEED])

    with boa.env.prank(disputer), boa.reverts("Oracle: wrong bond"):
        oracle.dispute(FEED, value=value)

    assert snapshot(disputer, feeds=[FEED]) == before
    assert oracle.disputer(FEED) == "0x0000000000000000000000000000000000000000"


def test_dispute__public_disputes_disabled__reverts(oracle, owner, disputer, snapshot):
    with boa.env.prank(owner):
        oracle.set_timing(3_600, 60, 0)
    before = snapshot(disputer, feeds=[FEED])

    with boa.env.prank(disputer), boa.reverts("Oracle: wrong bond"):
        oracle.dispute(FEED)

    assert snapshot(disputer, feeds=[FEED]) == before


def test_dispute__feed_without_price__reverts(oracle, guardian, snapshot):
    empty = feed_id("DISPUTE/EMPTY")
    before = snapshot(feeds=[empty])

    with boa.env.prank(guardian), boa.reverts("Oracle: no price"):
        oracle.dispute(empty)

    assert snapshot(feeds=[empty]) == before


def test_dispute__already_disputed__reverts(oracle, guardian, disputer, snapshot):
    with boa.env.prank(guardian):
        oracle.dispute(FEED)
    boa.env.set_balance(disputer, BOND)
    before = snapshot(disputer, feeds=[FEED])

    with boa.env.prank(disputer), boa.reverts("Oracle: feed disputed or final"):
        oracle.dispute(FEED, value=BOND)

    assert snapshot(disputer, feeds=[FEED]) == before
    assert oracle.disputer(FEED) == guardian


def test_dispute__final_feed__reverts(oracle, guardian, owner, snapshot):
    with boa.env.prank(guardian):
        oracle.dispute(FEED)
    with boa.env.prank(owner):
        oracle.resolve(FEED, PRICE)
    before = snapshot(feeds=[FEED])

    with boa.env.prank(guardian), boa.reverts("Oracle: feed disputed or final"):
        oracle.dispute(FEED)

    assert snapshot(feeds=[FEED]) == before
