"""Pool governance: queue_limits/apply_limits, queue_market/apply_market (through the delay),
disallow_market and set_manager (at once: they only remove power), two-step ownership."""

import boa
import pytest

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import H100, UNITS_PER_GPU, WEST
from tests.utils.deployers import POOL_DELAY, POOL_LIMITS

NEW_LIMITS = (5_000, 3_000, 100, 500_000, 50_000_000)


def test_queue_limits__applies_after_delay(pool, pool_owner, keeper):
    with boa.env.prank(pool_owner):
        pool.queue_limits(NEW_LIMITS)
    assert pool.limits() == POOL_LIMITS
    boa.env.time_travel(seconds=POOL_DELAY)

    with boa.env.prank(keeper.address):
        pool.apply_limits()

    assert pool.limits() == NEW_LIMITS
    assert pool.pending_limits_eta() == 0


def test_apply_limits__before_delay__reverts(pool, pool_owner, keeper, pool_state):
    with boa.env.prank(pool_owner):
        pool.queue_limits(NEW_LIMITS)
    boa.env.time_travel(seconds=POOL_DELAY - 1)
    before = pool_state()
    with boa.env.prank(keeper.address), boa.reverts("Pool: delay not passed"):
        pool.apply_limits()
    assert pool_state() == before


def test_apply_limits__nothing_queued__reverts(pool, keeper, pool_state):
    before = pool_state()
    with boa.env.prank(keeper.address), boa.reverts("Pool: nothing queued"):
        pool.apply_limits()
    assert pool_state() == before


def test_queue_limits__not_owner__reverts(pool, manager, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: not owner"):
        pool.queue_limits(NEW_LIMITS)
    assert pool_state() == before


@pytest.mark.parametrize(
    "limits, reason",
    [
        ((0, 5_000, 0, 0, 0), "Pool: hedge share out of bounds"),
        ((10_001, 5_000, 0, 0, 0), "Pool: hedge share out of bounds"),
        ((5_000, 0, 0, 0, 0), "Pool: margin share out of bounds"),
        ((5_000, 10_001, 0, 0, 0), "Pool: margin share out of bounds"),
        ((5_000, 5_000, 10_001, 0, 0), "Pool: slippage out of bounds"),
    ],
)
def test_queue_limits__out_of_bounds__reverts(pool, pool_owner, pool_state, limits, reason):
    before = pool_state()
    with boa.env.prank(pool_owner), boa.reverts(reason):
        pool.queue_limits(limits)
    assert pool_state() == before


def test_queue_market__applies_after_delay(protocol, pool, pool_owner, keeper):
    mid = protocol.list_market("H100-EAST")
    cfg = (pool.capacity_key(H100, WEST), UNITS_PER_GPU)
    with boa.env.prank(pool_owner):
        pool.queue_market(mid, cfg)
    assert pool.market_config(mid)[1] == 0
    boa.env.time_travel(seconds=POOL_DELAY)
    with boa.env.prank(keeper.address):
        pool.apply_market(mid)
    assert pool.market_config(mid) == cfg


def test_apply_market__before_delay__reverts(protocol, pool, pool_owner, keeper, pool_state):
    mid = protocol.list_market("H100-EAST")
    with boa.env.prank(pool_owner):
        pool.queue_market(mid, (pool.capacity_key(H100, WEST), UNITS_PER_GPU))
    before = pool_state()
    with boa.env.prank(keeper.address), boa.reverts("Pool: delay not passed"):
        pool.apply_market(mid)
    assert pool_state() == before


def test_apply_market__nothing_queued__reverts(pool, keeper, pool_state):
    before = pool_state()
    with boa.env.prank(keeper.address), boa.reverts("Pool: nothing queued"):
        pool.apply_market(12345)
    assert pool_state() == before


def test_queue_market__unknown_market__reverts(pool, pool_owner, pool_state):
    before = pool_state()
    with boa.env.prank(pool_owner), boa.reverts("Pool: unknown market"):
        pool.queue_market(12345, (b"\0" * 32, 1))
    assert pool_state() == before


def test_queue_market__zero_units__reverts(pool, gpu, pool_owner, pool_state):
    before = pool_state()
    with boa.env.prank(pool_owner), boa.reverts("Pool: zero units per gpu"):
        pool.queue_market(gpu, (b"\0" * 32, 0))
    assert pool_state() == before


def test_queue_market__not_owner__reverts(pool, gpu, manager, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: not owner"):
        pool.queue_market(gpu, (b"\0" * 32, 1))
    assert pool_state() == before


def test_disallow_market__at_once(pool, gpu, pool_owner):
    with boa.env.prank(pool_owner):
        pool.disallow_market(gpu)
    assert pool.market_config(gpu)[1] == 0
    assert pool.hedge_cap(gpu) == 0


def test_disallow_market__not_owner__reverts(pool, gpu, manager, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: not owner"):
        pool.disallow_market(gpu)
    assert pool_state() == before


def test_set_manager__replaces(pool, pool_owner, alice):
    with boa.env.prank(pool_owner):
        pool.set_manager(alice.address)
    assert pool.manager() == alice.address


def test_set_manager__not_owner__reverts(pool, manager, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: not owner"):
        pool.set_manager(manager)
    assert pool_state() == before


def test_transfer_ownership__two_steps(pool, pool_owner, alice):
    with boa.env.prank(pool_owner):
        pool.transfer_ownership(alice.address)
    assert pool.owner() == pool_owner
    with boa.env.prank(alice.address):
        pool.accept_ownership()
    assert pool.owner() == alice.address
    assert pool.pending_owner() == "0x0000000000000000000000000000000000000000"


def test_transfer_ownership__not_owner__reverts(pool, manager, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: not owner"):
        pool.transfer_ownership(manager)
    assert pool_state() == before


def test_accept_ownership__not_pending__reverts(pool, pool_owner, alice, bob, pool_state):
    with boa.env.prank(pool_owner):
        pool.transfer_ownership(alice.address)
    before = pool_state()
    with boa.env.prank(bob.address), boa.reverts("Pool: not pending owner"):
        pool.accept_ownership()
    assert pool_state() == before
