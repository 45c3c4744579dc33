"""Replaying a pool approval: a filled, revoked or expired approval fills no more; an approval
binds the exact order (hash over every field under this Exchange's domain) and this pool."""

import boa

from core import eip712
from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK, INVALID, MAGIC
from tests.utils.deployers import deploy_pool


def test_attack__refill_filled_approval__refused(protocol, pool, taker, hedged, pool_state):
    before = pool_state(orders=[hedged])
    with boa.env.prank(taker.address), boa.reverts("Exchange: overfill"):
        protocol.exchange.fill(hedged, b"", 1)
    assert pool_state(orders=[hedged]) == before


def test_attack__reapprove_used_order__refused(protocol, pool, manager, hedged, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: already approved"):
        pool.approve_order(hedged)
    assert pool_state() == before
    with boa.env.prank(manager):
        pool.revoke_order(protocol.exchange.order_hash(hedged))
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: order used"):
        pool.approve_order(hedged)
    assert pool_state() == before


def test_attack__fill_after_expiry__refused(protocol, pool, gpu, taker, hedged, pool_order, approve, pool_state):
    o = pool_order(gpu, False, 1_000_000, GPU_MARK)
    approve(o)
    boa.env.time_travel(seconds=3_601)
    protocol.set_mark(gpu, GPU_MARK)
    before = pool_state(orders=[o])
    with boa.env.prank(taker.address), boa.reverts("Exchange: order expired"):
        protocol.exchange.fill(o, b"", 1_000_000)
    assert pool_state(orders=[o]) == before


def test_attack__approval_used_for_another_pool__refused(
    protocol, pool, gpu, pool_owner, manager, taker, hedged, pool_order, approve
):
    o = pool_order(gpu, False, 1_000_000, GPU_MARK)
    approve(o)
    twin = deploy_pool(protocol, pool_owner, manager)
    o2 = (twin.address, *o[1:])
    h2 = protocol.exchange.order_hash(o2)
    assert twin.isValidSignature(h2, b"") == INVALID
    # nor does the first pool vouch for the twin's order hash
    assert pool.isValidSignature(h2, b"") == INVALID
    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        protocol.exchange.fill(o2, b"", 1_000_000)


def test_attack__same_order_under_another_domain__not_vouched(protocol, pool, gpu, hedged, pool_order, approve):
    o = pool_order(gpu, False, 1_000_000, GPU_MARK)
    h = approve(o)
    assert pool.isValidSignature(h, b"") == MAGIC
    other_chain = eip712.order_digest(eip712.Order(*o), 1, protocol.exchange.address)
    other_exchange = eip712.order_digest(eip712.Order(*o), protocol.chain_id, pool.address)
    assert pool.isValidSignature(other_chain, b"") == INVALID
    assert pool.isValidSignature(other_exchange, b"") == INVALID
