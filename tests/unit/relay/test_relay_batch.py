"""POST /orders/batch (issue 12, point 8: the throughput path) and the per-trader margin lock.

A batch gets POST /orders' full validation per order; the attacks: a batch (or concurrent
single posts) that together reserve more than the trader's free margin, replays inside and
across batches, and malformed items, each refused while the valid orders still book. Both
backends (the `store` fixture)."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from matcher_helpers import USDC, make_order, wire

from relay.app import create_app
from relay.chainview import AccountInfo
from relay.config import RelaySettings
from relay.relay import BATCH_MAX


@pytest.fixture
def client(chain, store):
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    with TestClient(app) as c:
        yield c


def _batch(client, wires):
    return client.post("/orders/batch", json={"orders": wires})


def test_batch__valid_orders__all_booked_in_posted_order(client, store, traders):
    ws = [wire(make_order(traders[i % 3], price=2_000_000 + i * 1_000), traders[i % 3]) for i in range(30)]
    r = _batch(client, ws)
    assert r.status_code == 200 and r.json()["accepted"] == 30
    res = r.json()["results"]
    assert [x["status"] for x in res] == [201] * 30
    assert [x["seq"] for x in res] == sorted(x["seq"] for x in res)
    assert {x["hash"] for x in res} == {so.hash for so in store.query(limit=100)}
    assert client.get("/markets/1/book").json()["bid_orders"] == 30


def test_batch__bad_items_refused_each__valid_ones_booked(client, store, traders):
    good = wire(make_order(traders[0]), traders[0])
    forged = {**wire(make_order(traders[1]), traders[1]), "trader": traders[2].address}
    known = wire(make_order(traders[1]), traders[1])
    assert client.post("/orders", json=known).status_code == 201
    off_tick = wire(make_order(traders[1], price=2_500_001), traders[1])
    r = _batch(client, [good, forged, good, known, off_tick])
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["status"] for x in res] == [201, 400, 409, 409, 400]
    assert [x.get("code") for x in res[1:]] == ["bad_signature", "duplicate", "duplicate", "off_tick"]
    assert r.json()["accepted"] == 1 and len(store.query(limit=100)) == 2
    # the same batch again: nothing new, every valid order a 409 duplicate (retries are safe)
    again = _batch(client, [good, known]).json()["results"]
    assert [x["code"] for x in again] == ["duplicate", "duplicate"]


def test_batch__orders_together_exceed_free_margin__later_ones_refused(client, chain, store, traders):
    # each 10 GPU-hour buy needs 7.7625 USD; 20 USD free carries two, whether posted one by one or in one batch
    t = traders[0]
    chain.accounts[t.address] = AccountInfo(20 * USDC, 20 * USDC, 0, 0, True, 0)
    res = _batch(client, [wire(make_order(t), t) for _ in range(5)]).json()["results"]
    assert [x["status"] for x in res] == [201, 201, 400, 400, 400]
    assert {x["code"] for x in res[2:]} == {"insufficient_margin"}
    assert len(store.query(trader=t.address)) == 2
    assert client.post("/orders", json=wire(make_order(t), t)).json()["code"] == "insufficient_margin"


def test_batch__too_many_or_empty__422_and_nothing_booked(client, store, traders):
    w = wire(make_order(traders[0]), traders[0])
    r = _batch(client, [w] * (BATCH_MAX + 1))
    assert r.status_code == 422 and "orders" in str(r.json()["detail"])
    assert _batch(client, []).status_code == 422
    assert store.query(status=None) == []


def test_post__concurrent_posts_by_one_trader__margin_not_double_spent(client, chain, store, traders):
    # free margin for exactly two orders; 12 threads post 12 different orders at once: before the
    # per-trader lock, several checks could pass on the same free margin before any insert landed
    t = traders[3]
    chain.accounts[t.address] = AccountInfo(20 * USDC, 20 * USDC, 0, 0, True, 0)
    ws = [wire(make_order(t, price=2_500_000 - i * 1_000), t) for i in range(12)]
    codes, barrier = [], threading.Barrier(12)

    def go(w):
        barrier.wait()
        codes.append(client.post("/orders", json=w).status_code)

    ts = [threading.Thread(target=go, args=(w,)) for w in ws]
    [x.start() for x in ts]
    [x.join() for x in ts]
    assert sorted(codes) == [201, 201] + [400] * 10
    assert len(store.query(trader=t.address)) == 2
