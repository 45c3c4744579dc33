"""Clearinghouse.set_guardian: the owner chooses who may halt markets."""

import boa
import pytest

from tests.utils.contract_helpers import events


@pytest.fixture(scope="module")
def new_guardian():
    return boa.env.generate_address("new_guardian")


def test_set_guardian__owner__new_guardian_halts_old_cannot(
    clearinghouse, market, owner, guardian, new_guardian, exchange, snapshot
):
    with boa.env.prank(owner):
        clearinghouse.set_guardian(new_guardian)

    (log,) = events(clearinghouse, "RolesSet")
    assert (log.exchange, log.guardian) == (exchange.address, new_guardian)
    assert clearinghouse.guardian() == new_guardian
    before = snapshot()
    with boa.env.prank(guardian), boa.reverts("Clearinghouse: not guardian"):
        clearinghouse.halt_market(market)
    assert snapshot() == before
    with boa.env.prank(new_guardian):
        clearinghouse.halt_market(market)
    assert clearinghouse.market_state(market).halted


def test_set_guardian__non_owner__reverts(clearinghouse, non_owner, new_guardian, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.set_guardian(new_guardian)

    assert snapshot() == before


def test_set_guardian__guardian_itself__reverts(clearinghouse, guardian, new_guardian, snapshot):
    before = snapshot()

    with boa.env.prank(guardian), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.set_guardian(new_guardian)

    assert snapshot() == before
