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

from core import eip712
from sdk.errors import InvalidOrder
from sdk.models import Order, SignedOrder

# the one definition lives in core.eip712; these names are the SDK's public API
DOMAIN_NAME = eip712.ORDER_DOMAIN_NAME
DOMAIN_VERSION = eip712.DOMAIN_VERSION
ORDER_TYPE = eip712.ORDER_TYPE
ORDER_TYPEHASH = "0x" + eip712.ORDER_TYPEHASH.hex()
EIP712_TYPES = eip712.ORDER_TYPES
NONCE_RANDOM_BITS = 40


def _check(order: Order) -> None:
    try:
        order.check()
    except eip712.TypedDataError as e:
        raise InvalidOrder(str(e)) from None


def order_typed_data(order: Order, chain_id: int, exchange: str) -> dict[str, Any]:
    """The full EIP-712 typed data (eth_account ``full_message`` form)."""
    _check(order)
    return eip712.order_typed_data(order, chain_id, exchange)


def order_digest(order: Order, chain_id: int, exchange: str) -> str:
    """0x + the 32-byte digest (= ``Exchange.order_hash(order)``)."""
    _check(order)
    return "0x" + eip712.order_digest(order, chain_id, exchange).hex()


def sign_order(order: Order, account: Any, chain_id: int, exchange: str) -> SignedOrder:
    """Sign with an eth_account ``LocalAccount`` (or a private key). The trader must be the signer."""
    acct = Account.from_key(account) if isinstance(account, (str, bytes)) else account
    if acct.address.lower() != order.trader.lower():
        raise InvalidOrder(f"order.trader {order.trader} is not the signing account {acct.address}")
    h = order_digest(order, chain_id, exchange)
    return SignedOrder(order, "0x" + eip712.sign_digest(acct, bytes.fromhex(h[2:])).hex(), h)


def recover_signer(signed: SignedOrder, chain_id: int, exchange: str) -> str:
    """The address the Exchange's ecrecover finds for ``signed`` (InvalidOrder if it refuses it)."""
    sig = bytes.fromhex(signed.signature[2:] if signed.signature.startswith("0x") else signed.signature)
    who = eip712.recover(bytes.fromhex(order_digest(signed.order, chain_id, exchange)[2:]), sig)
    if who is None:
        raise InvalidOrder("signature is not a 65-byte low-s ECDSA signature the Exchange accepts")
    return who


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
