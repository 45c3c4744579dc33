"""Issue 12 point 3: a claim (in_flight) is a lease with a deadline. A matcher that dies
mid-match leaves its orders claimed only until the lease ends; then whichever relay process
runs next (follower, re-validator, a matcher, a cancel) reads them from the chain and
releases them, and a release never frees a claim someone else holds."""

from __future__ import annotations

import time

import pytest
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from matcher_helpers import SEP, make_order, wire

from relay.app import create_app
from relay.config import RelaySettings
from relay.follower import Revalidator, reconcile_leases
from relay.orders import cancel_message, sign_order
from relay.store import FILLED, OPEN, StoredOrder
from relay.validation import OrderValidator


def _add(store, acct, **kw):
    o = make_order(acct, **kw)
    return store.add(StoredOrder("0x" + o.digest(SEP).hex(), o, sign_order(o, acct, SEP), remaining=o.quantity))


def test_relay_claim_lease__claim_expires_and_is_reconciled(chain, store, traders):
    a, b = _add(store, traders[0]), _add(store, traders[1], is_buy=False)
    assert store.claim([a.hash, b.hash], lease=0.05, owner="matcher-1")  # then the matcher dies
    v = OrderValidator(chain, store, SEP)
    assert reconcile_leases(store, v, chain) == 0  # lease still running: untouched
    assert store.get(a.hash).in_flight
    # the dead matcher's match of a landed on-chain (filled); b's did not
    chain.filled[a.hash] = a.order.quantity
    time.sleep(0.06)
    assert {so.hash for so in store.expired_claims()} == {a.hash, b.hash}
    assert reconcile_leases(store, v, chain) == 1  # b released; a recorded as filled
    got_a, got_b = store.get(a.hash), store.get(b.hash)
    assert got_a.status == FILLED and not got_a.in_flight
    assert got_b.status == OPEN and not got_b.in_flight
    assert store.claim([b.hash], lease=10, owner="matcher-2")  # matchable again


def test_relay_claim_lease__late_release_by_old_owner_frees_nothing(store, traders):
    a = _add(store, traders[0])
    assert store.claim([a.hash], lease=0.01, owner="old")
    time.sleep(0.02)
    assert store.release_expired(a.hash)
    assert store.claim([a.hash], lease=60, owner="new")
    store.release([a.hash], owner="old")  # the hung matcher wakes up and releases "its" claim
    assert store.get(a.hash).in_flight, "another process's live claim was released"
    store.release([a.hash], owner="new")
    assert not store.get(a.hash).in_flight


def test_relay_claim_lease__revalidator_reconciles_expired_claims(chain, store, traders):
    a = _add(store, traders[0])
    assert store.claim([a.hash], lease=0.01, owner="crashed")
    time.sleep(0.02)
    chain.cancelled_.add(a.hash)
    Revalidator(store, OrderValidator(chain, store, SEP)).run_once()
    got = store.get(a.hash)
    assert got.status == "cancelled" and not got.in_flight and got.reason == "cancelled on-chain"


def test_relay_claim_lease__live_claim_survives_another_process(chain, store, traders):
    a = _add(store, traders[0])
    assert store.claim([a.hash], lease=60, owner="m")
    assert reconcile_leases(store, OrderValidator(chain, store, SEP), chain) == 0
    assert store.get(a.hash).in_flight


@pytest.fixture
def client(chain, store):
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    with TestClient(app) as c:
        yield c


def _cancel(client, acct, h):
    sig = acct.sign_message(encode_defunct(text=cancel_message(h))).signature.hex()
    return client.delete(f"/orders/{h}", headers={"X-Signature": "0x" + sig.removeprefix("0x")})


def test_relay_claim_lease__signed_cancel_after_matcher_crash(client, store, traders):
    h = client.post("/orders", json=wire(make_order(traders[0]), traders[0])).json()["hash"]
    assert store.claim([h], lease=60, owner="m")
    r = _cancel(client, traders[0], h)
    assert r.status_code == 409 and r.json()["code"] == "in_flight" and r.json()["retry_after"] >= 1
    store.release([h], owner="m")
    assert store.claim([h], lease=0.01, owner="crashed")
    time.sleep(0.02)
    r = _cancel(client, traders[0], h)  # before leases: 409 until a matcher restarted
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text


def test_relay_claim_lease__second_matcher_start_keeps_live_claims(chain, store, traders):
    """Two relays on one database: a matcher starting in the second process used to release
    every in-flight claim (it assumed they were its own, left by a crash), so both could send
    the same pair. Now only an expired lease is settled, with the chain."""
    from test_matcher_loop import _setup

    a, b = _add(store, traders[0]), _add(store, traders[1], is_buy=False)
    assert store.claim([a.hash, b.hash], lease=60, owner="relay-1")  # relay 1 is sending
    m2, sender2, _ = _setup(chain, store, traders)  # relay 2 starts its matcher
    assert store.get(a.hash).in_flight and store.get(b.hash).in_flight
    assert m2.step() == [] and sender2.sent == []  # nothing sent twice
    store.release([a.hash, b.hash], owner="relay-1")


def test_relay_claim_lease__matcher_claims_with_lease_and_owner(chain, store, traders):
    from test_matcher_loop import FakeSender

    from relay.matcher import Matcher

    seen = {}

    class Spy(FakeSender):
        def transact(self, call):
            so = store.get(a.hash)
            seen.update(in_flight=so.in_flight, until=so.claim_until)
            return super().transact(call)

    chain.invalidate = lambda: None
    a = _add(store, traders[0], is_buy=False, price=2_400_000)
    _add(store, traders[1], is_buy=True, price=2_500_000)
    m = Matcher(store, chain, OrderValidator(chain, store, SEP), Spy(chain), lease=42.0)
    t0 = time.time()
    assert m.match_market(1).ok
    assert seen["in_flight"] and t0 + 41 < seen["until"] < time.time() + 43
    assert not store.get(a.hash).in_flight  # released after the send
