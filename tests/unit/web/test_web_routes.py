"""apps.web.app: every route's answer to hostile input is a 4xx with a typed JSON error (never a
500 or a raw revert), pages get an HTML error page, and SDK errors map to their statuses.
The app is the real one (create_app) over the real Backend; the SDK client and the relay's HTTP
answers are the fakes of conftest.py."""

from __future__ import annotations

import pytest

from apps.web.app import _status
from sdk import errors
from tests.unit.web.conftest import NOW, SPREAD_ID, TRADER

OTHER = "0x" + "99" * 20
ORDER = {
    "trader": TRADER,
    "market_id": str(SPREAD_ID),
    "is_buy": False,
    "quantity": "1000",
    "price": "2352000",
    "nonce": "7",
    "expiry": str(NOW + 3600),
    "reduce_only": False,
}

HOSTILE = [
    # (method, path, json body, status, error type)
    ("GET", "/api/markets/abc", None, 422, "InvalidRequest"),
    ("GET", "/api/markets/999", None, 404, "UnknownMarket"),
    ("GET", "/api/markets/999/book", None, 404, "UnknownMarket"),
    ("GET", "/api/markets/999/trades", None, 404, "UnknownMarket"),
    ("GET", "/api/account/0x123", None, 422, "InvalidAmount"),
    ("GET", "/api/account/%3Cscript%3E", None, 422, "InvalidAmount"),
    ("GET", "/api/account/0x123/history", None, 422, "InvalidAmount"),
    ("GET", "/api/account/0x123/history.csv", None, 422, "InvalidAmount"),
    ("POST", "/api/orders/status", {"orders": 5}, 422, "InvalidOrder"),
    ("POST", "/api/orders/status", {"orders": ["x"]}, 422, "InvalidOrder"),
    ("POST", "/api/orders/status", {"orders": [{**ORDER, "quantity": "-1"}]}, 422, "InvalidOrder"),
    ("POST", "/api/orders/status", [1, 2], 422, "InvalidRequest"),
    ("POST", "/api/hedge/plan", {"count": "abc"}, 422, "InvalidAmount"),
    ("POST", "/api/hedge/plan", {"count": "-1"}, 422, "InvalidAmount"),
    ("POST", "/api/hedge/plan", {"count": "NaN"}, 422, "InvalidAmount"),
    ("POST", "/api/hedge/plan", {"utilisation": "0"}, 422, "InvalidAmount"),
    ("POST", "/api/hedge/plan", {"kw_per_gpu": "-1.2"}, 422, "InvalidAmount"),
    ("POST", "/api/hedge/plan", {"account": "nope", "month": "2026-12"}, 422, "InvalidAmount"),
    ("POST", "/api/hedge/plan", {"month": "2099-01"}, 404, "UnknownMarket"),
    ("POST", "/api/orders/build", {"account": "", "market_id": SPREAD_ID}, 422, "InvalidOrder"),
    ("POST", "/api/orders/build", {"account": TRADER, "market_id": "abc"}, 422, "InvalidOrder"),
    (
        "POST",
        "/api/orders/build",
        {"account": TRADER, "market_id": 999, "side": "buy", "quantity": "1", "price": "1"},
        404,
        "UnknownMarket",
    ),
    (
        "POST",
        "/api/orders/build",
        {"account": TRADER, "market_id": SPREAD_ID, "side": "hold", "quantity": "1", "price": "1"},
        422,
        "InvalidOrder",
    ),
    (
        "POST",
        "/api/orders/build",
        {"account": TRADER, "market_id": SPREAD_ID, "side": "buy", "quantity": "1", "price": "abc"},
        422,
        "InvalidAmount",
    ),
    (
        "POST",
        "/api/orders/build",
        {"account": TRADER, "market_id": SPREAD_ID, "side": "buy", "quantity": "-5", "price": "2"},
        422,
        None,
    ),
    ("POST", "/api/orders", {}, 422, "InvalidOrder"),
    ("POST", "/api/orders", {"order": ORDER, "signature": "0xzz"}, 422, "InvalidOrder"),
    (
        "POST",
        "/api/orders",
        {"order": {**ORDER, "trader": "0xnot"}, "signature": "0x" + "00" * 65},
        422,
        "InvalidOrder",
    ),
    ("POST", "/api/tx/faucet", {"account": "x", "amount": "10"}, 422, "InvalidAmount"),
    ("POST", "/api/tx/faucet", {"account": TRADER, "amount": "-1"}, 422, "InvalidAmount"),
    ("POST", "/api/tx/approve", {"account": TRADER, "amount": "abc"}, 422, "InvalidAmount"),
    ("POST", "/api/tx/deposit", {"account": TRADER, "amount": "0.0000001"}, 422, "InvalidAmount"),
    ("POST", "/api/tx/deposit", {"account": TRADER}, 422, "InvalidAmount"),
    ("POST", "/api/tx/withdraw", {"account": TRADER, "amount": "1e999999"}, 422, "InvalidAmount"),
    ("POST", "/api/tx/withdraw", {"account": None, "amount": "1"}, 422, "InvalidAmount"),
    ("POST", "/api/tx/cancel", {"account": TRADER, "order": {"x": 1}}, 422, "InvalidOrder"),
    ("POST", "/api/tx/cancel", {"account": OTHER, "order": ORDER}, 422, "InvalidOrder"),
    ("POST", "/api/tx/cancel_all", {"account": "0x"}, 422, "InvalidAmount"),
    ("GET", "/api/tx/xyz", None, 400, "ComputeSpreadError"),
]


@pytest.mark.parametrize("method, path, body, status, kind", HOSTILE, ids=[f"{m} {p} {b}" for m, p, b, *_ in HOSTILE])
def test_route__hostile_input__4xx_typed_error_and_nothing_built(
    api, fake_client, fake_relay, method, path, body, status, kind
):
    r = api.request(method, path, json=body)
    assert r.status_code == status, r.text
    j = r.json()
    assert kind is None or j["error"] == kind, j
    assert j["message"] and "Traceback" not in j["message"]
    assert fake_client.sent == [] and fake_relay.posted == []  # no transaction built, nothing posted


def test_route__soft_errors_header__same_body_with_200(api):
    r = api.get("/api/markets/999", headers={"X-Cspread-Soft-Errors": "1"})
    assert r.status_code == 200 and r.json()["status"] == 404 and r.json()["error"] == "UnknownMarket"


@pytest.mark.parametrize(
    "path, status, title",
    [
        ("/markets/999", 404, "Market not found"),
        ("/markets/abc", 404, "Page not found"),
        ("/nowhere", 404, "Page not found"),
    ],
)
def test_page__bad_path__html_error_page(api, path, status, title):
    r = api.get(path, headers={"accept": "text/html"})
    assert r.status_code == status and "text/html" in r.headers["content-type"] and title in r.text


def test_page__markets__renders_every_market(api, fake_client):
    r = api.get("/", headers={"accept": "text/html"})
    assert r.status_code == 200
    assert all(m.symbol in r.text for m in fake_client._markets.values())


def test_page__markets__one_page_of_a_long_listing_with_links(api, fake_client):
    """A standing curve lists hundreds of markets: the home page shows one page (the order and
    filters of /api/markets), says how many there are and links the pages either side."""
    ids = sorted(fake_client._markets)
    r = api.get("/?limit=3", headers={"accept": "text/html"})
    assert r.status_code == 200
    assert r.text.count("<tr data-id=") == 3 and f"Markets 1–3 of {len(ids)}" in r.text
    assert 'id="markets-next" href="/?limit=3&amp;offset=3"' in r.text and "markets-prev" not in r.text
    r = api.get("/?limit=3&offset=3", headers={"accept": "text/html"})
    assert [f'data-id="{i}"' in r.text for i in ids[3:6]] == [True] * len(ids[3:6])
    assert 'id="markets-prev" href="/?limit=3&amp;offset=0"' in r.text
    # a filter narrows the page; a bad one is a 422 page that changes nothing
    r = api.get("/?kind=COMPUTE", headers={"accept": "text/html"})
    assert all(m.symbol in r.text for m in fake_client._markets.values() if m.kind == "COMPUTE")
    assert not any(m.symbol in r.text for m in fake_client._markets.values() if m.kind == "POWER")
    assert api.get("/?limit=0", headers={"accept": "text/html"}).status_code == 422


def test_post_order__relay_refusal_keeps_its_status_and_code(api, fake_relay):
    from eth_account import Account

    from sdk.models import Order
    from sdk.signing import sign_order
    from tests.unit.web.conftest import CHAIN_ID, EXCHANGE

    acct = Account.create()
    s = sign_order(Order.from_json({**ORDER, "trader": acct.address}), acct, CHAIN_ID, EXCHANGE)
    fake_relay.refuse = (400, {"detail": "stale mark", "code": "stale_mark"})
    r = api.post("/api/orders", json=s.as_json())
    assert r.status_code == 400 and r.json()["error"] == "RelayError" and r.json()["details"]["code"] == "stale_mark"
    fake_relay.refuse = None
    assert api.post("/api/orders", json=s.as_json()).status_code == 201


def test_post_order__relay_down__502(api, fake_client):
    import httpx

    from sdk.relay_client import RelayClient

    def down(req):
        raise httpx.ConnectError("refused")

    api.app.state.backend.relay = RelayClient("http://relay.test", transport=httpx.MockTransport(down))
    r = api.get(f"/api/markets/{SPREAD_ID}/book")
    assert r.status_code == 502 and r.json()["error"] == "RelayError" and "unreachable" in r.json()["message"]


@pytest.mark.parametrize(
    "err, status",
    [
        (errors.UnknownMarket("x"), 404),
        (errors.InvalidAmount("x"), 422),
        (errors.InvalidOrder("x"), 422),
        (errors.BelowMinimum("x"), 422),
        (errors.RelayError("x", status=409), 409),
        (errors.RelayError("x", status=None), 502),
        (errors.RelayError("x", status=503), 502),
        (errors.ChainMismatch("x"), 502),
        (errors.InsufficientMargin("x"), 400),
        (errors.StaleMarket("x"), 400),
    ],
)
def test_status__sdk_error_to_http_status(err, status):
    assert _status(err) == status


def test_tx_routes__valid_input__unsigned_txs_for_the_wallet(api, fake_client):
    for path, body in (
        ("/api/tx/faucet", {"amount": "100"}),
        ("/api/tx/approve", {}),
        ("/api/tx/deposit", {"amount": "100"}),
        ("/api/tx/withdraw", {"amount": "1"}),
        ("/api/tx/cancel", {"order": ORDER}),
        ("/api/tx/cancel_all", {}),
    ):
        r = api.post(path, json={"account": TRADER, **body})
        assert r.status_code == 200, (path, r.text)
        (tx,) = r.json()["txs"]
        assert tx["tx"]["from"].lower() == TRADER and tx["tx"]["gas"] == hex(60_000)
    assert [f for f, _ in fake_client.sent] == ["mint", "approve", "deposit", "withdraw", "cancel", "cancel_all"]


def test_page__address_is_markup__escaped_not_run(api):
    r = api.get("/account", params={"address": "<script>alert(1)</script>"}, headers={"accept": "text/html"})
    assert r.status_code == 200 and "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text


def test_ws__market_id_not_a_number__error_message_then_closed(api):
    with api.websocket_connect("/ws?market_id=1%20OR%201") as ws:
        msg = ws.receive_json()
    assert msg["type"] == "error" and "market_id" in msg["message"]


@pytest.mark.parametrize("path", ["/api/info", "/api/markets", "/api/curves", "/api/hedge/options", "/api/health"])
def test_route__no_input__200(api, path):
    assert api.get(path).status_code == 200


@pytest.mark.parametrize("mid", ["-1", str(2**63), "abc", "1.5"])
@pytest.mark.parametrize("route", ["/api/markets/{}", "/api/markets/{}/book", "/api/markets/{}/trades"])
def test_route__market_id_out_of_declared_range__422_naming_field(api, route, mid):
    """Issue 12 point 4: the dashboard 500'd on a negative market id; now a 422 naming it."""
    r = api.get(route.format(mid))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "InvalidRequest" and "market_id" in r.json()["message"]
