"""Pool.declare_capacity: members declare GPU class, node, count and committed share of hours."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import EAST, H100, UNITS_PER_GPU, WEST
from tests.utils.deployers import USDC


def test_declare_capacity__sets_and_aggregates(pool, gpu, alice, bob, join, declare):
    join(alice, 10_000 * USDC)
    join(bob, 10_000 * USDC)
    declare(alice, 40, 5_000)
    declare(bob, 20)

    key = pool.capacity_key(H100, WEST)
    assert pool.capacity(alice.address) == (H100, WEST, 40, 5_000)
    assert pool.committed(key) == 40 * 5_000 + 20 * 10_000
    # 40 GPUs x 50% + 20 GPUs = 40 committed GPUs x 720 h x 80%
    assert pool.hedge_cap(gpu) == 40 * UNITS_PER_GPU * 8_000 // 10_000


def test_declare_capacity__replace__moves_the_aggregate(pool, alice, join, declare):
    join(alice, 10_000 * USDC)
    declare(alice, 40)
    declare(alice, 10, 10_000, H100, EAST)

    assert pool.committed(pool.capacity_key(H100, WEST)) == 0
    assert pool.committed(pool.capacity_key(H100, EAST)) == 10 * 10_000


def test_declare_capacity__zero_count__withdraws(pool, alice, join, declare):
    join(alice, 10_000 * USDC)
    declare(alice, 40)
    declare(alice, 0, 0)
    assert pool.capacity(alice.address) == (b"\0" * 32, b"\0" * 32, 0, 0)
    assert pool.committed(pool.capacity_key(H100, WEST)) == 0


def test_declare_capacity__uncovered__reverts(pool, alice, join, pool_state):
    join(alice, 1_000 * USDC)  # $100 per GPU: covers 10
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: capacity needs collateral"):
        pool.declare_capacity(H100, WEST, 11, 10_000)
    assert pool_state() == before


def test_declare_capacity__commit_above_100pct__reverts(pool, alice, join, pool_state):
    join(alice, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: commit above 100%"):
        pool.declare_capacity(H100, WEST, 1, 10_001)
    assert pool_state() == before


def test_declare_capacity__zero_commitment__reverts(pool, alice, join, pool_state):
    join(alice, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: zero commitment"):
        pool.declare_capacity(H100, WEST, 1, 0)
    assert pool_state() == before
