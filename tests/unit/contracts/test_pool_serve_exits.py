"""Pool.serve_exits: pay queued exits FIFO at the NAV of the moment, as free collateral allows."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK
from tests.utils.deployers import USDC


def _queue(pool, member, shares):
    with boa.env.prank(member.address):
        return pool.request_exit(shares, member.address)


def test_serve_exits__free_collateral__pays_in_full(protocol, pool, bob, join, hedged, keeper):
    shares = join(bob, 10_000 * USDC)
    _queue(pool, bob, shares)
    expect = pool.previewRedeem(shares)
    before = protocol.usdc.balanceOf(bob.address)

    with boa.env.prank(keeper.address):
        paid = pool.serve_exits(10)

    assert paid == expect
    assert protocol.usdc.balanceOf(bob.address) == before + expect
    assert pool.exit_head() == 1
    assert pool.balanceOf(pool.address) == 0


def test_serve_exits__beyond_free__partial_then_rest_after_hedge_cut(
    protocol, pool, gpu, alice, bob, join, declare, pool_order, approve, fill, keeper
):
    join(alice, 20_000 * USDC)
    declare(alice, 100)
    o = pool_order(gpu, False, 14_000_000, GPU_MARK)  # IM $9,800 of $20,000: 49%
    approve(o)
    fill(o)
    with boa.env.prank(alice.address):
        shares = pool.balanceOf(alice.address)
        pool.declare_capacity(b"\0" * 32, b"\0" * 32, 0, 0)
        pool.request_exit(shares, alice.address)
    free = pool.free_collateral()
    assert 0 < free < 1_000 * USDC

    with boa.env.prank(keeper.address):
        paid = pool.serve_exits(10)

    assert paid <= free and paid >= free - 1
    assert pool.exit_head() == 0  # still queued: the rest waits
    left = pool.exits(0)[2]
    assert 0 < left < shares

    # the manager buys the hedge back; the rest is served
    back = pool_order(gpu, True, 14_000_000, GPU_MARK)
    approve(back)
    fill(back)
    with boa.env.prank(keeper.address):
        pool.serve_exits(10)
    assert pool.exit_head() == 1
    assert pool.totalSupply() == 0


def test_serve_exits__empty_queue__pays_nothing(pool, keeper, join, bob):
    join(bob, 1_000 * USDC)
    with boa.env.prank(keeper.address):
        assert pool.serve_exits(10) == 0


def test_serve_exits__stale_mark__reverts(pool, bob, join, hedged, keeper, pool_state):
    shares = join(bob, 1_000 * USDC)
    _queue(pool, bob, shares)
    boa.env.time_travel(seconds=3_601)
    before = pool_state()
    with boa.env.prank(keeper.address), boa.reverts("Pool: stale mark"):
        pool.serve_exits(10)
    assert pool_state() == before


def test_serve_exits__queued_shares_share_pnl_until_served(protocol, pool, gpu, bob, join, hedged, mark, keeper):
    shares = join(bob, 10_000 * USDC)
    _queue(pool, bob, shares)
    mark(gpu, GPU_MARK - 60_000)  # short: +$600 to the pool while bob waits
    with boa.env.prank(keeper.address):
        paid = pool.serve_exits(1)
    assert paid > 10_000 * USDC
    assert abs(paid - (10_000 * USDC + 600 * USDC * 10 // 60)) <= 2
