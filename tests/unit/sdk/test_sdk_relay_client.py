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
            return httpx.Response(
                200, json={"bids": [["2480000", "40000"]], "asks": [[2510000, 1000]], "orders": [SIGNED.as_json()]}
            )
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


# ---------------------------------------------------------------- retries: 409 duplicate (issue 12 point 7)


def _duplicate_of(h: str):
    # the relay's exact answer (relay/relay.py, Relay.post): 409 with code "duplicate"
    return httpx.Response(409, json={"detail": f"order {h.lower()} is already known to the relay", "code": "duplicate"})


def test_post_order__retry_after_lost_response__duplicate_is_success():
    """The first POST lands but its answer is lost (timeout): the retry meets 409 duplicate for
    the same hash, which means the relay holds this order, so the retry succeeds."""
    calls = []

    def handler(req):
        calls.append(req)
        if len(calls) == 1:
            raise httpx.ReadTimeout("response lost", request=req)
        return _duplicate_of(SIGNED.hash)

    r = relay(handler)
    with pytest.raises(errors.RelayError, match="unreachable"):
        r.post_order(SIGNED)
    assert r.post_order(SIGNED) == {"hash": SIGNED.hash, "duplicate": True}
    assert len(calls) == 2


def test_post_order__duplicate_of_another_hash__still_an_error():
    """A 409 naming another order is not an acknowledgement of this one: it raises."""
    other = "0x" + "11" * 32
    with pytest.raises(errors.RelayError, match="duplicate") as e:
        relay(lambda req: _duplicate_of(other)).post_order(SIGNED)
    assert e.value.status == 409 and e.value.code == "duplicate"


def test_post_order__refusal__code_detail_and_missing_margin_in_usd():
    body = {
        "detail": "equity would not cover the order",
        "code": "insufficient_margin",
        "missing": "1234560000",
        "free": "0",
        "required": "1234560000",
    }
    with pytest.raises(errors.RelayError) as e:
        relay(lambda req: httpx.Response(400, json=body)).post_order(SIGNED)
    err = e.value
    assert str(err) == (
        "the relay rejected the order (insufficient_margin): equity would not cover the order [missing 1,234.56 USD]"
    )
    assert (err.status, err.code, err.detail, err.missing) == (
        400,
        "insufficient_margin",
        "equity would not cover the order",
        "1234560000",
    )


def test_post_order__non_json_error_body__relay_error_with_text():
    with pytest.raises(errors.RelayError, match="bad gateway") as e:
        relay(lambda req: httpx.Response(502, text="bad gateway")).post_order(SIGNED)
    assert e.value.status == 502 and e.value.code == ""


def test_book__levels_with_order_counts_and_block():
    def handler(req):
        assert req.url.params["depth"] == "20"
        return httpx.Response(
            200,
            json={
                "bids": [["2480000", "40000"]],
                "asks": [],
                "bid_levels": [{"price": "2480000", "quantity": "40000", "orders": 3}],
                "ask_levels": [],
                "orders": [],
                "block": 77,
            },
        )

    b = relay(handler).book(1, depth=20)
    assert b.bids[0].orders == 3 and b.bids[0].price == Decimal("2.48") and b.block == 77 and b.asks == ()


def test_order_statuses__status_remaining_created_at():
    row = {**SIGNED.as_json(), "status": "filled", "remaining": "0", "created_at": 1794333600.5, "reason": ""}

    def handler(req):
        assert req.url.params["status"] == "all" and req.url.params["limit"] == "200"
        return httpx.Response(200, json=[row])

    (o,) = relay(handler).order_statuses(SIGNED.order.trader, status="all", limit=200)
    assert o.signed == SIGNED and o.status == "filled" and o.remaining == 0 and o.created_at == 1794333600.5
