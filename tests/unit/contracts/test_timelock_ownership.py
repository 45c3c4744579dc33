"""The Timelock's own admin (snekmate ownable_2step): transfer_ownership + accept_ownership,
immediate (a new admin still waits `delay` for every call); no renounce_ownership."""

import boa
import pytest

from tests.utils.timelock import DAY

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def new_admin():
    return boa.env.generate_address("new_admin")


def test_transfer_ownership__accepted__new_admin_queues_with_same_delay(governed, timelock, exchange, new_admin):
    with boa.env.prank(governed.admin):
        timelock.transfer_ownership(new_admin)
    with boa.env.prank(new_admin):
        timelock.accept_ownership()

    assert timelock.owner() == new_admin and timelock.pending_owner() == ZERO
    call = governed.call(exchange, "set_fees", 3, 6)
    with boa.env.prank(new_admin), boa.reverts("Timelock: eta before delay"):
        timelock.queue(*call, boa.env.evm.patch.timestamp + DAY - 1)
    with boa.env.prank(governed.admin), boa.reverts("ownable: caller is not the owner"):
        timelock.queue(*call, boa.env.evm.patch.timestamp + DAY)


def test_transfer_ownership__pending_admin__has_no_power(governed, timelock, exchange, new_admin, snapshot):
    with boa.env.prank(governed.admin):
        timelock.transfer_ownership(new_admin)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(new_admin), boa.reverts("ownable: caller is not the owner"):
        timelock.queue(*governed.call(exchange, "set_fees", 3, 6), governed.eta())

    assert snapshot(contracts=[timelock]) == before


def test_transfer_ownership__non_admin__reverts(timelock, non_owner, new_admin, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        timelock.transfer_ownership(new_admin)

    assert snapshot(contracts=[timelock]) == before


def test_accept_ownership__not_pending__reverts(timelock, new_admin, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(new_admin), boa.reverts("ownable_2step: caller is not the new owner"):
        timelock.accept_ownership()

    assert snapshot(contracts=[timelock]) == before


def test_renounce_ownership__not_exported(timelock):
    assert not hasattr(timelock, "renounce_ownership")
