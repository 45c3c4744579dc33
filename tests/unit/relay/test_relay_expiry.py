"""Issue 12 point 5: an order whose expiry is not after the pending block's timestamp plus the
minimum time to live is refused, always: no cached head for this check."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from matcher_helpers import NOW, make_order, wire

from relay.app import create_app
from relay.config import RelaySettings


@pytest.fixture
def client(chain, store):
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    with TestClient(app) as c:
        yield c


def test_relay_expiry__next_block_jumps_past_expiry__refused(client, chain, traders):
    # the last block says NOW, but the next block will carry NOW + 1 + 600 (anvil time offset):
    # an order living 300 s past the last block is dead on arrival
    chain.next_block_jump = 600
    r = client.post("/orders", json=wire(make_order(traders[0], expiry=NOW + 300), traders[0]))
    assert r.status_code == 400 and r.json()["code"] == "expired", r.text


@pytest.mark.parametrize("ttl, ok", [(1 + 2, False), (1 + 2 + 1, True)])
def test_relay_expiry__boundary_is_pending_time_plus_min_ttl(client, traders, ttl, ok):
    # pending time NOW + 1, min TTL 2 s: expiry must be > NOW + 3
    r = client.post("/orders", json=wire(make_order(traders[0], expiry=NOW + ttl), traders[0]))
    assert (r.status_code == 201) is ok, r.text


def test_relay_expiry__pending_time_read_on_every_post(chain, store, traders):
    """Not cached: the second post sees the jump that happened after the first."""
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    with TestClient(app) as client:
        assert (
            client.post("/orders", json=wire(make_order(traders[0], expiry=NOW + 300), traders[0])).status_code == 201
        )
        chain.next_block_jump = 600
        r = client.post("/orders", json=wire(make_order(traders[1], expiry=NOW + 300), traders[1]))
        assert r.json()["code"] == "expired"
