"""Who can act at once under the Timelock: every owner-only function of the Oracle,
Clearinghouse and Exchange is refused to the former owner and runs only through the Timelock
after the delay; the guardian's halt and dispute stay immediate, while lifting a halt waits."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, USDC, events
from tests.utils.deployers import default_market, feed_id
from tests.utils.timelock import DAY, govern, penalty_raise

NEW_FEED = feed_id("ROLES/NEW")
PARAMS = (20 * USDC, 3_000, 12 * USDC, 2_000, 3_600, 3_600, 10**12)  # IM $20 + 30%, MM $12 + 20%


@pytest.fixture(scope="module")
def governed_market(protocol):
    mid = protocol.list_market("ROLES")
    return govern(protocol, DAY), mid


@pytest.fixture(scope="module")
def governed(governed_market):
    return governed_market[0]


@pytest.fixture(scope="module")
def mid(governed_market, protocol):
    protocol.set_mark(governed_market[1], MARK)
    return governed_market[1]


def _owner_calls(protocol, mid, non_owner):
    """(label, contract, function, args, check-after-execute) for every owner-only function
    that needs no prior state (resolve/reopen: test_attack_owner_instant_liquidation.py)."""
    o, ch, ex = protocol.oracle, protocol.clearinghouse, protocol.exchange
    reporters = [r.address for r in protocol.reporters[:1]]
    market = default_market(feed_id("ROLES/M2"), feed_id("ROLES/S2"), boa.env.evm.patch.timestamp + 5 * DAY)
    return [
        ("oracle.set_reporters", o, "set_reporters", [reporters, 1], lambda: o.quorum() == 1),
        ("oracle.set_guardian", o, "set_guardian", [non_owner], lambda: o.guardian() == non_owner),
        ("oracle.set_feed", o, "set_feed", [NEW_FEED, -1, 1], lambda: o.bounds(NEW_FEED) == (-1, 1)),
        ("oracle.set_timing", o, "set_timing", [60, 0, 0], lambda: o.max_report_age() == 60),
        ("oracle.transfer_ownership", o, "transfer_ownership", [non_owner], lambda: o.pending_owner() == non_owner),
        (
            "clearinghouse.set_market_params",
            ch,
            "set_market_params",
            [mid, PARAMS],
            lambda: ch.market(mid)[12] == 2_000,
        ),
        ("clearinghouse.set_liquidation_params", ch, "set_liquidation_params", *penalty_raise(ch)),
        ("clearinghouse.list_market", ch, "list_market", [market], lambda: ch.market_count() == mid + 1),
        ("clearinghouse.set_guardian", ch, "set_guardian", [non_owner], lambda: ch.guardian() == non_owner),
        ("clearinghouse.withdraw_fees", ch, "withdraw_fees", [non_owner, 0], lambda: True),
        (
            "clearinghouse.transfer_ownership",
            ch,
            "transfer_ownership",
            [non_owner],
            lambda: ch.pending_owner() == non_owner,
        ),
        ("exchange.set_fees", ex, "set_fees", [100, 100], lambda: ex.taker_fee_bps() == 100),
        ("exchange.transfer_ownership", ex, "transfer_ownership", [non_owner], lambda: ex.pending_owner() == non_owner),
    ]


LABELS = [
    "oracle.set_reporters",
    "oracle.set_guardian",
    "oracle.set_feed",
    "oracle.set_timing",
    "oracle.transfer_ownership",
    "clearinghouse.set_market_params",
    "clearinghouse.set_liquidation_params",
    "clearinghouse.list_market",
    "clearinghouse.set_guardian",
    "clearinghouse.withdraw_fees",
    "clearinghouse.transfer_ownership",
    "exchange.set_fees",
    "exchange.transfer_ownership",
]


@pytest.fixture(params=LABELS)
def owner_call(request, protocol, mid, non_owner):
    (call,) = [c for c in _owner_calls(protocol, mid, non_owner) if c[0] == request.param]
    return call


def test_owner_function__former_owner__reverts(governed, owner_call, owner, snapshot):
    _, contract, fn, args, _ = owner_call
    before = snapshot(contracts=[governed.timelock])

    with boa.env.prank(owner), boa.reverts("ownable: caller is not the owner"):
        getattr(contract, fn)(*args)

    assert snapshot(contracts=[governed.timelock]) == before


def test_owner_function__through_timelock__only_after_delay(governed, owner_call, snapshot):
    _, contract, fn, args, applied = owner_call
    op = governed.queue(governed.call(contract, fn, *args))
    governed.warp_to(op[3] - 1)
    before = snapshot(contracts=[governed.timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)

    assert snapshot(contracts=[governed.timelock]) == before
    governed.warp_to(op[3])
    governed.execute(op)
    assert applied()


def test_halt_market__guardian__immediate_resume_waits(governed, protocol, mid, guardian, owner, snapshot):
    ch = protocol.clearinghouse
    with boa.env.prank(guardian):
        ch.halt_market(mid)
    assert ch.market_state(mid)[0]  # halted in the same block, no queue

    before = snapshot(contracts=[governed.timelock])
    with boa.env.prank(owner), boa.reverts("ownable: caller is not the owner"):
        ch.resume_market(mid)
    assert snapshot(contracts=[governed.timelock]) == before
    op = governed.queue(governed.call(ch, "resume_market", mid))
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)
    governed.warp_to(op[3])
    governed.execute(op)
    assert not ch.market_state(mid)[0]
    (log,) = events(governed.timelock, "MarketHalted")
    assert log.halted is False


def test_dispute__guardian__immediate(governed, protocol, mid, guardian):
    feed = protocol.feeds[mid][0]

    with boa.env.prank(guardian):
        protocol.oracle.dispute(feed)

    assert protocol.oracle.feed(feed)[3]  # disputed at once, without the Timelock
