"""EIP-712 order signing and order nonces.

Type (DESIGN §4, pinned by tests/fixtures/eip712.json signed with foundry's cast):

    Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,
          uint256 nonce,uint256 expiry,bool reduce_only)

under ``{name: "ComputeSpread", version: "1", chainId, verifyingContract: Exchange}``. The
digest equals ``Exchange.order_hash(order)``; any EIP-712 signer produces the same signature.

Nonces: :class:`TimeNonce` (the default) issues ``microseconds_since_epoch << 40 | 40 random
bits``, strictly increasing within a process (a lock bumps a repeat to last + 1). Why: unique
across processes and machines with no shared state (two processes collide only when they draw
the same 40 random bits in the same microsecond, p = 2**-40 per such pair; ~91 bits
in all, far inside uint256, so store nonces as text or numeric, not int64), and increasing in
time, so ``cancel_all`` with a fresh nonce as the new minimum kills every order issued before
it and none issued after. :class:`FileNonce` is a file-locked counter for callers who need
strict uniqueness across processes on one machine (e.g. many bots sharing a key); its values
start from the same time base so they interleave with :class:`TimeNonce` safely.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from sdk.errors import InvalidOrder
from sdk.models import Order, SignedOrder
from core.units import INT256_MAX, INT256_MIN, UINT256_MAX

DOMAIN_NAME = "ComputeSpread"
DOMAIN_VERSION = "1"
ORDER_TYPE = ("Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,uint256 nonce,"
              "uint256 expiry,bool reduce_only)")
ORDER_TYPEHASH = "0x" + keccak(text=ORDER_TYPE).hex()
EIP712_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Order": [
        {"name": "trader", "type": "address"},
        {"name": "market_id", "type": "uint256"},
        {"name": "is_buy", "type": "bool"},
        {"name": "quantity", "type": "uint256"},
        {"name": "price", "type": "int256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "expiry", "type": "uint256"},
        {"name": "reduce_only", "type": "bool"},
    ],
}
NONCE_RANDOM_BITS = 40


def _check(order: Order) -> None:
    for name in ("market_id", "quantity", "nonce", "expiry"):
        v = getattr(order, name)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= UINT256_MAX:
            raise InvalidOrder(f"order.{name} must be a uint256 int, got {v!r}")
    if isinstance(order.price, bool) or not isinstance(order.price, int) or not INT256_MIN <= order.price <= INT256_MAX:
        raise InvalidOrder(f"order.price must be an int256 in base units, got {order.price!r}")
    if order.quantity == 0:
        raise InvalidOrder("order.quantity must be positive")


def order_typed_data(order: Order, chain_id: int, exchange: str) -> dict[str, Any]:
    """The full EIP-712 typed data (eth_account ``full_message`` form)."""
    _check(order)
    msg = order.as_message()
    msg["trader"] = to_checksum_address(order.trader)
    return {
        "types": EIP712_TYPES,
        "primaryType": "Order",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": int(chain_id),
                   "verifyingContract": to_checksum_address(exchange)},
        "message": msg,
    }


def order_digest(order: Order, chain_id: int, exchange: str) -> str:
    """0x + the 32-byte digest (= ``Exchange.order_hash(order)``)."""
    sm = encode_typed_data(full_message=order_typed_data(order, chain_id, exchange))
    return "0x" + keccak(b"\x19" + sm.version + sm.header + sm.body).hex()


def sign_order(order: Order, account: Any, chain_id: int, exchange: str) -> SignedOrder:
    """Sign with an eth_account ``LocalAccount`` (or a private key). The trader must be the signer."""
    acct = Account.from_key(account) if isinstance(account, (str, bytes)) else account
    if acct.address.lower() != order.trader.lower():
        raise InvalidOrder(f"order.trader {order.trader} is not the signing account {acct.address}")
    td = order_typed_data(order, chain_id, exchange)
    signed = acct.sign_message(encode_typed_data(full_message=td))
    return SignedOrder(order, "0x" + bytes(signed.signature).hex(), "0x" + bytes(signed.message_hash).hex())


def recover_signer(signed: SignedOrder, chain_id: int, exchange: str) -> str:
    sm = encode_typed_data(full_message=order_typed_data(signed.order, chain_id, exchange))
    return Account.recover_message(sm, signature=signed.signature)


# ---------------------------------------------------------------- nonces


class NonceSource(Protocol):
    def next(self) -> int: ...


class TimeNonce:
    """``time_us << 40 | random40``, strictly increasing per instance. Thread-safe."""

    def __init__(self, clock=time.time_ns):
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            n = ((self._clock() // 1000) << NONCE_RANDOM_BITS) | secrets.randbits(NONCE_RANDOM_BITS)
            if n <= self._last:
                n = self._last + 1
            self._last = n
            return n


class FileNonce:
    """A counter in ``path`` under ``fcntl.flock``: unique across processes on one machine.

    Each value is max(stored + 1, time-based nonce), so it stays compatible with
    ``cancel_all``'s "below the minimum is dead" rule and with :class:`TimeNonce`. Thread-safe.
    """

    def __init__(self, path: str | Path, clock=time.time_ns):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.read(fd, 100).strip()
                last = int(raw) if raw else 0
                n = max(last + 1, (self._clock() // 1000) << NONCE_RANDOM_BITS)
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, str(n).encode())
                # no fsync: after a crash the time base alone keeps new values above old ones
                return n
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
