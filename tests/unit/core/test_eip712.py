"""core.eip712: the pinned Order and Report typed data reproduce the golden vectors (signed with
foundry's cast, an independent signer), the hand-built digests equal eth_account's generic
encoder, and signatures the contracts refuse are refused here too."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from core import eip712
from tests.utils.vectors import EIP712_VECTORS, ORDER_VECTORS, REPORT_VECTORS, REPORTER_KEY, TRADER_KEY


def _generic_digest(td: dict) -> bytes:
    sm = encode_typed_data(full_message=td)
    return keccak(b"\x19" + sm.version + sm.header + sm.body)


def _order(msg: dict) -> eip712.Order:
    return eip712.Order(
        msg["trader"],
        int(msg["market_id"]),
        msg["is_buy"],
        int(msg["quantity"]),
        int(msg["price"]),
        int(msg["nonce"]),
        int(msg["expiry"]),
        msg["reduce_only"],
    )


def test_type_strings__typehashes__match_vectors_and_design():
    assert "0x" + eip712.ORDER_TYPEHASH.hex() == EIP712_VECTORS["order_typehash"]
    assert "0x" + eip712.REPORT_TYPEHASH.hex() == EIP712_VECTORS["report_typehash"]
    assert eip712.ORDER_TYPE == (
        "Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,"
        "uint256 nonce,uint256 expiry,bool reduce_only)"
    )
    assert eip712.REPORT_TYPE == "Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)"
    assert {v["signer"] for v in ORDER_VECTORS} == {Account.from_key(TRADER_KEY).address}
    assert {v["signer"] for v in REPORT_VECTORS} == {Account.from_key(REPORTER_KEY).address}


@pytest.mark.parametrize("v", ORDER_VECTORS, ids=[v["note"] for v in ORDER_VECTORS])
def test_order__golden_vector__digest_signature_typed_data_and_recovery(v):
    td, dom = v["typed_data"], v["typed_data"]["domain"]
    o = _order(td["message"])
    d = eip712.order_digest(o, dom["chainId"], dom["verifyingContract"])
    assert "0x" + d.hex() == v["digest"]
    assert o.digest(eip712.order_domain_separator(dom["chainId"], dom["verifyingContract"])) == d
    assert "0x" + eip712.sign_digest(TRADER_KEY, d).hex() == v["signature"]
    assert eip712.recover(d, bytes.fromhex(v["signature"][2:])) == v["signer"]
    mine = eip712.order_typed_data(o, dom["chainId"], dom["verifyingContract"])
    assert mine["types"] == td["types"] and mine["domain"] == dom and mine["primaryType"] == "Order"
    assert {
        k: str(x) if isinstance(x, int) and not isinstance(x, bool) else x for k, x in mine["message"].items()
    } == td["message"]
    assert _generic_digest(mine) == d  # eth_account's encoder agrees with the hand-built one


@pytest.mark.parametrize("v", REPORT_VECTORS, ids=[v["note"] for v in REPORT_VECTORS])
def test_report__golden_vector__digest_signature_typed_data_and_recovery(v):
    td, dom, m = v["typed_data"], v["typed_data"]["domain"], v["typed_data"]["message"]
    feeds, prices, at = m["feed_ids"], [int(p) for p in m["prices"]], int(m["observed_at"])
    d = eip712.report_digest(feeds, prices, at, dom["chainId"], dom["verifyingContract"])
    assert "0x" + d.hex() == v["digest"]
    assert "0x" + eip712.sign_digest(REPORTER_KEY, d).hex() == v["signature"]
    assert eip712.recover(d, bytes.fromhex(v["signature"][2:])) == v["signer"]
    mine = eip712.report_typed_data(feeds, prices, at, dom["chainId"], dom["verifyingContract"])
    assert mine["types"] == td["types"] and mine["domain"] == dom
    assert _generic_digest(mine) == d


def test_digest__other_chain_contract_or_field__differs():
    """Replay across chains, contracts or a changed field is impossible: each moves the digest."""
    v = ORDER_VECTORS[0]
    o, dom = _order(v["typed_data"]["message"]), v["typed_data"]["domain"]
    base = eip712.order_digest(o, dom["chainId"], dom["verifyingContract"])
    assert eip712.order_digest(o, 1, dom["verifyingContract"]) != base
    assert eip712.order_digest(o, dom["chainId"], "0x" + "11" * 20) != base
    for field, value in (("price", o.price + 1), ("reduce_only", not o.reduce_only), ("nonce", o.nonce + 1)):
        assert (
            eip712.order_digest(eip712.Order(**{**o.as_dict(), field: value}), dom["chainId"], dom["verifyingContract"])
            != base
        )
    # an order digest is never a report digest, even under the same contract address
    assert eip712.order_domain_separator(31337, dom["verifyingContract"]) != eip712.report_domain_separator(
        31337, dom["verifyingContract"]
    )


def test_recover__signatures_the_contracts_refuse__none():
    d = bytes(range(32))
    sig = eip712.sign_digest(TRADER_KEY, d)
    assert eip712.recover(d, sig) == Account.from_key(TRADER_KEY).address
    n = eip712.SECP256K1_N
    s = int.from_bytes(sig[32:64], "big")
    high_s = sig[:32] + (n - s).to_bytes(32, "big") + bytes([55 - sig[64]])  # same signer, malleated
    assert eip712.recover(d, high_s) is None  # snekmate refuses high s
    assert eip712.recover(d, sig[:64] + bytes([sig[64] - 27])) is None  # v 0/1: the precompile wants 27/28
    assert eip712.recover(d, sig[:64]) is None and eip712.recover(d, sig + b"\x00") is None
    assert eip712.recover(d, bytes(32) + sig[32:]) is None  # r = 0


@pytest.mark.parametrize(
    "field,value",
    [
        ("quantity", 0),
        ("quantity", -1),
        ("market_id", 2**256),
        ("nonce", True),
        ("price", 2**255),
        ("price", 1.5),
        ("expiry", -1),
    ],
)
def test_order_check__out_of_range__typed_data_error(field, value):
    o = _order(ORDER_VECTORS[0]["typed_data"]["message"])
    with pytest.raises(eip712.TypedDataError, match=field):
        eip712.Order(**{**o.as_dict(), field: value}).check()


def test_report_check__rows_the_oracle_refuses__typed_data_error():
    f = "0x" + "ab" * 32
    for feeds, prices, at, why in (
        ([f, f], [1, 2], 1, "duplicate"),
        ([f], [1, 2], 1, "1 feed ids but 2"),
        (["0x12"], [1], 1, "64 hex"),
        ([f], [2**255], 1, "int256"),
        ([f], [1], -1, "observed_at"),
    ):
        with pytest.raises(eip712.TypedDataError, match=why):
            eip712.report_digest(feeds, prices, at, 31337, "0x" + "11" * 20)
    # unchecked hashing exists only for tests that show the Oracle refusing such rows
    assert eip712.report_struct_hash([f, f], [1, 2], 1, check=False)
