"""Revert decoding, done once for the off-chain code.

A revert reaches us in many shapes: a web3 ``ContractLogicError`` (``message`` and ``data``),
a JSON-RPC error object ``{"code": 3, "message": "execution reverted: ...", "data": "0x08c379a0..."}``,
raw ABI-encoded ``Error(string)`` / ``Panic(uint256)`` bytes or hex, or only the node's text
("execution reverted: Clearinghouse: stale mark", "VM Exception ... revert: ..."). The
functions here return the reason string inside any of them. Mapping a reason to an action
(a typed SDK exception, a keeper's retry) is the caller's policy, not this module's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
NO_REASON = "reverted without a reason"

_REASON_IN_TEXT = re.compile(r"(?:execution reverted|reverted|revert):\s*(.+)$", re.IGNORECASE | re.DOTALL)
_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")
_HEX_ONLY = re.compile(r"0x[0-9a-fA-F]*")


def decode_error_data(data: bytes) -> str | None:
    """The reason in ABI-encoded revert data: ``Error(string)`` gives its string, ``Panic(uint256)``
    a readable line with the code; anything else (custom errors, empty data) gives None."""
    if data[:4] == ERROR_SELECTOR and len(data) >= 68:
        # head: offset word (4:36), then the length word (36:68), then the bytes; a length that
        # runs past the payload is clamped (a truncated node message must not raise)
        n = int.from_bytes(data[36:68], "big")
        return data[68 : 68 + n].decode("utf-8", "replace")
    if data[:4] == PANIC_SELECTOR and len(data) >= 36:
        code = int.from_bytes(data[4:36], "big")
        return f"panic 0x{code:02x} (arithmetic overflow/underflow or out-of-bounds)"
    return None


def encode_error(reason: str) -> bytes:
    """``Error(string)`` revert data for ``reason`` (what a contract's ``assert ..., reason`` returns)."""
    raw = reason.encode()
    pad = (-len(raw)) % 32
    return ERROR_SELECTOR + (32).to_bytes(32, "big") + len(raw).to_bytes(32, "big") + raw + bytes(pad)


def _as_bytes(data: Any) -> bytes | None:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str) and _HEX_ONLY.fullmatch(data):
        h = data[2:]
        return bytes.fromhex(h[: len(h) // 2 * 2])
    return None


def revert_reason(error: Any, known: Sequence[str] = ()) -> str | None:
    """The revert reason inside whatever a node or web3 raised, or None when there is none.

    ``error`` may be an exception (its ``data``, ``message`` and ``args`` are searched, in that
    order), a JSON-RPC error dict (``data`` before ``message``), bytes / hex revert data, or
    text. ``known`` reasons (longest first) are matched as substrings of text before anything
    else, so a caller that knows its contracts' reasons gets them exactly even out of a node's
    decorated message."""
    candidates: list[Any] = []
    if isinstance(error, BaseException):
        candidates += [getattr(error, "data", None), getattr(error, "message", None)]
        candidates += list(error.args)
    else:
        candidates.append(error)
    for c in candidates:
        if isinstance(c, dict):
            for k in ("data", "message"):
                if k in c:
                    r = revert_reason(c[k], known)
                    if r:
                        return r
            continue
        b = _as_bytes(c)
        if b is not None:
            r = decode_error_data(b)
            if r:
                return r
            continue
        if isinstance(c, str):
            for k in known:
                if k in c:
                    return k
            for m in _HEX.finditer(c):
                h = m.group(0)[2:]
                r = decode_error_data(bytes.fromhex(h[: len(h) // 2 * 2]))
                if r:
                    return r
            m = _REASON_IN_TEXT.search(c)
            if m and m.group(1).strip():
                return m.group(1).strip().strip("'\"")
    return None


def reason_text(error: Any, default: str | None = None) -> str:
    """Like :func:`revert_reason` but always text for a log line or a reject reason: the decoded
    reason, else ``default``, else the error's own message without the "execution reverted" noise."""
    r = revert_reason(error)
    if r:
        return r
    if default is not None:
        return default
    if isinstance(error, dict):
        msg = str(error.get("message", ""))
    elif isinstance(error, BaseException):
        msg = str(getattr(error, "message", None) or (error.args[0] if error.args else error))
    else:
        msg = str(error)
    return msg.removeprefix("execution reverted").lstrip(": ").strip() or NO_REASON


def rpc_error_reason(message: str, data: Any) -> str:
    """Reason of a JSON-RPC error (``message``, ``data``) for an ``eth_call`` that reverted."""
    return reason_text({"message": message, "data": data})


def is_revert(err: dict) -> bool:
    """True when a JSON-RPC error object means "the EVM reverted" (code 3, or a node's revert
    message), as opposed to the node failing to answer."""
    msg = str(err.get("message", "")).lower()
    return err.get("code") == 3 or "revert" in msg
