"""Issue 12 point 4: every path, query and body field has a declared range; a violation is a
422 naming the field (never a 500, never a silent bypass of a cap); the websocket closes with
a close frame and a reason; the OpenAPI schema documents every status code a route returns."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from matcher_helpers import make_order, wire
from starlette.websockets import WebSocketDisconnect

from relay.app import create_app
from relay.config import RelaySettings

BIG = 2**63


@pytest.fixture
def client(chain, store):
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _field(r) -> list[str]:
    assert r.status_code == 422, (r.status_code, r.text)
    return [str(e["loc"][-1]) for e in r.json()["detail"]]


@pytest.mark.parametrize(
    "path, params, field",
    [
        (f"/markets/{BIG}/book", {}, "market_id"),
        ("/markets/-1/book", {}, "market_id"),
        ("/markets/abc/book", {}, "market_id"),
        (f"/markets/{BIG}/trades", {}, "market_id"),
        ("/markets/1/book", {"offset": BIG}, "offset"),
        ("/markets/1/book", {"offset": -1}, "offset"),
        ("/markets/1/book", {"limit": -1}, "limit"),
        ("/markets/1/book", {"depth": 0}, "depth"),
        ("/markets/1/trades", {"limit": -1}, "limit"),  # on SQLite LIMIT -1 returned every row
        ("/markets/1/trades", {"limit": 10**6}, "limit"),
        ("/orders", {"limit": -1}, "limit"),
        ("/orders", {"market_id": BIG}, "market_id"),
        ("/orders", {"status": "bogus"}, "status"),
        ("/orders", {"trader": "0x1234"}, "trader"),
        ("/orders/0x1234", {}, "order_hash"),
        ("/orders/" + "0x" + "zz" * 32, {}, "order_hash"),
    ],
)
def test_relay_input_ranges__query_and_path__422_naming_field(client, path, params, field):
    assert field in _field(client.get(path, params=params))


@pytest.mark.parametrize(
    "field, value",
    [
        ("market_id", BIG),
        ("market_id", -1),
        ("quantity", 0),
        ("quantity", BIG),
        ("price", BIG),
        ("price", -BIG),
        ("nonce", -1),
        ("nonce", 2**256),
        ("expiry", 2**256),
        ("signature", "0x" + "11" * 1025),
        ("hash", "0x12"),
    ],
)
def test_relay_input_ranges__body__422_naming_field(client, traders, field, value):
    w = {**wire(make_order(traders[0]), traders[0]), field: value}
    assert field in _field(client.post("/orders", json=w))


def test_relay_input_ranges__in_range_extremes__not_5xx(client, traders):
    w = wire(make_order(traders[0], market_id=2**63 - 1), traders[0])
    r = client.post("/orders", json=w)
    assert r.status_code == 404 and r.json()["code"] == "unknown_market"
    assert client.get(f"/markets/{2**63 - 1}/book").status_code == 200
    assert client.get("/markets/1/book", params={"offset": 1_000_000, "limit": 0}).status_code == 200


@pytest.mark.parametrize("mid, words", [(str(BIG), "out of range"), ("-5", "out of range"), ("x", "not an integer")])
def test_relay_input_ranges__websocket_bad_market__close_frame_with_reason(client, mid, words):
    with client.websocket_connect(f"/ws?market_id={mid}") as ws, pytest.raises(WebSocketDisconnect) as e:
        ws.receive_json()
    assert e.value.code == 1008 and "market_id" in e.value.reason and words in e.value.reason


def test_relay_input_ranges__websocket_good_market__snapshot(client):
    with client.websocket_connect("/ws?market_id=1") as ws:
        assert ws.receive_json()["type"] == "book"


def test_relay_input_ranges__openapi_documents_every_status(client):
    paths = client.get("/openapi.json").json()["paths"]

    def codes(path, method):
        return set(paths[path][method]["responses"])

    assert {"201", "400", "404", "409", "422", "429", "503"} <= codes("/orders", "post")
    assert {"200", "403", "404", "409", "422", "503"} <= codes("/orders/{order_hash}", "delete")
    assert {"200", "404", "422", "503"} <= codes("/orders/{order_hash}", "get")
    assert {"200", "400", "422", "503"} <= codes("/orders", "get")
    assert {"200", "422", "503"} <= codes("/markets/{market_id}/book", "get")
    assert {"200", "422", "503"} <= codes("/markets/{market_id}/trades", "get")
    assert {"200", "503"} <= codes("/health", "get")
    params = {p["name"]: p["schema"] for p in paths["/markets/{market_id}/book"]["get"]["parameters"]}
    assert params["market_id"]["maximum"] == 2**63 - 1 and params["offset"]["minimum"] == 0


def test_relay_input_ranges__body_not_json__400_in_the_error_shape(client):
    """Found by the fuzz run: a body that is not JSON got FastAPI's bare {"detail"} (no code)."""
    r = client.post("/orders", content=b"E[\xff", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json() == {"detail": "There was an error parsing the body", "code": "bad_request"}
    r = client.get("/no-such-route")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
