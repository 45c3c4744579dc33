"""Two-step ownership (snekmate ownable_2step) of Oracle, Clearinghouse and Exchange:
transfer_ownership, accept_ownership, owner, pending_owner."""

import boa
import pytest

ZERO = "0x0000000000000000000000000000000000000000"
CONTRACTS = ["oracle", "clearinghouse", "exchange"]


def _admin_call(contract_name, contract):
    """An owner-only call that any of the three contracts has."""
    return {
        "oracle": lambda: contract.set_guardian(ZERO),
        "clearinghouse": lambda: contract.set_liquidation_params(1, 1, 1, 1, 1),
        "exchange": lambda: contract.set_fees(1, 1),
    }[contract_name]


@pytest.fixture(params=CONTRACTS)
def owned(request, protocol):
    return request.param, getattr(protocol, request.param)


@pytest.fixture(scope="module")
def new_owner():
    return boa.env.generate_address("new_owner")


def test_owner__deployed__deployer_and_no_pending(owned, owner):
    _, contract = owned
    assert contract.owner() == owner
    assert contract.pending_owner() == ZERO


def test_transfer_ownership__owner__sets_pending_only(owned, owner, new_owner):
    _, contract = owned
    with boa.env.prank(owner):
        contract.transfer_ownership(new_owner)

    (log,) = contract.get_logs()
    assert (log.previous_owner, log.new_owner) == (owner, new_owner)
    assert contract.pending_owner() == new_owner
    assert contract.owner() == owner


def test_transfer_ownership__pending_owner_before_accept__has_no_power(owned, owner, new_owner, snapshot):
    name, contract = owned
    with boa.env.prank(owner):
        contract.transfer_ownership(new_owner)
    before = snapshot()

    with boa.env.prank(new_owner), boa.reverts("ownable: caller is not the owner"):
        _admin_call(name, contract)()

    assert snapshot() == before


def test_accept_ownership__pending_owner__becomes_owner(owned, owner, new_owner, snapshot):
    name, contract = owned
    with boa.env.prank(owner):
        contract.transfer_ownership(new_owner)
    with boa.env.prank(new_owner):
        contract.accept_ownership()

    assert contract.owner() == new_owner
    assert contract.pending_owner() == ZERO
    with boa.env.prank(new_owner):
        _admin_call(name, contract)()
    before = snapshot()
    with boa.env.prank(owner), boa.reverts("ownable: caller is not the owner"):
        _admin_call(name, contract)()
    assert snapshot() == before


def test_transfer_ownership__retarget__last_pending_wins(owned, owner, new_owner, non_owner, snapshot):
    _, contract = owned
    with boa.env.prank(owner):
        contract.transfer_ownership(non_owner)
        contract.transfer_ownership(new_owner)

    assert contract.pending_owner() == new_owner
    before = snapshot()
    with boa.env.prank(non_owner), boa.reverts("ownable_2step: caller is not the new owner"):
        contract.accept_ownership()
    assert snapshot() == before


def test_transfer_ownership__to_zero__cancels_pending(owned, owner, new_owner, snapshot):
    _, contract = owned
    with boa.env.prank(owner):
        contract.transfer_ownership(new_owner)
        contract.transfer_ownership(ZERO)

    assert contract.pending_owner() == ZERO
    before = snapshot()
    with boa.env.prank(new_owner), boa.reverts("ownable_2step: caller is not the new owner"):
        contract.accept_ownership()
    assert snapshot() == before


def test_transfer_ownership__non_owner__reverts(owned, non_owner, new_owner, snapshot):
    _, contract = owned
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        contract.transfer_ownership(new_owner)

    assert snapshot() == before


def test_accept_ownership__not_pending__reverts(owned, owner, new_owner, non_owner, snapshot):
    _, contract = owned
    with boa.env.prank(owner):
        contract.transfer_ownership(new_owner)
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable_2step: caller is not the new owner"):
        contract.accept_ownership()

    assert snapshot() == before
    assert contract.owner() == owner


def test_accept_ownership__nothing_pending__reverts(owned, owner, snapshot):
    _, contract = owned
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("ownable_2step: caller is not the new owner"):
        contract.accept_ownership()

    assert snapshot() == before
