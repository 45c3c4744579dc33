"""Attacks by the pool's manager: it may only approve orders of the pool, and the contract (not
trust) stops an order in a disallowed market, beyond the hedge cap, one that drains margin or
hands value to a colluding counterparty off the mark; a limit that breaks after approval stops
the next fill; the manager has no function that moves funds."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK, INVALID
from tests.utils.deployers import USDC


def test_attack__order_in_disallowed_market__refused(protocol, pool, manager, hedged, pool_order, pool_state):
    other = protocol.list_market("B200", price_tick=1_000, im_fixed=200_000, mm_fixed=100_000)
    protocol.set_mark(other, GPU_MARK)
    o = pool_order(other, False, 1_000_000, GPU_MARK)
    before = pool_state()

    with boa.env.prank(manager), boa.reverts("Pool: market not allowed"):
        pool.approve_order(o)

    assert pool_state() == before
    assert pool.isValidSignature(protocol.exchange.order_hash(o), b"") == INVALID


def test_attack__order_beyond_hedge_cap__refused(pool, gpu, manager, hedged, pool_order, pool_state):
    # cap 57,600 GPU-h; already short 10,000: 47,601 more is one GPU-hour too many
    o = pool_order(gpu, False, 47_601_000, GPU_MARK)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: hedge cap exceeded"):
        pool.approve_order(o)
    assert pool_state() == before


def test_attack__order_draining_margin__refused(pool, gpu, manager, hedged, pool_order, pool_state):
    # within the hedge cap, but IM of 40,000 GPU-h ($28,000) > 50% of $50,000 equity
    o = pool_order(gpu, False, 30_000_000, GPU_MARK)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: margin cap exceeded"):
        pool.approve_order(o)
    assert pool_state() == before


def test_attack__off_mark_price_to_colluding_taker__refused(pool, gpu, manager, hedged, pool_order, pool_state):
    # the manager's friend would buy the pool's GPU-hours at $0.01: far outside the band
    o = pool_order(gpu, False, 10_000_000, 10_000)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: price beyond slippage band"):
        pool.approve_order(o)
    assert pool_state() == before


def test_attack__reducing_order_off_mark__refused(pool, gpu, manager, hedged, pool_order, pool_state):
    # buying the hedge back at $20 would hand $18/GPU-h to the seller: reduce-only is no excuse
    o = pool_order(gpu, True, 10_000_000, 20 * USDC)
    before = pool_state()
    with boa.env.prank(manager), boa.reverts("Pool: price beyond slippage band"):
        pool.approve_order(o)
    assert pool_state() == before


def test_attack__approved_then_mark_jumps__next_fill_refused(
    protocol, pool, gpu, taker, hedged, pool_order, approve, fill, mark, pool_state
):
    # approved within the margin cap at $2; the mark doubles: the rest would breach it
    o = pool_order(gpu, False, 20_000_000, GPU_MARK)
    approve(o)
    fill(o, 1_000_000)
    mark(gpu, 2 * GPU_MARK)
    before = pool_state(orders=[o])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        protocol.exchange.fill(o, b"", 1_000_000)

    assert pool_state(orders=[o]) == before


def test_attack__manager_redeems_members_shares__refused(pool, manager, alice, hedged, pool_state):
    before = pool_state()
    with boa.env.prank(manager), boa.reverts():
        pool.redeem(10**6, manager, alice.address)
    with boa.env.prank(manager), boa.reverts():
        pool.transferFrom(alice.address, manager, 10**6)
    assert pool_state() == before


def test_attack__manager_has_no_fund_moving_function(pool):
    # every state-changing function of the pool, and who may call it: the manager's only
    # powers are approving and revoking orders of the pool
    mutating = {
        f["name"]
        for f in pool.abi
        if f.get("type") == "function" and f["stateMutability"] != "view" and f["stateMutability"] != "pure"
    }
    assert mutating == {
        # members (their own shares, or an allowance)
        "deposit", "mint", "withdraw", "redeem", "request_exit", "declare_capacity",
        "transfer", "transferFrom", "approve",
        # anyone: served at NAV, applied after the delay
        "serve_exits", "apply_limits", "apply_market",
        # manager
        "approve_order", "revoke_order",
        # owner
        "queue_limits", "queue_market", "disallow_market", "set_manager", "transfer_ownership", "accept_ownership",
    }  # fmt: skip
