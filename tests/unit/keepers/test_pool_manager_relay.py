"""The pool manager posts its live approvals to the relay (issue 15): the real
``PoolManager.post_to_relay`` and the real sdk RelayClient over a fake relay transport that
answers as relay/app.py does (201 stored, 409 duplicate naming the hash, 400 bad_signature).
That the real relay accepts the pool's empty signature through EIP-1271 on anvil is
tests/integration/test_pool_manager_month.py's assertion."""

from __future__ import annotations

import json

import httpx
import pytest

from core import eip712
from keepers.chain import Metrics
from keepers.pool_manager import PoolManager, PoolManagerSettings
from sdk.relay_client import RelayClient

POOL = "0x" + "5a" * 20


def order(nonce: int) -> tuple:
    return (POOL, 3, False, 100_000, 1_490_000, nonce, 2_000_000_000, False)


def h(o: tuple) -> bytes:
    return bytes(eip712.order_digest(eip712.Order(*o), 31337, "0x" + "e1" * 20))


class FakeRelay:
    def __init__(self):
        self.posts: list[dict] = []
        self.held: set[str] = set()
        self.refuse: set[str] = set()

    def __call__(self, req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        self.posts.append(body)
        if body["hash"] in self.refuse:
            return httpx.Response(400, json={"detail": "contract wallet does not accept", "code": "bad_signature"})
        if body["hash"] in self.held:
            return httpx.Response(409, json={"detail": f"order {body['hash']} exists", "code": "duplicate"})
        self.held.add(body["hash"])
        return httpx.Response(201, json={"hash": body["hash"], "status": "open"})


@pytest.fixture
def mgr():
    relay = FakeRelay()
    m = PoolManager.__new__(PoolManager)  # the posting step alone: no chain behind it
    m.relay = RelayClient("http://relay.test", transport=httpx.MockTransport(relay))
    m.posted = set()
    m.m_posted = Metrics("pool_manager").counter("relay_posts_total", "posted")
    return m, relay


def test_live_approvals_posted_once_with_empty_signature(mgr):
    m, relay = mgr
    a, b = order(1), order(2)
    live = {h(a): (a, 100_000), h(b): (b, 40_000)}
    assert m.post_to_relay(live) == 2
    got = {p["hash"]: p for p in relay.posts}
    assert set(got) == {"0x" + h(a).hex(), "0x" + h(b).hex()}
    p = got["0x" + h(a).hex()]
    assert p["signature"] == "0x"  # the pool's approval is its signature (EIP-1271)
    assert p["order"]["trader"] == POOL and p["order"]["quantity"] == "100000" and p["order"]["is_buy"] is False
    assert m.post_to_relay(live) == 0 and len(relay.posts) == 2  # nothing posted twice


def test_refused_post_retried_next_block_and_gone_approvals_forgotten(mgr):
    m, relay = mgr
    a, b = order(1), order(2)
    relay.refuse.add("0x" + h(b).hex())
    assert m.post_to_relay({h(a): (a, 1), h(b): (b, 1)}) == 1
    relay.refuse.clear()
    assert m.post_to_relay({h(a): (a, 1), h(b): (b, 1)}) == 1  # b again, a not again
    assert [p["hash"] for p in relay.posts].count("0x" + h(a).hex()) == 1
    m.post_to_relay({h(b): (b, 1)})  # a filled or revoked
    assert m.posted == {h(b)}


def test_restart_reposts_and_duplicate_counts_as_held(mgr):
    m, relay = mgr
    a = order(1)
    relay.held.add("0x" + h(a).hex())  # the relay kept it across our restart
    assert m.post_to_relay({h(a): (a, 1)}) == 1 and m.posted == {h(a)}


def test_no_relay_posts_nothing(mgr):
    m, relay = mgr
    m.relay = None
    assert m.post_to_relay({h(order(1)): (order(1), 1)}) == 0 and relay.posts == []


def test_relay_url_must_be_http():
    with pytest.raises(ValueError, match=r"relay URL must be http\(s\)://"):
        PoolManagerSettings(relay_url="ftp://x", manifest="m.json", rpc_url="http://x")
