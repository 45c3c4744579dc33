"""Pool.approve_order: the manager approves orders of the pool's account within the limits."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK, MAGIC
from tests.utils.deployers import USDC


def test_approve_order__within_limits__stored_and_fillable(
    protocol, pool, gpu, alice, join, declare, pool_order, approve, fill
):
    join(alice, 50_000 * USDC)
    declare(alice, 100)
    o = pool_order(gpu, False, 5_000_000, GPU_MARK)

    h = approve(o)

    assert h == protocol.exchange.order_hash(o)
    assert pool.approved(h) == o
    assert pool.isValidSignature(h, b"") == MAGIC
    fill(o, 2_000_000)
    fill(o, 3_000_000)
    assert protocol.clearinghouse.position(pool.address, gpu)[0] == -5_000_000


def test_approve_order__reducing_in_disallowed_market__passes(pool, gpu, pool_owner, hedged, pool_order, approve, fill):
    with boa.env.prank(pool_owner):
        pool.disallow_market(gpu)
    o = pool_order(gpu, True, 4_000_000, GPU_MARK)
    approve(o)
    fill(o)


def test_approve_order__not_manager__reverts(pool, gpu, alice, hedged, pool_order, pool_state):
    o = pool_order(gpu, False, 1_000, GPU_MARK)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: not manager"):
        pool.approve_order(o)
    assert pool_state() == before


def test_approve_order__other_trader__reverts(pool, gpu, manager, alice, hedged, pool_order, pool_state):
    o = (alice.address, *pool_order(gpu, False, 1_000, GPU_MARK)[1:])
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: not the pool's order"):
        pool.approve_order(o)
    assert pool_state() == before


def test_approve_order__expired__reverts(pool, gpu, manager, hedged, pool_order, pool_state):
    o = pool_order(gpu, False, 1_000, GPU_MARK, expiry=boa.env.evm.patch.timestamp)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: bad expiry"):
        pool.approve_order(o)
    assert pool_state() == before


def test_approve_order__too_long_lived__reverts(pool, gpu, manager, hedged, pool_order, pool_state):
    o = pool_order(gpu, False, 1_000, GPU_MARK, expiry=boa.env.evm.patch.timestamp + 7 * 86_400 + 1)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: bad expiry"):
        pool.approve_order(o)
    assert pool_state() == before


def test_approve_order__zero_quantity__reverts(pool, gpu, manager, hedged, pool_order, pool_state):
    o = pool_order(gpu, False, 0, GPU_MARK)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: zero quantity"):
        pool.approve_order(o)
    assert pool_state() == before


def test_approve_order__twice__reverts(pool, gpu, manager, hedged, pool_order, approve, pool_state):
    o = pool_order(gpu, False, 1_000, GPU_MARK)
    approve(o)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: already approved"):
        pool.approve_order(o)
    assert pool_state() == before


def test_approve_order__stale_mark__reverts(pool, gpu, manager, hedged, pool_order, pool_state):
    boa.env.time_travel(seconds=3_601)
    o = pool_order(gpu, False, 1_000, GPU_MARK)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: stale mark"):
        pool.approve_order(o)
    assert pool_state() == before


def test_approve_order__beyond_slippage__reverts(pool, gpu, manager, hedged, pool_order, pool_state):
    # band: $1 + 2% of $2 = $1.04; selling at $0.95 gives away $1.05 per GPU-hour
    o = pool_order(gpu, False, 1_000, GPU_MARK - 1_050_000)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: price beyond slippage band"):
        pool.approve_order(o)
    assert pool_state() == before
