"""Issue 12 point 2: the chain unreachable. Reads the store can answer still answer; writes
that need the chain get a 503 JSON error with a code and a retry hint; /health names the
dependency that is down."""

from __future__ import annotations

import pytest
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from matcher_helpers import FakeChain, make_order, wire

from relay.app import create_app
from relay.chainview import ChainError
from relay.config import RelaySettings
from relay.orders import cancel_message


class FlakyChain(FakeChain):
    """A FakeChain whose node can be switched off: every read then raises ChainError, as
    `chain.rpc.Rpc` does on a refused connection."""

    down = False

    def __getattribute__(self, name):
        reads = ("head", "pending_time", "market", "account", "min_nonce", "position", "remaining", "cancelled")
        if name in reads and object.__getattribute__(self, "down"):

            def fail(*a, **kw):
                raise ChainError(f"{name}: RPC http://127.0.0.1:1 unreachable: [Errno 111] Connection refused")

            return fail
        return object.__getattribute__(self, name)


@pytest.fixture
def chain():
    return FlakyChain()


@pytest.fixture
def client(chain, store):
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _assert_503(r):
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["code"] == "chain_unavailable" and "unreachable" in body["detail"] and body["retry_after"] > 0
    assert int(r.headers["retry-after"]) == body["retry_after"]


def test_relay_outage__reads_answer_from_store__writes_503_json(client, chain, traders):
    o = make_order(traders[0])
    posted = client.post("/orders", json=wire(o, traders[0]))
    assert posted.status_code == 201
    h = posted.json()["hash"]
    chain.down = True
    # reads
    assert client.get(f"/orders/{h}").json()["status"] == "open"
    assert [x["hash"] for x in client.get("/orders", params={"trader": traders[0].address}).json()] == [h]
    book = client.get("/markets/1/book")
    assert book.status_code == 200 and book.json()["bid_orders"] == 1 and book.json()["block"] == -1
    assert client.get("/markets/1/trades").status_code == 200
    # writes that need the chain
    _assert_503(client.post("/orders", json=wire(make_order(traders[1]), traders[1])))
    _assert_503(client.delete(f"/orders/{h}"))  # unsigned: only if the chain says it is dead
    assert client.get(f"/orders/{h}").json()["status"] == "open"  # nothing changed
    # a signed cancel by a key needs no chain read: it still works
    sig = traders[0].sign_message(encode_defunct(text=cancel_message(h))).signature.hex()
    r = client.delete(f"/orders/{h}", headers={"X-Signature": "0x" + sig.removeprefix("0x")})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_relay_outage__health_says_chain_down_and_recovers(client, chain):
    ok = client.get("/health").json()
    assert ok["status"] == "ok" and ok["down"] == [] and ok["dependencies"]["chain"]["ok"]
    chain.down = True
    r = client.get("/health")
    assert r.status_code == 200, r.text  # reads still served: degraded, not dead
    body = r.json()
    assert body["status"] == "degraded" and body["down"] == ["chain"] and body["head_block"] == -1
    assert "Connection refused" in body["dependencies"]["chain"]["error"] and body["dependencies"]["store"]["ok"]
    chain.down = False
    assert client.get("/health").json()["status"] == "ok"


def test_relay_outage__store_down__health_503_names_store(client, store):
    store.engine.dispose()
    import sqlalchemy

    # a database that cannot be opened: what a PostgreSQL outage looks like to SQLAlchemy
    store.engine = sqlalchemy.create_engine("sqlite:////nonexistent-dir/relay.db")
    r = client.get("/health")
    assert r.status_code == 503 and r.json()["down"] == ["store"]
    r = client.get("/orders")
    assert r.status_code == 503 and r.json()["code"] == "store_unavailable"


def test_relay_outage__real_rpc_to_dead_node__503_not_500(store, traders):
    """The same through the real `RpcChain`/`Rpc` (a refused TCP connection), not a fake."""
    from matcher_helpers import CHAIN_ID, EXCHANGE

    from devnet.anvil import free_port
    from relay.chainview import RpcChain

    dead = RpcChain(f"http://127.0.0.1:{free_port()}", CHAIN_ID, EXCHANGE, EXCHANGE, head_ttl=0)
    app = create_app(
        RelaySettings(background=False, fill_index=False), chain=dead, store=store, fee_bps=5, start_block=0
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        _assert_503(client.post("/orders", json=wire(make_order(traders[0]), traders[0])))
        assert client.get("/markets/1/book").status_code == 200
        assert client.get("/health").json()["down"] == ["chain"]
