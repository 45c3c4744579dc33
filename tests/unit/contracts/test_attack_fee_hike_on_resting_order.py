"""Attack (issue 16, point 8): the owner raises fees under a resting signed order.

The old sequence, literally: a maker signs a resting order while fees are maker 2 bps /
taker 5 bps; the owner raises both to the 1% cap and the order is filled in the same block,
the maker paying 50x the fee in force when it signed.

Under the Timelock: the direct call reverts; the queued `set_fees` is announced in full and
cannot run before eta, so every fill until eta pays the old fee. The notice period is the
Timelock's delay: a resting order pays at most the fee in force when it was signed until
`delay` seconds after a raise is announced; a maker who does not accept the new fee cancels
(or lets the order expire) before eta. An order that rests past eta pays the new fee.
Numbers: 1 MWh at $50 = $50 notional; 2 bps = $0.01, 5 bps = $0.025, 100 bps = $0.50.
"""

import boa
import pytest
from eth_abi import decode

from tests.utils.contract_helpers import MARK, UNIT, USDC, events
from tests.utils.deployers import Protocol
from tests.utils.timelock import DAY, govern

MAKER_BPS, TAKER_BPS = 2, 5
HIKE = (100, 100)
OLD_MAKER_FEE, OLD_TAKER_FEE = 10_000, 25_000  # $50 x 2 bps, $50 x 5 bps
NEW_FEE = 500_000  # $50 x 100 bps


@pytest.fixture(scope="module")
def protocol():
    """The deployed fees (maker 2 bps, taker 5 bps), not the fee-free default."""
    return Protocol.deploy(maker_fee_bps=MAKER_BPS, taker_fee_bps=TAKER_BPS)


@pytest.fixture(scope="module")
def governed_market(protocol):
    mid = protocol.list_market("FEES")
    return govern(protocol, DAY), mid


@pytest.fixture(scope="module")
def governed(governed_market):
    return governed_market[0]


@pytest.fixture
def market(governed_market, protocol):
    boa.env.time_travel(seconds=1)
    protocol.set_mark(governed_market[1], MARK)
    return governed_market[1]


@pytest.fixture
def resting_order(market, funded, signed_order, maker):
    """The maker's resting sell of 2 MWh at $50, good for a week, signed at today's fees."""
    return signed_order(maker, market, False, 2 * UNIT, MARK, expiry=boa.env.evm.patch.timestamp + 7 * DAY)


def _fill(exchange, taker, order, sig, quantity=UNIT):
    with boa.env.prank(taker.address):
        exchange.fill(order, sig, quantity)
    (log,) = events(exchange, "OrderFilled")
    return log.maker_fee, log.taker_fee


# ---------------------------------------------------------------- the old sequence, direct owner


def test_direct_owner__fee_hike_before_fill__maker_pays_cap(maker, taker):
    direct = Protocol.deploy(maker_fee_bps=MAKER_BPS, taker_fee_bps=TAKER_BPS)
    mid = direct.list_market("DIRECT_FEES")
    direct.set_mark(mid, MARK)
    for who in (maker, taker):
        direct.fund(who.address, 10_000 * USDC)
    order = direct.order(maker, mid, False, UNIT, MARK, nonce=1)
    sig = direct.sign_order(maker, order)

    with boa.env.prank(direct.owner):
        direct.exchange.set_fees(*HIKE)
    fees = _fill(direct.exchange, taker, order, sig)

    assert fees == (NEW_FEE, NEW_FEE)  # 50x the maker fee it signed under


# ---------------------------------------------------------------- under the Timelock


def test_timelock__fee_hike__direct_call_reverts(governed, exchange, owner, snapshot):
    before = snapshot(contracts=[governed.timelock])

    with boa.env.prank(owner), boa.reverts("ownable: caller is not the owner"):
        exchange.set_fees(*HIKE)

    assert snapshot(contracts=[governed.timelock]) == before


def test_timelock__fee_hike__resting_order_pays_old_fee_until_eta(
    governed, protocol, market, exchange, resting_order, taker, snapshot
):
    order, sig = resting_order
    op = governed.queue(governed.call(exchange, "set_fees", *HIKE))

    (log,) = events(governed.timelock, "CallQueued")
    assert decode(["uint256", "uint256"], log.data[4:]) == HIKE
    before = snapshot(contracts=[governed.timelock])
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)
    assert snapshot(contracts=[governed.timelock]) == before
    assert _fill(exchange, taker, order, sig) == (OLD_MAKER_FEE, OLD_TAKER_FEE)  # same block
    governed.warp_to(op[3] - 1)
    protocol.set_mark(market, MARK)  # marks keep flowing during the notice period
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)

    assert _fill(exchange, taker, order, sig) == (OLD_MAKER_FEE, OLD_TAKER_FEE)  # last second of notice


def test_timelock__fee_hike__maker_cancels_within_notice(governed, exchange, resting_order, maker, taker, snapshot):
    order, sig = resting_order
    op = governed.queue(governed.call(exchange, "set_fees", *HIKE))
    with boa.env.prank(maker.address):
        exchange.cancel(order)  # the maker read CallQueued and does not accept 1%
    governed.warp_to(op[3])
    governed.execute(op)
    before = snapshot(orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: order cancelled"):
        exchange.fill(order, sig, UNIT)

    assert snapshot(orders=[order]) == before
    assert (exchange.maker_fee_bps(), exchange.taker_fee_bps()) == HIKE


def test_timelock__fee_hike__order_resting_past_eta_pays_new_fee(
    governed, protocol, market, exchange, resting_order, taker
):
    """The bound is the fee at signing for `delay` seconds after the announcement, no longer."""
    order, sig = resting_order
    op = governed.queue_due(governed.call(exchange, "set_fees", *HIKE))
    protocol.set_mark(market, MARK)
    governed.execute(op)

    assert _fill(exchange, taker, order, sig) == (NEW_FEE, NEW_FEE)


def test_timelock__fee_cut__also_waits_the_delay(governed, protocol, market, exchange, resting_order, taker):
    """The trade-off of a generic timelock: a decrease waits too (docs/protocol.md)."""
    order, sig = resting_order
    op = governed.queue(governed.call(exchange, "set_fees", 0, 0))

    assert _fill(exchange, taker, order, sig) == (OLD_MAKER_FEE, OLD_TAKER_FEE)
    governed.warp_to(op[3])
    protocol.set_mark(market, MARK)
    governed.execute(op)
    assert _fill(exchange, taker, order, sig) == (0, 0)
