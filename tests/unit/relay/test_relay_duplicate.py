"""Issue 12 point 7, end to end: the SDK's RelayClient against the real relay app. A retried post
(the 409 `duplicate` of the same order) is success; the relay's 503 reaches the SDK as a typed
RelayError with its code and retry hint."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from matcher_helpers import CHAIN_ID, EXCHANGE, make_order, wire
from test_relay_outage import FlakyChain

from relay.app import create_app
from relay.config import RelaySettings
from sdk.errors import RelayError
from sdk.models import SignedOrder
from sdk.relay_client import RelayClient


@pytest.fixture
def chain():
    return FlakyChain()


@pytest.fixture
def sdk(chain, store):
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    tc = TestClient(app)
    c = RelayClient("http://testserver", transport=tc._transport)
    yield c
    c.close()


def _signed(acct) -> SignedOrder:
    o = make_order(acct)
    w = wire(o, acct)
    sig = w.pop("signature")
    from relay.orders import domain_separator

    return SignedOrder.from_json(
        {"order": w, "signature": sig, "hash": "0x" + o.digest(domain_separator(CHAIN_ID, EXCHANGE)).hex()}
    )


def test_relay_duplicate__retried_post_is_success(sdk, traders):
    s = _signed(traders[0])
    first = sdk.post_order(s)
    assert first["hash"] == s.hash and first["status"] == "open"
    assert sdk.post_order(s) == {"hash": s.hash, "duplicate": True}  # the retry after a lost answer


def test_relay_duplicate__chain_down__typed_503_with_retry_hint(sdk, chain, traders):
    chain.down = True
    with pytest.raises(RelayError) as e:
        sdk.post_order(_signed(traders[1]))
    assert e.value.status == 503 and e.value.code == "chain_unavailable" and e.value.details["retry_after"] == "5"
