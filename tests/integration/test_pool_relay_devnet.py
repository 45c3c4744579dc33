"""Issue 15: the pool manager's approved orders reach the relay and any taker fills them, on a
real devnet (anvil + the real deploy + a real relay process). The relay verifies the pool's
empty signature through the pool's EIP-1271 isValidSignature (relay/validation.py); an order
the manager never approved, posted in the pool's name, is refused."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from core import eip712
from devnet.anvil import ANVIL_KEYS
from devnet.pool import Member, setup_pool_world
from keepers.chain import Metrics
from keepers.pool_manager import PoolManager
from sdk.errors import RelayError
from sdk.models import Order, SignedOrder
from sdk.relay_client import RelayClient

pytestmark = pytest.mark.integration

MEMBER = ANVIL_KEYS[13]
MARK = 1_500_000  # base units per GPU-hour (fixture)


def test_approved_pool_order_posted_to_relay_and_filled_by_a_taker(devnet, start_relay):
    anvil, _, path = devnet
    member = Member(MEMBER, Decimal(20_000), 100, Decimal("0.5"))
    world = setup_pool_world(anvil.url, path, mark=MARK, members=[member])
    manifest, mid, pool = world.manifest, world.market_id, world.pool
    ex = world.contract("Exchange")
    approved = world.order(1_000_000, MARK, ttl=3600)
    now = approved[5]  # the order's nonce: the block time it was made at
    world.approve(approved)
    h = bytes(ex.functions.order_hash(approved).call())

    relay = start_relay()
    mgr = PoolManager.__new__(PoolManager)  # its posting step, against the real relay
    mgr.relay, mgr.posted = RelayClient(relay.url), set()
    mgr.m_posted = Metrics("pool_manager").counter("relay_posts_total", "posted")
    assert mgr.post_to_relay({h: (approved, approved[3])}) == 1
    book = RelayClient(relay.url).book(mid)
    assert [o.hash.lower() for o in book.orders] == ["0x" + h.hex()]

    # attack: an order in the pool's name the manager never approved (a better price for the taker)
    forged = Order(pool.address, mid, False, 1_000_000, MARK - 100_000, now + 1, now + 3600, False)
    digest = "0x" + bytes(eip712.order_digest(forged, manifest["chain_id"], ex.address)).hex()
    with pytest.raises(RelayError) as e:
        RelayClient(relay.url).post_order(SignedOrder(forged, "0x", digest))
    assert e.value.code == "bad_signature"
    assert len(RelayClient(relay.url).book(mid).orders) == 1

    # any taker fills what the relay shows, with the (empty) signature the relay holds
    (o,) = RelayClient(relay.url).book(mid).orders
    sig = bytes.fromhex(o.signature.removeprefix("0x"))
    world.fill(dataclasses.astuple(o.order), 1_000_000, sig)
    q, _ = world.contract("Clearinghouse").functions.position(pool.address, mid).call()
    assert q == -1_000_000
