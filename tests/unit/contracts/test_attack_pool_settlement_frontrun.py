"""A member front-runs a settlement PnL jump: once a held market is past its last trade time,
its settlement value becomes public before it is booked, so joins and exits are closed until
the pool's position is settled; afterwards a joiner pays the NAV that already includes it."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK
from tests.utils.deployers import USDC


def test_attack__join_before_favourable_settlement__refused_then_fair(
    protocol, pool, gpu, bob, keeper, hedged, pool_state
):
    ch = protocol.clearinghouse
    m = ch.market(gpu)
    # the index printed $1.00: the pool (short 10,000 GPU-h at $2) gains $10,000 at settlement
    boa.env.evm.patch.timestamp = m.delivery_end
    protocol.set_settlement(gpu, 1 * USDC)
    before = pool_state()
    with boa.env.prank(bob.address), boa.reverts("Pool: settlement pending"):
        pool.deposit(10_000 * USDC, bob.address)
    assert pool_state() == before

    boa.env.time_travel(seconds=m.dispute_window)
    ch.finalize_settlement(gpu)
    with boa.env.prank(bob.address), boa.reverts("Pool: settlement pending"):
        pool.deposit(10_000 * USDC, bob.address)

    with boa.env.prank(keeper.address):
        ch.settle(pool.address, gpu)
    assert pool.totalAssets() == 60_000 * USDC
    with boa.env.prank(bob.address):
        shares = pool.deposit(10_000 * USDC, bob.address)
    assert pool.previewRedeem(shares) <= 10_000 * USDC


def test_attack__leave_before_adverse_settlement__refused(protocol, pool, gpu, alice, hedged, pool_state):
    m = protocol.clearinghouse.market(gpu)
    boa.env.evm.patch.timestamp = m.delivery_end
    protocol.set_settlement(gpu, GPU_MARK + 1 * USDC)  # the pool loses $10,000
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: settlement pending"):
        pool.withdraw(1_000 * USDC, alice.address, alice.address)
    assert pool_state() == before
    assert pool.maxWithdraw(alice.address) == 0
