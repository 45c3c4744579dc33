"""Timelock.execute: a queued call runs once, by the admin, from eta to eta + GRACE_PERIOD;
a failing call reverts with the target's own reason and stays queued; ETH is forwarded."""

import boa
import pytest

from tests.utils.contract_helpers import events
from tests.utils.deployers import default_market
from tests.utils.timelock import DAY, GRACE_PERIOD


def test_execute__at_eta__call_runs_once(governed, timelock, exchange, fee_op):
    governed.warp_to(fee_op[3])
    op_id = timelock.operation_id(*fee_op)

    governed.execute(fee_op)

    (log,) = events(timelock, "CallExecuted")
    assert (log.id, log.target, log.value, log.data, log.eta) == (op_id, *fee_op)
    (fees,) = events(timelock, "FeesSet")  # child logs of the call
    assert (fees.maker_fee_bps, fees.taker_fee_bps) == (3, 6)
    assert (exchange.maker_fee_bps(), exchange.taker_fee_bps()) == (3, 6)
    assert not timelock.queued(op_id)


def test_execute__last_second_of_grace__runs(governed, timelock, exchange, fee_op):
    governed.warp_to(fee_op[3] + GRACE_PERIOD)

    governed.execute(fee_op)

    assert exchange.taker_fee_bps() == 6


def test_execute__returns_call_result(governed, timelock, exchange, protocol):
    """list_market returns the new id: the Timelock hands back the raw return data."""
    mark, settle = b"\x11" * 32, b"\x22" * 32
    market = default_market(mark, settle, boa.env.evm.patch.timestamp + 2 * DAY)
    op = governed.queue_due(governed.call(protocol.clearinghouse, "list_market", market))

    out = governed.execute(op)

    assert int.from_bytes(out, "big") == protocol.clearinghouse.market_count()


@pytest.mark.parametrize("early", [1, DAY])
def test_execute__before_eta__reverts(governed, timelock, fee_op, snapshot, early):
    governed.warp_to(fee_op[3] - early)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        timelock.execute(*fee_op)

    assert snapshot(contracts=[timelock]) == before


def test_execute__after_grace__reverts(governed, timelock, fee_op, snapshot):
    governed.warp_to(fee_op[3] + GRACE_PERIOD + 1)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: stale"):
        timelock.execute(*fee_op)

    assert snapshot(contracts=[timelock]) == before


def test_execute__non_admin__reverts(governed, timelock, fee_op, non_owner, snapshot):
    governed.warp_to(fee_op[3])
    before = snapshot(contracts=[timelock])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        timelock.execute(*fee_op)

    assert snapshot(contracts=[timelock]) == before


def test_execute__never_queued__reverts(governed, timelock, exchange, snapshot):
    call = governed.call(exchange, "set_fees", 3, 6)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not queued"):
        timelock.execute(*call, boa.env.evm.patch.timestamp)

    assert snapshot(contracts=[timelock]) == before


@pytest.mark.parametrize("field, changed", [(1, 1), (2, b"\x00"), (3, 1)])
def test_execute__any_field_changed__not_queued(governed, timelock, fee_op, snapshot, field, changed):
    """value, calldata and eta are bound by the id: the admin cannot run something else."""
    governed.warp_to(fee_op[3] + 1)
    op = list(fee_op)
    op[field] = op[field] + changed
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not queued"):
        timelock.execute(*op)

    assert snapshot(contracts=[timelock]) == before


def test_execute__twice__reverts(governed, timelock, fee_op, snapshot):
    governed.warp_to(fee_op[3])
    governed.execute(fee_op)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not queued"):
        timelock.execute(*fee_op)

    assert snapshot(contracts=[timelock]) == before


def test_execute__target_reverts__bubbles_reason_and_stays_queued(governed, timelock, exchange, snapshot):
    op = governed.queue_due(governed.call(exchange, "set_fees", 101, 0))
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Exchange: fee above cap"):
        timelock.execute(*op)

    assert snapshot(contracts=[timelock]) == before
    assert timelock.queued(timelock.operation_id(*op))


def test_execute__value_to_account__forwarded(governed, timelock, recipient):
    boa.env.set_balance(timelock.address, 10**18)
    op = governed.queue_due((recipient, 4 * 10**17, b""))

    governed.execute(op)

    assert boa.env.get_balance(recipient) == 4 * 10**17
    assert boa.env.get_balance(timelock.address) == 6 * 10**17


def test_execute__value_attached_by_admin__forwarded(governed, timelock, recipient):
    op = governed.queue_due((recipient, 10**17, b""))
    boa.env.set_balance(governed.admin, 10**18)

    with boa.env.prank(governed.admin):
        timelock.execute(*op, value=10**17)

    assert boa.env.get_balance(recipient) == 10**17


def test_execute__value_above_balance__reverts(governed, timelock, recipient, snapshot):
    op = governed.queue_due((recipient, 10**17, b""))
    before = snapshot(recipient, contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: insufficient balance"):
        timelock.execute(*op)

    assert snapshot(recipient, contracts=[timelock]) == before
