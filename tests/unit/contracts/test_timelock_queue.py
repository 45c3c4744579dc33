"""Timelock.queue: the admin announces an owner call (full call in the CallQueued event);
eta >= now + delay; nothing changes in the target until `execute`."""

import boa
import pytest
from eth_abi import decode

from tests.utils.contract_helpers import events
from tests.utils.timelock import DAY, GRACE_PERIOD, MAX_CALLDATA, calldata, operation_id

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def fee_call(governed, exchange):
    return governed.call(exchange, "set_fees", 3, 6)


def test_queue__admin__queued_and_announced_in_full(governed, timelock, exchange, fee_call):
    eta = governed.eta()
    with boa.env.prank(governed.admin):
        op = timelock.queue(*fee_call, eta)

    (log,) = events(timelock, "CallQueued")
    target, value, data = fee_call
    assert (log.id, log.target, log.value, log.data, log.eta) == (op, target, value, data, eta)
    assert op == operation_id(target, value, data, eta)
    assert timelock.queued(op)
    # what a user reads off the event: selector + arguments of Exchange.set_fees
    assert data[:4] == calldata(exchange, "set_fees", 0, 0)[:4]
    assert decode(["uint256", "uint256"], data[4:]) == (3, 6)
    # queuing alone changes nothing in the target
    assert (exchange.maker_fee_bps(), exchange.taker_fee_bps()) == (0, 0)


def test_queue__eta_exactly_now_plus_delay__accepted(governed, timelock, fee_call):
    eta = governed.eta()
    with boa.env.prank(governed.admin):
        op = timelock.queue(*fee_call, eta)

    assert timelock.queued(op)


@pytest.mark.parametrize("later", [1, 7 * DAY, GRACE_PERIOD])
def test_queue__eta_later_than_delay_within_grace__accepted(governed, timelock, fee_call, later):
    eta = governed.eta(later)
    with boa.env.prank(governed.admin):
        op = timelock.queue(*fee_call, eta)

    assert timelock.queued(op)


@pytest.mark.parametrize("later", [GRACE_PERIOD + 1, 365 * DAY])
def test_queue__eta_beyond_delay_plus_grace__reverts(governed, timelock, fee_call, snapshot, later):
    """An announcement cannot be parked for months and run when nobody watches any more."""
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: eta too far"):
        timelock.queue(*fee_call, governed.eta(later))

    assert snapshot(contracts=[timelock]) == before


def test_queue__same_call_other_eta__separate_operation(governed, timelock, fee_call):
    with boa.env.prank(governed.admin):
        first = timelock.queue(*fee_call, governed.eta())
        second = timelock.queue(*fee_call, governed.eta(1))

    assert first != second and timelock.queued(first) and timelock.queued(second)


@pytest.mark.parametrize("early", [1, DAY])
def test_queue__eta_before_delay__reverts(governed, timelock, fee_call, snapshot, early):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: eta before delay"):
        timelock.queue(*fee_call, governed.eta() - early)

    assert snapshot(contracts=[timelock]) == before


def test_queue__non_admin__reverts(governed, timelock, fee_call, non_owner, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        timelock.queue(*fee_call, governed.eta())

    assert snapshot(contracts=[timelock]) == before


def test_queue__guardian__reverts(governed, timelock, fee_call, guardian, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(guardian), boa.reverts("ownable: caller is not the owner"):
        timelock.queue(*fee_call, governed.eta())

    assert snapshot(contracts=[timelock]) == before


def test_queue__already_queued__reverts(governed, timelock, fee_call, snapshot):
    eta = governed.eta()
    with boa.env.prank(governed.admin):
        timelock.queue(*fee_call, eta)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: already queued"):
        timelock.queue(*fee_call, eta)

    assert snapshot(contracts=[timelock]) == before


def test_queue__zero_target__reverts(governed, timelock, fee_call, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: zero target"):
        timelock.queue(ZERO, 0, fee_call[2], governed.eta())

    assert snapshot(contracts=[timelock]) == before


def test_queue__calldata_at_maximum__accepted(governed, timelock, exchange):
    with boa.env.prank(governed.admin):
        op = timelock.queue(exchange.address, 0, b"\x01" * MAX_CALLDATA, governed.eta())

    assert timelock.queued(op)


def test_queue__calldata_above_maximum__reverts(governed, timelock, exchange, snapshot):
    before = snapshot(contracts=[timelock])

    # the ABI decoder refuses a bytes argument longer than Bytes[MAX_CALLDATA] (no reason)
    with boa.env.prank(governed.admin), boa.reverts():
        timelock.queue(exchange.address, 0, b"\x01" * (MAX_CALLDATA + 1), governed.eta())

    assert snapshot(contracts=[timelock]) == before
