"""EIP-712 digest pinned by the golden vectors; the fast verifier agrees with ecrecover."""

from __future__ import annotations

import os

import pytest
from eth_account import Account

from relay.orders import Order, SignatureVerifier, domain_separator, recover_address, sign_order
from tests.utils.vectors import ORDER_VECTORS


@pytest.mark.parametrize("vec", ORDER_VECTORS, ids=lambda v: v["note"])
def test_digest__golden_vector__matches_and_verifies(vec):
    td, m = vec["typed_data"], vec["typed_data"]["message"]
    o = Order(
        m["trader"],
        int(m["market_id"]),
        m["is_buy"],
        int(m["quantity"]),
        int(m["price"]),
        int(m["nonce"]),
        int(m["expiry"]),
        m["reduce_only"],
    )
    digest = o.digest(domain_separator(td["domain"]["chainId"], td["domain"]["verifyingContract"]))
    assert "0x" + digest.hex() == vec["digest"]
    sig = bytes.fromhex(vec["signature"][2:])
    assert recover_address(digest, sig) == vec["signer"]
    assert SignatureVerifier().verify(digest, sig, vec["signer"])


def test_verify__fast_path__agrees_with_ecrecover_on_good_flipped_and_foreign_signatures():
    v = SignatureVerifier()
    acct, other = Account.create(), Account.create()
    sep = domain_separator(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    for i in range(40):
        o = Order(acct.address, 1, bool(i % 2), 1_000 + i, -5_000_000 + i, i, 2**40)
        sig = sign_order(o, acct, sep)
        d = o.digest(sep)
        assert v.verify(d, sig, acct.address)  # first: slow path, then cached fast path
        flipped = sig[:64] + bytes([55 - sig[64]])  # 27 <-> 28: ecrecover gives another address
        assert not v.verify(d, flipped, acct.address)
        assert not v.verify(d, sign_order(o, other, sep), acct.address)
        assert not v.verify(os.urandom(32), sig, acct.address)


def test_verify__high_s_or_bad_v__rejected_like_snekmate():
    acct = Account.create()
    sep = domain_separator(1, "0x" + "11" * 20)
    o = Order(acct.address, 1, True, 1, 1, 1, 1)
    sig = sign_order(o, acct, sep)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(sig[32:64], "big")
    high = sig[:32] + (n - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    assert recover_address(o.digest(sep), high) is None
    assert not SignatureVerifier().verify(o.digest(sep), sig[:64] + bytes([sig[64] - 27]), acct.address)


def test_revert_reason__error_string_payload__decoded():
    from eth_abi import encode

    from chain.reverts import rpc_error_reason as revert_reason

    payload = "0x08c379a0" + encode(["string"], ["GS026"]).hex()
    assert revert_reason("execution reverted: GS026", payload) == "GS026"
    assert revert_reason("execution reverted", None) == "reverted without a reason"
    assert revert_reason("execution reverted: Hash not approved", "0x") == "Hash not approved"


def test_explain_wallet_reason__safe_codes_spelt_out():
    from relay.orders import explain_wallet_reason

    assert "threshold" in explain_wallet_reason("isValidSignature reverted: GS020")
    assert "not by an owner" in explain_wallet_reason("isValidSignature reverted: GS026")
    assert explain_wallet_reason("isValidSignature reverted: custom") == "isValidSignature reverted: custom"
