"""Oracle.claim_bond: pull the wei owed from resolved disputes."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, now, submit_rows
from tests.utils.deployers import configure_settlement_feed, feed_id

FEED = feed_id("CLAIM/SETTLE")
BOND = 10**17


@pytest.fixture(scope="module")
def disputer():
    return boa.env.generate_address("disputer")


@pytest.fixture(scope="module", autouse=True)
def reported(protocol, owner, reporters):
    # settlement feed written from now on (not_before = now - 200)
    configure_settlement_feed(protocol.oracle, owner, FEED, -1_000 * USDC, 1_000 * USDC, now() - 200)
    submit_rows(protocol, reporters[:2], [FEED], [[5], [5]])


def _dispute_and_resolve(oracle, owner, disputer, price):
    boa.env.set_balance(disputer, BOND)
    with boa.env.prank(disputer):
        oracle.dispute(FEED, value=BOND)
    with boa.env.prank(owner):
        oracle.resolve(FEED, price)


def test_claim_bond__disputer_was_right__bond_returned(oracle, owner, disputer):
    _dispute_and_resolve(oracle, owner, disputer, 6)
    with boa.env.prank(disputer):
        oracle.claim_bond()

    assert boa.env.get_balance(disputer) == BOND
    assert boa.env.get_balance(oracle.address) == 0
    assert oracle.bond_claims(disputer) == 0


def test_claim_bond__disputer_was_wrong__owner_takes_bond(oracle, owner, disputer):
    _dispute_and_resolve(oracle, owner, disputer, 5)
    owner_eth = boa.env.get_balance(owner)
    with boa.env.prank(owner):
        oracle.claim_bond()

    assert boa.env.get_balance(owner) == owner_eth + BOND
    assert boa.env.get_balance(oracle.address) == 0
    assert oracle.bond_claims(owner) == 0


def test_claim_bond__nothing_owed__reverts(oracle, disputer, snapshot):
    before = snapshot(disputer)

    with boa.env.prank(disputer), boa.reverts("Oracle: nothing to claim"):
        oracle.claim_bond()

    assert snapshot(disputer) == before


def test_claim_bond__claimed_twice__reverts(oracle, owner, disputer, snapshot):
    _dispute_and_resolve(oracle, owner, disputer, 6)
    with boa.env.prank(disputer):
        oracle.claim_bond()
    before = snapshot(disputer)

    with boa.env.prank(disputer), boa.reverts("Oracle: nothing to claim"):
        oracle.claim_bond()

    assert snapshot(disputer) == before
    assert boa.env.get_balance(disputer) == BOND


def test_claim_bond__losing_disputer__reverts(oracle, owner, disputer, snapshot):
    _dispute_and_resolve(oracle, owner, disputer, 5)
    before = snapshot(disputer)

    with boa.env.prank(disputer), boa.reverts("Oracle: nothing to claim"):
        oracle.claim_bond()

    assert snapshot(disputer) == before
    assert oracle.bond_claims(owner) == BOND
