"""Issue 15: the pool manager's approved orders reach the relay and any taker fills them, on a
real devnet (anvil + the real deploy + a real relay process). The relay verifies the pool's
empty signature through the pool's EIP-1271 isValidSignature (relay/validation.py); an order
the manager never approved, posted in the pool's name, is refused."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from eth_account import Account

from core import abi as core_abi
from core import eip712
from devnet.anvil import ANVIL_KEYS
from devnet.pool import create_pool
from keepers.chain import Metrics
from keepers.pool_manager import PoolManager
from sdk.client import Client
from sdk.errors import RelayError
from sdk.models import Order, SignedOrder
from sdk.pool import PoolClient
from sdk.reader import Reader
from sdk.relay_client import RelayClient
from tests.utils.plain_web3 import contract, fund, push_mark, send

pytestmark = pytest.mark.integration

OWNER, MANAGER, MEMBER, TAKER = ANVIL_KEYS[0], ANVIL_KEYS[12], ANVIL_KEYS[13], ANVIL_KEYS[14]
MARK = 1_500_000  # base units per GPU-hour (fixture)
USDC = 10**6


def test_approved_pool_order_posted_to_relay_and_filled_by_a_taker(devnet, start_relay):
    anvil, _, path = devnet
    entry = create_pool(
        anvil.url,
        path,
        OWNER,
        Account.from_key(MANAGER).address,
        gpu_classes=["H100-SXM"],
        nodes=["HB_WEST"],
        warp=True,
    )
    manifest = json.loads(path.read_text())
    w3 = Reader(path, anvil.url).w3
    (mid,) = (int(k) for k in entry["markets"])
    push_mark(w3, manifest, next(x for x in manifest["markets"] if x["id"] == mid), MARK)
    fund(w3, manifest, TAKER, 1_000_000 * USDC)
    c = Client(path, anvil.url, private_key=MEMBER)
    c.faucet(Decimal(100_000))
    p = PoolClient(c, entry["address"])
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 100, Decimal("0.5"))
    pool = w3.eth.contract(address=entry["address"], abi=core_abi.abi("Pool"))
    ex = contract(w3, manifest, "Exchange")
    now = w3.eth.get_block("latest")["timestamp"]
    approved = (pool.address, mid, False, 1_000_000, MARK, now, now + 3600, False)
    send(w3, pool.functions.approve_order(approved), MANAGER)
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
    send(w3, ex.functions.fill(dataclasses.astuple(o.order), sig, 1_000_000), TAKER)
    q, _ = contract(w3, manifest, "Clearinghouse").functions.position(pool.address, mid).call()
    assert q == -1_000_000
