"""Oracle.resolve: the owner's final word on a disputed feed; the bond goes to whoever was right."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, now, submit_rows
from tests.utils.deployers import configure_settlement_feed, feed_id

FEED = feed_id("RESOLVE/SETTLE")
PRICE = 45 * USDC
BOND = 10**17
LOW, HIGH = -1_000 * USDC, 1_000 * USDC


@pytest.fixture(scope="module")
def disputer():
    return boa.env.generate_address("disputer")


@pytest.fixture(scope="module", autouse=True)
def reported(protocol, owner, reporters):
    # settlement feed written from now on (not_before = now - 200)
    configure_settlement_feed(protocol.oracle, owner, FEED, LOW, HIGH, now() - 200)
    submit_rows(protocol, reporters[:2], [FEED], [[PRICE], [PRICE]], now() - 100)


@pytest.fixture
def bonded_dispute(oracle, disputer):
    boa.env.set_balance(disputer, BOND)
    with boa.env.prank(disputer):
        oracle.dispute(FEED, value=BOND)


def test_resolve__changed_price__bond_owed_to_disputer(oracle, owner, disputer, bonded_dispute):
    boa.env.time_travel(seconds=50)
    with boa.env.prank(owner):
        oracle.resolve(FEED, 44 * USDC)

    (log,) = oracle.get_logs()
    assert (log.feed_id, log.price, log.previous_price) == (FEED, 44 * USDC, PRICE)
    # observed_at is kept, updated_at is the resolution time, the value is final
    assert oracle.feed(FEED) == (44 * USDC, now() - 150, now(), False, True)
    assert oracle.bond_claims(disputer) == BOND
    assert oracle.bond_claims(owner) == 0
    assert oracle.dispute_deposit(FEED) == 0
    assert boa.env.get_balance(oracle.address) == BOND


def test_resolve__unchanged_price__bond_owed_to_owner(oracle, owner, disputer, bonded_dispute):
    with boa.env.prank(owner):
        oracle.resolve(FEED, PRICE)

    assert oracle.feed(FEED)[0] == PRICE
    assert oracle.feed(FEED)[4] is True
    assert oracle.bond_claims(owner) == BOND
    assert oracle.bond_claims(disputer) == 0
    assert oracle.dispute_deposit(FEED) == 0


def test_resolve__guardian_dispute__no_bond_to_move(oracle, owner, guardian):
    with boa.env.prank(guardian):
        oracle.dispute(FEED)
    with boa.env.prank(owner):
        oracle.resolve(FEED, -3 * USDC)

    assert oracle.feed(FEED)[0] == -3 * USDC
    assert oracle.bond_claims(guardian) == 0
    assert oracle.bond_claims(owner) == 0


@pytest.mark.parametrize("price", [LOW, HIGH])
def test_resolve__price_at_bounds__accepted(oracle, owner, guardian, price):
    with boa.env.prank(guardian):
        oracle.dispute(FEED)
    with boa.env.prank(owner):
        oracle.resolve(FEED, price)

    assert oracle.price(FEED)[0] == price


def test_resolve__non_owner__reverts(oracle, non_owner, snapshot, bonded_dispute, disputer):
    before = snapshot(disputer, feeds=[FEED])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        oracle.resolve(FEED, 1)

    assert snapshot(disputer, feeds=[FEED]) == before


def test_resolve__guardian__reverts(oracle, guardian, snapshot, bonded_dispute, disputer):
    before = snapshot(disputer, feeds=[FEED])

    with boa.env.prank(guardian), boa.reverts("ownable: caller is not the owner"):
        oracle.resolve(FEED, 1)

    assert snapshot(disputer, feeds=[FEED]) == before


def test_resolve__feed_not_disputed__reverts(oracle, owner, snapshot):
    before = snapshot(feeds=[FEED])

    with boa.env.prank(owner), boa.reverts("Oracle: not disputed"):
        oracle.resolve(FEED, 1)

    assert snapshot(feeds=[FEED]) == before


def test_resolve__already_resolved__reverts(oracle, owner, disputer, snapshot, bonded_dispute):
    with boa.env.prank(owner):
        oracle.resolve(FEED, 1)
    before = snapshot(disputer, feeds=[FEED])

    with boa.env.prank(owner), boa.reverts("Oracle: not disputed"):
        oracle.resolve(FEED, 2)

    assert snapshot(disputer, feeds=[FEED]) == before
    assert oracle.bond_claims(disputer) == BOND


@pytest.mark.parametrize("price", [LOW - 1, HIGH + 1])
def test_resolve__price_out_of_bounds__reverts(oracle, owner, disputer, snapshot, bonded_dispute, price):
    before = snapshot(disputer, feeds=[FEED])

    with boa.env.prank(owner), boa.reverts("Oracle: price out of bounds"):
        oracle.resolve(FEED, price)

    assert snapshot(disputer, feeds=[FEED]) == before
