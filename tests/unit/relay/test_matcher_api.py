"""The relay API over a FakeChain: validation outcomes, replays, concurrency, cancel, book."""

from __future__ import annotations

import threading

import pytest
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from matcher_helpers import CHAIN_ID, EXCHANGE, NOW, SEP, USDC, make_order, wire

from relay.app import create_app
from relay.chainview import AccountInfo
from relay.config import RelaySettings
from relay.orders import domain_separator


@pytest.fixture
def client(chain, store):
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=0)
    with TestClient(app) as c:
        yield c


def _post(client, order, acct, sep=SEP):
    return client.post("/orders", json=wire(order, acct, sep))


def test_post__valid_order__201_and_readable(client, traders):
    o = make_order(traders[0])
    r = _post(client, o, traders[0])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["hash"] == "0x" + o.digest(SEP).hex() and body["status"] == "open" and body["remaining"] == "10000"
    assert client.get(f"/orders/{body['hash']}").json()["order"]["price"] == "2500000"
    assert [x["hash"] for x in client.get("/orders", params={"trader": traders[0].address}).json()] == [body["hash"]]


def test_post__sdk_nested_shape_with_string_ints__accepted(client, traders):
    o = make_order(traders[0], nonce=2**70)
    w = wire(o, traders[0])
    sig = w.pop("signature")
    nested = {
        "order": {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in w.items()},
        "signature": sig,
        "hash": "0x" + o.digest(SEP).hex(),
    }
    assert client.post("/orders", json=nested).status_code == 201


@pytest.mark.parametrize(
    "sep",
    [domain_separator(1, EXCHANGE), domain_separator(CHAIN_ID, "0x" + "22" * 20)],
    ids=["wrong_chain", "wrong_contract"],
)
def test_post__signed_for_other_domain__400_bad_signature(client, traders, sep):
    r = _post(client, make_order(traders[0]), traders[0], sep)
    assert r.status_code == 400 and r.json()["code"] == "bad_signature" and "detail" in r.json()


def test_post__signed_by_someone_else__400_bad_signature(client, traders):
    o = make_order(traders[0])
    r = client.post("/orders", json={**wire(o, traders[1])})
    assert r.status_code == 400 and r.json()["code"] == "bad_signature"


def test_post__tampered_field__400_bad_signature(client, traders):
    w = wire(make_order(traders[0]), traders[0])
    w["price"] += 1_000
    assert client.post("/orders", json=w).json()["code"] == "bad_signature"


@pytest.mark.parametrize(
    "sig, words",
    [
        ("0x", "0 bytes"),  # empty is only for a contract wallet that approved on-chain
        ("0x" + "11" * 130, "130 bytes"),  # a multisig's length from an address without code
        # beyond Exchange.MAX_SIGNATURE_LENGTH is outside the schema's declared range: a 422
        # naming the field (test_relay_input_ranges.py)
        ("0xzz", "must be hex"),
    ],
    ids=["empty", "130_bytes_eoa", "not_hex"],
)
def test_post__eoa_signature_of_wrong_shape__400_bad_signature_says_why(client, store, traders, sig, words):
    w = {**wire(make_order(traders[0]), traders[0]), "signature": sig}
    r = client.post("/orders", json=w)
    assert r.status_code == 400 and r.json()["code"] == "bad_signature"
    assert words in r.json()["detail"]
    assert store.query(status=None) == []


def test_post__eoa_compact_signature__400(client, traders):
    # the Exchange takes EIP-2098 64-byte signatures from EOAs; the relay keeps to one form (65)
    o = make_order(traders[0])
    w = wire(o, traders[0])
    raw = bytes.fromhex(w["signature"][2:])
    vs = int.from_bytes(raw[32:64], "big") | ((raw[64] - 27) << 255)
    r = client.post("/orders", json={**w, "signature": "0x" + (raw[:32] + vs.to_bytes(32, "big")).hex()})
    assert r.status_code == 400 and "64 bytes" in r.json()["detail"]


def test_post__replay_of_accepted_order__409(client, traders):
    o = make_order(traders[0])
    assert _post(client, o, traders[0]).status_code == 201
    r = _post(client, o, traders[0])
    assert r.status_code == 409 and r.json()["code"] == "duplicate"


def test_post__replay_of_filled_order__400_filled(client, chain, traders):
    o = make_order(traders[0])
    chain.filled["0x" + o.digest(SEP).hex()] = o.quantity
    assert _post(client, o, traders[0]).json()["code"] == "filled"


def test_post__cancelled_on_chain__400_cancelled(client, chain, traders):
    o = make_order(traders[0])
    chain.cancelled_.add("0x" + o.digest(SEP).hex())
    assert _post(client, o, traders[0]).json()["code"] == "cancelled"


def test_post__below_min_nonce__400(client, chain, traders):
    chain.min_nonces[traders[0].address] = 10**6
    assert _post(client, make_order(traders[0], nonce=5), traders[0]).json()["code"] == "nonce_below_min"


def test_post__expired__400(client, traders):
    assert _post(client, make_order(traders[0], expiry=NOW - 1), traders[0]).json()["code"] == "expired"


@pytest.mark.parametrize(
    "kw,code",
    [
        ({"price": 2_500_500}, "off_tick"),
        ({"quantity": 10_050}, "bad_quantity"),
        ({"quantity": 500}, "bad_quantity"),
        ({"market_id": 9}, "unknown_market"),
    ],
)
def test_post__market_rules__rejected(client, traders, kw, code):
    assert _post(client, make_order(traders[0], **kw), traders[0]).json()["code"] == code


def test_post__stale_mark_or_halted__rejected_unless_reduce_only(client, chain, traders):
    from dataclasses import replace

    chain.markets[1] = replace(chain.markets[1], halted=True)
    assert _post(client, make_order(traders[0]), traders[0]).json()["code"] == "market_halted"
    chain.positions[(traders[0].address, 1)] = 5_000
    assert (
        _post(client, make_order(traders[0], is_buy=False, quantity=5_000, reduce_only=True), traders[0]).status_code
        == 201
    )


def test_post__insufficient_margin__400_says_missing_amount(client, chain, traders):
    chain.accounts[traders[0].address] = AccountInfo(10 * USDC, 10 * USDC, 0, 0, True, 0)
    # 100 GPU-hours at $2.50: IM 100 * (0.40 + 15% * 2.50) = 77.5 USD + fee 0.125 USD
    r = _post(client, make_order(traders[0], quantity=100_000), traders[0])
    assert r.status_code == 400 and r.json()["code"] == "insufficient_margin"
    assert r.json()["missing"] == 77_625_000 - 10 * USDC and "missing 67.63 USD" in r.json()["detail"]


def test_post__open_orders_reserve_margin__per_side_max(client, chain, traders):
    # each 10 GPU-hour order needs 7.7625 USD; 20 USD free holds two buys, not three (a sell is free)
    chain.accounts[traders[0].address] = AccountInfo(20 * USDC, 20 * USDC, 0, 0, True, 0)
    assert _post(client, make_order(traders[0]), traders[0]).status_code == 201
    assert _post(client, make_order(traders[0]), traders[0]).status_code == 201
    assert _post(client, make_order(traders[0], is_buy=False, price=2_600_000), traders[0]).status_code == 201
    assert _post(client, make_order(traders[0]), traders[0]).json()["code"] == "insufficient_margin"


def test_post__concurrent_same_order__exactly_one_accepted(client, traders):
    w = wire(make_order(traders[0]), traders[0])
    codes, barrier = [], threading.Barrier(8)

    def go():
        barrier.wait()
        codes.append(client.post("/orders", json=w).status_code)

    ts = [threading.Thread(target=go) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(codes) == [201] + [409] * 7


def test_post__concurrent_different_orders__all_accepted_distinct_seq(client, traders):
    ws = [wire(make_order(traders[i % 3], price=2_000_000 + i * 1_000), traders[i % 3]) for i in range(24)]
    out, barrier = [], threading.Barrier(8)

    def go(chunk):
        barrier.wait()
        out.extend(client.post("/orders", json=w).json() for w in chunk)

    ts = [threading.Thread(target=go, args=(ws[i::8],)) for i in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert all(o["status"] == "open" for o in out)
    assert len({o["seq"] for o in out}) == 24
    assert len(client.get("/markets/1/book").json()["orders"]) == 24


def test_cancel__signed_by_trader__removed(client, traders):
    h = _post(client, make_order(traders[0]), traders[0]).json()["hash"]
    sig = traders[0].sign_message(encode_defunct(text=f"cancel:{h}")).signature.hex()
    r = client.delete(f"/orders/{h}", headers={"X-Signature": "0x" + sig.removeprefix("0x")})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.get("/markets/1/book").json()["orders"] == []


def test_cancel__wrong_signer_or_unsigned_live__403(client, traders):
    h = _post(client, make_order(traders[0]), traders[0]).json()["hash"]
    bad = traders[1].sign_message(encode_defunct(text=f"cancel:{h}")).signature.hex()
    assert client.delete(f"/orders/{h}", headers={"X-Signature": bad}).status_code == 403
    assert client.delete(f"/orders/{h}").json()["code"] == "cancel_needs_signature"
    assert client.get(f"/orders/{h}").json()["status"] == "open"


def test_cancel__unsigned_after_onchain_cancel__dropped(client, chain, traders):
    h = _post(client, make_order(traders[0]), traders[0]).json()["hash"]
    chain.cancelled_.add(h)
    assert client.delete(f"/orders/{h}").json()["status"] == "cancelled"


def test_book__levels_pairs_and_raw_orders(client, traders):
    for _i, (t, is_buy, p) in enumerate([(0, True, 2_400_000), (1, True, 2_400_000), (2, False, 2_600_000)]):
        assert _post(client, make_order(traders[t], is_buy=is_buy, price=p), traders[t]).status_code == 201
    b = client.get("/markets/1/book").json()
    assert b["bids"] == [["2400000", "20000"]] and b["asks"] == [["2600000", "10000"]]
    assert b["bid_levels"][0]["orders"] == 2 and len(b["orders"]) == 3


def test_openapi__lists_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/orders", "/orders/{order_hash}", "/markets/{market_id}/book", "/markets/{market_id}/trades", "/health"):
        assert p in paths


def test_metrics__counts_results(client, traders):
    _post(client, make_order(traders[0]), traders[0])
    assert 'cspread_relay_orders_posted_total{result="accepted"} 1.0' in client.get("/metrics").text


def test_ws__snapshot_on_connect(client, traders):
    _post(client, make_order(traders[0]), traders[0])
    with client.websocket_connect("/ws?market_id=1") as ws:
        msg = ws.receive_json()
    assert msg["type"] == "book" and msg["book"]["bids"] == [["2500000", "10000"]]


def test_book__raw_orders_paged_per_side(client, traders):
    a = traders[0]
    for i in range(3):
        assert _post(client, make_order(a, is_buy=True, price=2_000_000 - i * 1_000), a).status_code == 201
    b = client.get("/markets/1/book", params={"limit": 2}).json()
    assert b["bid_orders"] == 3 and [o["order"]["price"] for o in b["orders"]] == ["2000000", "1999000"]
    b = client.get("/markets/1/book", params={"limit": 2, "offset": 2}).json()
    assert [o["order"]["price"] for o in b["orders"]] == ["1998000"] and len(b["bids"]) == 3
