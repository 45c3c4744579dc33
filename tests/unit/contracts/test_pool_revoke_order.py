"""Pool.revoke_order: the manager or owner withdraws an approval; no further fill passes."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK, INVALID


def test_revoke_order__manager__fills_stop(protocol, pool, gpu, manager, taker, hedged, pool_order, approve, fill):
    o = pool_order(gpu, False, 2_000_000, GPU_MARK)
    h = approve(o)
    fill(o, 1_000_000)

    with boa.env.prank(manager):
        pool.revoke_order(h)

    assert pool.isValidSignature(h, b"") == INVALID
    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        protocol.exchange.fill(o, b"", 1_000_000)


def test_revoke_order__owner__allowed(pool, gpu, pool_owner, hedged, pool_order, approve):
    h = approve(pool_order(gpu, False, 1_000, GPU_MARK))
    with boa.env.prank(pool_owner):
        pool.revoke_order(h)
    assert pool.approved(h)[0] == "0x0000000000000000000000000000000000000000"


def test_revoke_order__stranger__reverts(pool, gpu, alice, hedged, pool_order, approve, pool_state):
    h = approve(pool_order(gpu, False, 1_000, GPU_MARK))
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: not manager"):
        pool.revoke_order(h)
    assert pool_state() == before


def test_revoke_order__unknown__reverts(pool, manager, hedged, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: not approved"):
        pool.revoke_order(b"\x01" * 32)
    assert pool_state() == before
