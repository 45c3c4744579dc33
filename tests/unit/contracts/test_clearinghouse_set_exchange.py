"""Clearinghouse.set_exchange: the owner connects the Exchange once, for good."""

import boa
import pytest

from tests.utils.contract_helpers import events
from tests.utils.deployers import CLEARINGHOUSE, ZERO_ADDRESS

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def unconnected(protocol, owner, guardian):
    with boa.env.prank(owner):
        return CLEARINGHOUSE.deploy(protocol.usdc.address, protocol.oracle.address, guardian, ZERO_ADDRESS)


def test_set_exchange__owner__connected(unconnected, exchange, owner, guardian):
    assert unconnected.exchange() == ZERO
    with boa.env.prank(owner):
        unconnected.set_exchange(exchange.address)

    (log,) = events(unconnected, "RolesSet")
    assert (log.exchange, log.guardian) == (exchange.address, guardian)
    assert unconnected.exchange() == exchange.address


def test_set_exchange__second_time__reverts(unconnected, exchange, owner, non_owner, snapshot):
    with boa.env.prank(owner):
        unconnected.set_exchange(exchange.address)
    before = snapshot(contracts=[unconnected])

    with boa.env.prank(owner), boa.reverts("Clearinghouse: exchange already set"):
        unconnected.set_exchange(non_owner)

    assert snapshot(contracts=[unconnected]) == before
    assert unconnected.exchange() == exchange.address


def test_set_exchange__already_set_by_deployer__reverts(clearinghouse, exchange, owner, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Clearinghouse: exchange already set"):
        clearinghouse.set_exchange(non_owner)

    assert snapshot() == before
    assert clearinghouse.exchange() == exchange.address


def test_set_exchange__zero_address__reverts(unconnected, owner, snapshot):
    before = snapshot(contracts=[unconnected])

    with boa.env.prank(owner), boa.reverts("Clearinghouse: zero exchange"):
        unconnected.set_exchange(ZERO)

    assert snapshot(contracts=[unconnected]) == before

    assert unconnected.exchange() == ZERO


def test_set_exchange__non_owner__reverts(unconnected, exchange, non_owner, snapshot):
    before = snapshot(contracts=[unconnected])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        unconnected.set_exchange(exchange.address)

    assert snapshot(contracts=[unconnected]) == before

    assert unconnected.exchange() == ZERO
