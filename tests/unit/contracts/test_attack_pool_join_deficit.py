"""A join into a pool whose account is in deficit at the marks.

NAV floors the pool's Clearinghouse equity at zero, but a join's assets go into that account: a
joiner would pay a deficit that belongs to the insurance fund and then to the profitable
counterparties (deleverage), and get shares priced as if the account were worth nothing, so
every base unit of the deficit came out of the joiner's deposit. Joins are closed while the
account's equity is negative ("Pool: insolvent"); exits stay open at NAV = idle.
"""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK
from tests.utils.deployers import USDC


def _deficit(protocol, pool, gpu, mark):
    # the pool is short 10,000 GPU-h at $2 on $50,000: a gap to $8 loses $60,000 before any
    # liquidation could run, leaving the account $10,000 below zero
    mark(gpu, 8 * USDC)
    assert protocol.clearinghouse.equity(pool.address) == -10_000 * USDC
    assert pool.totalAssets() == 0


def test_attack__join_into_deficit__refused_state_unchanged(protocol, pool, gpu, bob, hedged, mark, pool_state):
    _deficit(protocol, pool, gpu, mark)
    before = pool_state()

    with boa.env.prank(bob.address), boa.reverts("Pool: insolvent"):
        pool.deposit(20_000 * USDC, bob.address)
    with boa.env.prank(bob.address), boa.reverts("Pool: insolvent"):
        pool.mint(10**12, bob.address)

    assert pool_state() == before
    assert pool.maxDeposit(bob.address) == 0
    assert pool.maxMint(bob.address) == 0


def test_deficit__exits_stay_open_at_nav_of_idle(protocol, pool, gpu, alice, hedged, mark, declare):
    _deficit(protocol, pool, gpu, mark)

    # joins and exits share closed_reason(); only joins are refused for the deficit. alice's
    # declared GPUs need collateral her shares no longer have: she withdraws them first
    assert pool.closed_reason() == ""
    declare(alice, 0)
    shares = pool.balanceOf(alice.address) // 2
    with boa.env.prank(alice.address):
        pool.request_exit(shares, alice.address)
    assert pool.balanceOf(alice.address) == shares


def test_deficit__joins_reopen_when_equity_recovers_and_joiner_pays_nav(
    protocol, pool, gpu, alice, bob, hedged, mark, join
):
    _deficit(protocol, pool, gpu, mark)
    mark(gpu, GPU_MARK)  # back to the entry price: equity $50,000 again
    alice_before = pool.convertToAssets(pool.balanceOf(alice.address))

    shares = join(bob, 20_000 * USDC)

    assert 20_000 * USDC - 2 <= pool.convertToAssets(shares) <= 20_000 * USDC
    assert pool.convertToAssets(pool.balanceOf(alice.address)) >= alice_before


def test_deficit_at_settlement__deleveraged_then_settled__members_keep_what_is_left(
    protocol, pool, gpu, alice, bob, taker, keeper, hedged, join
):
    """The fuzz machine's case: a final price beyond the pool's equity. `settle` refuses until
    the loss the insurance fund cannot carry is deleveraged onto the profitable side; then the
    pool's account is flat and not below zero, and joins reopen at the NAV that is left."""
    ch = protocol.clearinghouse
    protocol.finalize(gpu, 8 * USDC)  # short 10,000 GPU-h from $2: -$60,000 on $50,000
    with boa.env.prank(keeper.address), boa.reverts("Clearinghouse: deleverage needed"):
        ch.settle(pool.address, gpu)
    with boa.env.prank(bob.address), boa.reverts("Pool: settlement pending"):
        pool.deposit(1_000 * USDC, bob.address)

    with boa.env.prank(keeper.address):
        ch.deleverage(pool.address, gpu, [taker.address])
    if ch.position(pool.address, gpu)[0] != 0:
        with boa.env.prank(keeper.address):
            ch.settle(pool.address, gpu)

    assert ch.position(pool.address, gpu)[0] == 0
    assert ch.collateral(pool.address) >= 0
    nav = pool.totalAssets()
    assert nav == ch.collateral(pool.address) + protocol.usdc.balanceOf(pool.address)
    assert pool.convertToAssets(pool.balanceOf(alice.address)) <= nav
    shares = join(bob, 1_000 * USDC)
    assert 1_000 * USDC - 2 <= pool.convertToAssets(shares) <= 1_000 * USDC
