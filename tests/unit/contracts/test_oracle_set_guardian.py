"""Oracle.set_guardian: who may dispute without a bond."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, now, submit_rows
from tests.utils.deployers import configure_settlement_feed, feed_id

FEED = feed_id("GUARDIAN/SETTLE")


@pytest.fixture(scope="module", autouse=True)
def reported(protocol, owner, reporters):
    # settlement feed written from now on (not_before = now - 200)
    configure_settlement_feed(protocol.oracle, owner, FEED, -1_000 * USDC, 1_000 * USDC, now() - 200)
    submit_rows(protocol, reporters[:2], [FEED], [[5], [5]])


@pytest.fixture(scope="module")
def new_guardian():
    return boa.env.generate_address("new_guardian")


def test_set_guardian__owner__new_guardian_disputes_for_free(oracle, owner, guardian, new_guardian, snapshot):
    with boa.env.prank(owner):
        oracle.set_guardian(new_guardian)

    (log,) = oracle.get_logs()
    assert log.guardian == new_guardian
    assert oracle.guardian() == new_guardian
    before = snapshot(feeds=[FEED])
    with boa.env.prank(guardian), boa.reverts("Oracle: wrong bond"):
        oracle.dispute(FEED)
    assert snapshot(feeds=[FEED]) == before
    with boa.env.prank(new_guardian):
        oracle.dispute(FEED)
    assert oracle.disputer(FEED) == new_guardian


def test_set_guardian__non_owner__reverts(oracle, non_owner, new_guardian, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        oracle.set_guardian(new_guardian)

    assert snapshot() == before


def test_set_guardian__guardian_itself__reverts(oracle, guardian, new_guardian, snapshot):
    before = snapshot()

    with boa.env.prank(guardian), boa.reverts("ownable: caller is not the owner"):
        oracle.set_guardian(new_guardian)

    assert snapshot() == before
