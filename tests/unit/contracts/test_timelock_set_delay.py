"""Timelock.set_delay: only the Timelock itself (a queued call that waited the current delay)
changes the delay, within the constructor's bounds; calls already queued keep their eta."""

import boa

from tests.utils.contract_helpers import events
from tests.utils.timelock import DAY, MAX_DELAY, MIN_DELAY, SEPOLIA, TIMELOCK, calldata


def _delay_call(timelock, delay):
    return timelock.address, 0, calldata(timelock, "set_delay", delay)


def test_set_delay__through_queue__applies_after_old_delay(governed, timelock):
    op = governed.queue_due(_delay_call(timelock, 2 * DAY))

    governed.execute(op)

    (log,) = events(timelock, "DelaySet")
    assert log.delay == 2 * DAY
    assert timelock.delay() == 2 * DAY
    with boa.env.prank(governed.admin), boa.reverts("Timelock: eta before delay"):
        timelock.queue(*_delay_call(timelock, DAY), boa.env.evm.patch.timestamp + DAY)


def test_set_delay__lowered__earlier_queued_calls_keep_eta(governed, timelock, exchange):
    fee_op = governed.queue(governed.call(exchange, "set_fees", 3, 6), governed.eta(5 * DAY))
    op = governed.queue_due(_delay_call(timelock, 0))
    governed.execute(op)
    before = timelock.queued(timelock.operation_id(*fee_op))

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        timelock.execute(*fee_op)

    assert before and timelock.delay() == 0


def test_set_delay__direct_admin_call__reverts(governed, timelock, snapshot):
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: only through the timelock"):
        timelock.set_delay(0)

    assert snapshot(contracts=[timelock]) == before


def test_set_delay__above_maximum__reverts_and_stays_queued(governed, timelock, snapshot):
    op = governed.queue_due(_delay_call(timelock, MAX_DELAY + 1))
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: delay above maximum"):
        timelock.execute(*op)

    assert snapshot(contracts=[timelock]) == before


def test_set_delay__below_minimum_on_testnet__reverts(owner, snapshot):
    saved = boa.env.evm.patch.chain_id
    boa.env.evm.patch.chain_id = SEPOLIA
    try:
        with boa.env.prank(owner):
            tl = TIMELOCK.deploy(owner, MIN_DELAY)
        eta = boa.env.evm.patch.timestamp + MIN_DELAY
        call = (tl.address, 0, calldata(tl, "set_delay", MIN_DELAY - 1))
        with boa.env.prank(owner):
            tl.queue(*call, eta)
        boa.env.time_travel(seconds=MIN_DELAY)
        before = snapshot(contracts=[tl])

        with boa.env.prank(owner), boa.reverts("Timelock: delay below minimum"):
            tl.execute(*call, eta)

        assert snapshot(contracts=[tl]) == before
        assert tl.delay() == MIN_DELAY
    finally:
        boa.env.evm.patch.chain_id = saved
