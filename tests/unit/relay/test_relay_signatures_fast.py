"""The relay's fast paths in core.eip712 (issue 12, point 8) say exactly what the slow ones say:
`keccak256` (safe-pysha3 straight) equals eth_utils' keccak, and `recover_canonical`
(libsecp256k1 through coincurve, no eth_keys objects) equals eth_keys' recovery on random
signatures, and refuses what the contracts' ecrecover refuses: high s (malleable), v other than
27/28, r or s zero or not below the group order, an r with no curve point, a wrong length."""

from __future__ import annotations

import os

from eth_account import Account
from eth_keys import keys
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from core import eip712

N = eip712.SECP256K1_N


def _eth_keys_recover(digest: bytes, sig: bytes) -> bytes | None:
    """The old path: eth_keys' Signature, after the same contract-side checks."""
    parsed = eip712.split_signature(sig)
    if parsed is None:
        return None
    r, s, v = parsed
    try:
        return keys.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest).to_canonical_address()
    except Exception:  # noqa: BLE001 - BadSignature / ValidationError: refused
        return None


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_keccak256__random_bytes__equals_eth_utils(data):
    assert eip712.keccak256(data) == keccak(data)


@settings(max_examples=60, deadline=None)
@given(key=st.integers(1, N - 1), digest=st.binary(min_size=32, max_size=32))
def test_recover_canonical__random_key_and_digest__equals_eth_keys_and_the_signer(key, digest):
    acct = Account.from_key(key.to_bytes(32, "big"))
    sig = eip712.sign_digest(acct, digest)
    got = eip712.recover_canonical(digest, sig)
    assert got == _eth_keys_recover(digest, sig) == bytes.fromhex(acct.address[2:])


@settings(max_examples=300, deadline=None)
@given(
    digest=st.binary(min_size=32, max_size=32),
    r=st.one_of(st.integers(0, 2**256 - 1), st.sampled_from([0, 1, N - 1, N, N + 1, 2**256 - 1])),
    s=st.one_of(st.integers(0, 2**256 - 1), st.sampled_from([0, 1, N // 2, N // 2 + 1, N - 1, N])),
    v=st.one_of(st.sampled_from([27, 28]), st.integers(0, 255)),
)
def test_recover_canonical__arbitrary_r_s_v__equals_eth_keys(digest, r, s, v):
    # random (mostly invalid) signatures: both paths agree, including on every refusal
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    assert eip712.recover_canonical(digest, sig) == _eth_keys_recover(digest, sig)


def test_recover_canonical__malleable_high_s__refused():
    acct = Account.create()
    digest = os.urandom(32)
    sig = eip712.sign_digest(acct, digest)
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    high = r.to_bytes(32, "big") + (N - s).to_bytes(32, "big") + bytes([55 - v])  # the twin signature
    # the twin is a valid ECDSA signature of the same key (eth_keys recovers it) ...
    assert keys.Signature(vrs=(55 - v - 27, r, N - s)).recover_public_key_from_msg_hash(
        digest
    ).to_canonical_address() == (bytes.fromhex(acct.address[2:]))
    # ... but the contracts refuse high s, and so does the relay's recovery
    assert eip712.recover_canonical(digest, high) is None


def test_recover_canonical__bad_lengths_and_v__refused():
    acct = Account.create()
    digest = os.urandom(32)
    sig = eip712.sign_digest(acct, digest)
    assert eip712.recover_canonical(digest, sig) == bytes.fromhex(acct.address[2:])
    assert eip712.recover_canonical(digest, sig[:64]) is None
    assert eip712.recover_canonical(digest, sig + b"\x00") is None
    assert eip712.recover_canonical(digest, sig[:64] + bytes([sig[64] - 27])) is None  # v 0/1
    assert eip712.recover_canonical(digest[:31], sig) is None  # a digest is 32 bytes
    assert eip712.recover_canonical(digest, bytes(65)) is None


def test_recover_many__same_answers_as_one_by_one_in_order():
    from relay.orders import SignatureVerifier

    accts = [Account.create() for _ in range(3)]
    pairs = []
    for i in range(100):
        d = os.urandom(32)
        sig = eip712.sign_digest(accts[i % 3], d)
        if i % 7 == 0:
            sig = sig[:32] + (N - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big") + bytes([55 - sig[64]])
        if i % 11 == 0:
            sig = sig[:64]  # not 65 bytes
        pairs.append((d, sig))
    want = [eip712.recover_canonical(d, s) for d, s in pairs]
    assert SignatureVerifier(workers=3).recover_many(pairs) == want
    assert SignatureVerifier(workers=1).recover_many(pairs) == want
    assert sum(w is None for w in want) == len([i for i in range(100) if i % 7 == 0 or i % 11 == 0])
