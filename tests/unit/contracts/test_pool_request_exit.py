"""Pool.request_exit: queue an exit beyond free collateral (shares escrowed, still in the PnL)."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.utils.deployers import USDC


def test_request_exit__escrows_shares_and_queues(pool, alice, bob, join, hedged):
    shares = join(bob, 10_000 * USDC)

    with boa.env.prank(bob.address):
        i = pool.request_exit(shares, bob.address)

    assert i == 0
    assert pool.exit_tail() == 1 and pool.exit_head() == 0
    assert pool.exits(0) == (bob.address, bob.address, shares)
    assert pool.balanceOf(bob.address) == 0
    assert pool.balanceOf(pool.address) == shares


def test_request_exit__zero__reverts(pool, bob, join, pool_state):
    join(bob, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(bob.address), boa.reverts("Pool: zero shares"):
        pool.request_exit(0, bob.address)
    assert pool_state() == before


def test_request_exit__zero_receiver__reverts(pool, bob, join, pool_state):
    shares = join(bob, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(bob.address), boa.reverts("Pool: zero receiver"):
        pool.request_exit(shares, "0x0000000000000000000000000000000000000000")
    assert pool_state() == before


def test_request_exit__more_than_balance__reverts(pool, bob, join, pool_state):
    shares = join(bob, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(bob.address), boa.reverts():
        pool.request_exit(shares + 1, bob.address)
    assert pool_state() == before


def test_request_exit__below_capacity_cover__reverts(pool, alice, hedged, pool_state):
    shares = pool.balanceOf(alice.address)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: capacity needs collateral"):
        pool.request_exit(shares, alice.address)
    assert pool_state() == before
