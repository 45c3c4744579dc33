"""chain.reverts: the reason out of every shape a revert reaches us in."""

from __future__ import annotations

import pytest
from eth_abi import encode
from web3.exceptions import ContractLogicError

from chain.reverts import (
    ERROR_SELECTOR,
    NO_REASON,
    decode_error_data,
    encode_error,
    is_revert,
    reason_text,
    revert_reason,
    rpc_error_reason,
)

REASON = "Clearinghouse: stale mark"


def test_encode_error__matches_abi_encoding_of_error_string():
    assert encode_error(REASON) == ERROR_SELECTOR + encode(["string"], [REASON])


def test_decode_error_data__error_string_and_panic():
    assert decode_error_data(encode_error(REASON)) == REASON
    panic = bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")
    assert decode_error_data(panic).startswith("panic 0x11")
    assert decode_error_data(b"") is None
    assert decode_error_data(bytes.fromhex("deadbeef") + bytes(64)) is None  # a custom error: not ours to name


def test_decode_error_data__truncated_payload__clamped_not_raising():
    data = encode_error(REASON)
    assert decode_error_data(data[:70]) == REASON[:2]


@pytest.mark.parametrize(
    "shape",
    [
        ContractLogicError("execution reverted", data="0x" + encode_error(REASON).hex()),
        ContractLogicError(f"execution reverted: {REASON}"),
        {"code": 3, "message": "execution reverted", "data": "0x" + encode_error(REASON).hex()},
        {"code": -32000, "message": f"execution reverted: {REASON}"},
        encode_error(REASON),
        "0x" + encode_error(REASON).hex(),
        f"VM Exception while processing transaction: revert: {REASON}",
        f"{{'message': 'execution reverted', 'data': '0x{encode_error(REASON).hex()}'}}",
    ],
)
def test_revert_reason__every_shape(shape):
    assert revert_reason(shape) == REASON


def test_revert_reason__data_wins_over_message():
    e = ContractLogicError("execution reverted: something else", data="0x" + encode_error(REASON).hex())
    assert revert_reason(e) == REASON


def test_revert_reason__known_reason_matched_exactly_inside_decoration():
    text = f"execution reverted: {REASON} (block 12)"
    assert revert_reason(text) == f"{REASON} (block 12)"
    assert revert_reason(text, known=[REASON]) == REASON


def test_revert_reason__none_when_there_is_none():
    assert revert_reason(ContractLogicError("execution reverted", data="0x")) is None
    assert revert_reason("connection refused") is None
    assert revert_reason(None) is None


def test_reason_text__always_text():
    assert reason_text(ContractLogicError("execution reverted", data="0x")) == NO_REASON
    assert reason_text(ValueError("insufficient funds for gas")) == "insufficient funds for gas"
    assert reason_text({"message": "execution reverted"}) == NO_REASON
    assert reason_text("x", default="fallback") == "fallback"


def test_rpc_error_reason__relay_cases():
    payload = "0x08c379a0" + encode(["string"], ["GS026"]).hex()
    assert rpc_error_reason("execution reverted: GS026", payload) == "GS026"
    assert rpc_error_reason("execution reverted", None) == NO_REASON
    assert rpc_error_reason("execution reverted: Hash not approved", "0x") == "Hash not approved"


def test_is_revert__code_3_or_revert_message_only():
    assert is_revert({"code": 3, "message": "x"})
    assert is_revert({"code": -32000, "message": "execution reverted"})
    assert not is_revert({"code": -32000, "message": "nonce too low"})
