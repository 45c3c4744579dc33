"""Timelock.cancel: the admin drops a queued call; it can then never run."""

import boa

from tests.utils.contract_helpers import events


def test_cancel__admin__dropped_and_never_runs(governed, timelock, exchange, fee_op, snapshot):
    op_id = timelock.operation_id(*fee_op)

    with boa.env.prank(governed.admin):
        timelock.cancel(*fee_op)

    (log,) = events(timelock, "CallCancelled")
    assert log.id == op_id
    assert not timelock.queued(op_id)
    governed.warp_to(fee_op[3])
    before = snapshot(contracts=[timelock])
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not queued"):
        timelock.execute(*fee_op)
    assert snapshot(contracts=[timelock]) == before
    assert exchange.taker_fee_bps() == 0


def test_cancel__after_eta__dropped(governed, timelock, fee_op):
    governed.warp_to(fee_op[3] + 1)

    with boa.env.prank(governed.admin):
        timelock.cancel(*fee_op)

    assert not timelock.queued(timelock.operation_id(*fee_op))


def test_cancel__then_queue_again__new_notice(governed, timelock, fee_op):
    with boa.env.prank(governed.admin):
        timelock.cancel(*fee_op)
        timelock.queue(*fee_op)

    assert timelock.queued(timelock.operation_id(*fee_op))


def test_cancel__non_admin__reverts(governed, timelock, fee_op, non_owner, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        timelock.cancel(*fee_op)

    assert snapshot(contracts=[timelock]) == before


def test_cancel__not_queued__reverts(governed, timelock, exchange, snapshot):
    call = governed.call(exchange, "set_fees", 3, 6)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not queued"):
        timelock.cancel(*call, governed.eta())

    assert snapshot(contracts=[timelock]) == before


def test_cancel__already_executed__reverts(governed, timelock, fee_op, snapshot):
    governed.warp_to(fee_op[3])
    governed.execute(fee_op)
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not queued"):
        timelock.cancel(*fee_op)

    assert snapshot(contracts=[timelock]) == before
