"""sdk.signing: golden EIP-712 vectors (signed by foundry's cast) and nonce uniqueness."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devnet.anvil import ANVIL_KEYS
from sdk import errors
from sdk.models import Order, SignedOrder
from sdk.signing import (
    NONCE_RANDOM_BITS,
    ORDER_TYPEHASH,
    FileNonce,
    TimeNonce,
    order_digest,
    order_typed_data,
    recover_signer,
    sign_order,
)
from tests.utils.vectors import EIP712_VECTORS, ORDER_VECTORS, TRADER_KEY

VECTORS = EIP712_VECTORS


def test_typehash__matches_vectors_and_design():
    assert VECTORS["order_typehash"] == ORDER_TYPEHASH
    from eth_account import Account

    assert {v["signer"] for v in ORDER_VECTORS} == {Account.from_key(TRADER_KEY).address}


@pytest.mark.parametrize("v", ORDER_VECTORS, ids=[v["note"] for v in ORDER_VECTORS])
def test_sign_order__reproduces_golden_vector(v):
    td = v["typed_data"]
    order = Order.from_json(td["message"])
    dom = td["domain"]
    signed = sign_order(order, TRADER_KEY, dom["chainId"], dom["verifyingContract"])
    assert signed.hash == v["digest"] == order_digest(order, dom["chainId"], dom["verifyingContract"])
    assert signed.signature == v["signature"]
    assert recover_signer(signed, dom["chainId"], dom["verifyingContract"]) == v["signer"]
    # the SDK's typed data is the vector's, field for field
    mine = order_typed_data(order, dom["chainId"], dom["verifyingContract"])
    assert mine["types"] == td["types"] and mine["domain"] == dom
    assert Order.from_json(order.as_json()) == order and order.as_json() == td["message"]


def test_sign_order__other_chain_or_exchange__different_digest():
    v = ORDER_VECTORS[0]
    order = Order.from_json(v["typed_data"]["message"])
    ex = v["typed_data"]["domain"]["verifyingContract"]
    assert order_digest(order, 1, ex) != v["digest"]
    assert order_digest(order, 31337, "0x" + "11" * 20) != v["digest"]


def test_sign_order__trader_not_signer__invalid_order():
    order = Order.from_json(ORDER_VECTORS[0]["typed_data"]["message"])
    with pytest.raises(errors.InvalidOrder, match="not the signing account"):
        sign_order(order, ANVIL_KEYS[5], 31337, "0x" + "11" * 20)


@pytest.mark.parametrize(
    "field,value",
    [("quantity", 0), ("quantity", -1), ("price", 2**255), ("nonce", 2**256), ("expiry", 1.5), ("market_id", True)],
)
def test_order_typed_data__out_of_range__invalid_order(field, value):
    base = Order.from_json(ORDER_VECTORS[0]["typed_data"]["message"])
    bad = Order(**{**base.__dict__, field: value})
    with pytest.raises(errors.InvalidOrder):
        order_typed_data(bad, 31337, "0x" + "11" * 20)


def test_signed_order__json_round_trip():
    v = ORDER_VECTORS[1]
    s = SignedOrder(Order.from_json(v["typed_data"]["message"]), v["signature"], v["digest"])
    assert SignedOrder.from_json(json.loads(json.dumps(s.as_json()))) == s


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**256 - 1), st.integers(-(2**255), 2**255 - 1), st.booleans())
def test_sign_order__any_field_values__recover_trader(nonce, price, is_buy):
    from eth_account import Account

    trader = Account.from_key(TRADER_KEY).address
    o = Order(trader, 3, is_buy, 1, price, nonce, 2**64, False)
    s = sign_order(o, TRADER_KEY, 31337, "0x" + "22" * 20)
    assert recover_signer(s, 31337, "0x" + "22" * 20) == trader


# ---------------------------------------------------------------- nonces


def test_time_nonce__strictly_increasing_even_with_a_frozen_clock():
    n = TimeNonce(clock=lambda: 1_700_000_000_000_000_000)
    xs = [n.next() for _ in range(1000)]
    assert xs == sorted(xs) and len(set(xs)) == 1000


def test_time_nonce__orders_by_time_for_cancel_all():
    t = [1_700_000_000_000_000_000]
    n = TimeNonce(clock=lambda: t[0])
    a = n.next()
    t[0] += 1_000  # one microsecond later
    assert n.next() > a
    assert a >> NONCE_RANDOM_BITS == 1_700_000_000_000_000


def test_file_nonce__increasing_and_persistent(tmp_path):
    path = tmp_path / "nonce"
    a = FileNonce(path, clock=lambda: 0)
    xs = [a.next() for _ in range(10)]
    b = FileNonce(path, clock=lambda: 0)  # another instance (process) continues the counter
    assert xs == list(range(1, 11)) and b.next() == 11


DRAW = """
import sys, time
from sdk.signing import FileNonce, TimeNonce
time.sleep(max(0.0, float(sys.argv[4]) - time.time()))  # all four start drawing at the same instant
src = TimeNonce() if sys.argv[1] == "time" else FileNonce(sys.argv[2])
print("\\n".join(str(src.next()) for _ in range(int(sys.argv[3]))))
"""


@pytest.mark.parametrize("kind", ["time", "file"])
def test_nonces__unique_across_processes(kind, tmp_path):
    """Four separate Python processes draw at the same instant; no value repeats."""
    root = Path(__file__).resolve().parents[3]
    start = str(time.time() + 6)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRAW, kind, str(tmp_path / "nonce"), "2000", start],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    got = [int(x) for p in procs for x in p.communicate(timeout=60)[0].split()]
    assert all(p.returncode == 0 for p in procs)
    assert len(got) == 8000 and len(set(got)) == 8000
