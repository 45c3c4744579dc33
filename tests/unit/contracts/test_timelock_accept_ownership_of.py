"""Timelock.accept_ownership_of: completes a two-step ownership transfer of a protocol
contract to the Timelock at once (it only gives the Timelock power, each use of which waits);
afterwards the former owner has no instant power left."""

import boa
import pytest

from tests.utils.contract_helpers import events
from tests.utils.timelock import DAY, TIMELOCK

ZERO = "0x0000000000000000000000000000000000000000"
CONTRACTS = ["oracle", "clearinghouse", "exchange"]


@pytest.fixture(scope="module")
def timelock(owner):
    with boa.env.prank(owner):
        return TIMELOCK.deploy(owner, DAY)


@pytest.fixture(params=CONTRACTS)
def owned(request, protocol):
    return getattr(protocol, request.param)


def test_accept_ownership_of__pending__timelock_becomes_owner(timelock, owned, owner):
    with boa.env.prank(owner):
        owned.transfer_ownership(timelock.address)
        timelock.accept_ownership_of(owned.address)

    assert owned.owner() == timelock.address
    assert owned.pending_owner() == ZERO
    (log,) = events(timelock, "OwnershipAccepted")
    assert log.target == owned.address


def test_accept_ownership_of__done__former_owner_loses_instant_power(timelock, protocol, owner, snapshot):
    with boa.env.prank(owner):
        for c in (protocol.oracle, protocol.clearinghouse, protocol.exchange):
            c.transfer_ownership(timelock.address)
            timelock.accept_ownership_of(c.address)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(owner):
        with boa.reverts("ownable: caller is not the owner"):
            protocol.exchange.set_fees(100, 100)
        with boa.reverts("ownable: caller is not the owner"):
            protocol.oracle.set_reporters([owner], 1)
        with boa.reverts("ownable: caller is not the owner"):
            protocol.clearinghouse.set_guardian(owner)
        with boa.reverts("ownable: caller is not the owner"):
            protocol.clearinghouse.transfer_ownership(owner)

    assert snapshot(contracts=[timelock]) == before


def test_accept_ownership_of__not_pending__reverts(timelock, owned, owner, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(owner), boa.reverts("ownable_2step: caller is not the new owner"):
        timelock.accept_ownership_of(owned.address)

    assert snapshot(contracts=[timelock]) == before
    assert owned.owner() == owner


def test_accept_ownership_of__non_admin__reverts(timelock, owned, owner, non_owner, snapshot):
    with boa.env.prank(owner):
        owned.transfer_ownership(timelock.address)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        timelock.accept_ownership_of(owned.address)

    assert snapshot(contracts=[timelock]) == before
    assert owned.owner() == owner
