"""sdk.relay_client: the relay's HTTP interface, against an httpx mock transport."""
from __future__ import annotations

import json

from decimal import Decimal

import httpx
import pytest

from sdk import errors
from sdk.models import Order, SignedOrder
from sdk.relay_client import RelayClient
from tests.utils.vectors import EIP712_VECTORS

V = EIP712_VECTORS["vectors"][0]
SIGNED = SignedOrder(Order.from_json(V["typed_data"]["message"]), V["signature"], V["digest"])


def relay(handler) -> RelayClient:
    return RelayClient("http://relay.test", transport=httpx.MockTransport(handler))


def test_post_order__sends_signed_order_json():
    seen = {}

    def handler(req: httpx.Request):
        seen["method"], seen["path"], seen["body"] = req.method, req.url.path, json.loads(req.content)
        return httpx.Response(201, json={"hash": SIGNED.hash})

    assert relay(handler).post_order(SIGNED) == {"hash": SIGNED.hash}
    assert seen["method"] == "POST" and seen["path"] == "/orders"
    assert SignedOrder.from_json(seen["body"]) == SIGNED


def test_cancel__delete_with_signature_header():
    def handler(req):
        assert req.method == "DELETE" and req.url.path == f"/orders/{SIGNED.hash}"
        assert req.headers["X-Signature"] == "0xsig"
        return httpx.Response(204)

    assert relay(handler).cancel(SIGNED.hash, "0xsig") == {}


def test_book_trades_orders__parsed():
    def handler(req):
        if req.url.path == "/markets/1/book":
            return httpx.Response(200, json={"bids": [["2480000", "40000"]], "asks": [[2510000, 1000]],
                                             "orders": [SIGNED.as_json()]})
        if req.url.path == "/markets/1/trades":
            return httpx.Response(200, json=[{"price": 2480000, "quantity": 1000}])
        assert req.url.path == "/orders" and req.url.params["trader"] == SIGNED.order.trader
        return httpx.Response(200, json=[SIGNED.as_json()])

    r = relay(handler)
    book = r.book(1)
    assert book.best_bid.price == Decimal("2.48") and book.best_bid.quantity == 40 and book.orders == (SIGNED,)
    assert book.best_ask.price_units == 2_510_000
    assert r.trades(1)[0]["price"] == 2480000
    assert r.orders(SIGNED.order.trader) == [SIGNED]


def test_relay_4xx__relay_error_with_detail():
    r = relay(lambda req: httpx.Response(422, json={"detail": "bad signature"}))
    with pytest.raises(errors.RelayError, match="bad signature") as e:
        r.post_order(SIGNED)
    assert e.value.status == 422 and isinstance(e.value, RuntimeError)


def test_relay_unreachable__relay_error_says_fill_on_chain():
    def handler(req):
        raise httpx.ConnectError("refused")

    with pytest.raises(errors.RelayError, match="on-chain"):
        relay(handler).book(1)
