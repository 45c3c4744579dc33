"""Signed orders at the relay: the typed data and recovery of ``core.eip712`` (one definition,
pinned by the golden vectors), plus what only the relay needs: fast signature verification,
contract-wallet (Safe) refusal reasons and the cancel message.

Signature verification must say exactly what the chain will say. For an account without code
the Exchange runs ``ecrecover(digest, v, r, s)`` (snekmate, low-s only) and compares with
``order.trader``; so does :class:`SignatureVerifier` (``core.eip712.recover_canonical``,
libsecp256k1 through eth_keys' coincurve backend). For a contract account (a Safe) the Exchange
asks the account, EIP-1271 ``isValidSignature(digest, signature)`` with up to
MAX_SIGNATURE_LENGTH bytes; the relay makes the same call (``ChainView.wallet_refusal``,
driven by ``validation.OrderValidator.signature_refusal``).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from core.eip712 import (  # noqa: F401 - the relay's names for the one definition
    INT256_MAX,
    INT256_MIN,
    ORDER_ABI_TUPLE,
    UINT256_MAX,
    Order,
    checksum,
    recover_canonical,
    sign_digest,
)
from core.eip712 import order_domain_separator as domain_separator  # noqa: F401
from core.eip712 import recover as recover_address  # noqa: F401

# Exchange.MAX_SIGNATURE_LENGTH: the longest signature `fill`/`match_orders` pass to a contract
# trader (a Safe: 65 bytes per owner); an EOA's is 65 bytes
MAX_SIGNATURE_LENGTH = 1024


def sign_order(order: Order, key, separator: bytes) -> bytes:
    """Sign `order` with a private key (hex/bytes or LocalAccount): 65 bytes r‖s‖v, v in {27, 28}."""
    return sign_digest(key, order.digest(separator))


# Safe 1.4.1's revert codes (contracts/Safe.sol, CompatibilityFallbackHandler) a trader meets
# when its Safe refuses an order signature, in words
SAFE_ERRORS = {
    "GS020": "signatures too short for the Safe's threshold (65 bytes per owner)",
    "GS021": "a contract-owner signature points inside the signatures' static part",
    "GS022": "a contract-owner signature is out of bounds",
    "GS023": "a contract-owner signature's length is out of bounds",
    "GS024": "a contract owner refused its signature",
    "GS025": "an owner's hash approval is missing",
    "GS026": "a signature is not by an owner of the Safe, or the owners are not in ascending address order",
    "Hash not approved": "empty signature but the Safe has not approved this order on-chain (SignMessageLib)",
}


def explain_wallet_reason(reason: str) -> str:
    """`reason` with a Safe revert code spelt out."""
    for code, words in SAFE_ERRORS.items():
        if reason.endswith(code):
            return f"{reason} ({words})"
    return reason


def cancel_message(order_hash: str) -> str:
    """The EIP-191 text a trader signs to withdraw an order from the relay (not on-chain)."""
    return f"cancel:{order_hash.lower()}"


def address_bytes(address: str) -> bytes | None:
    """The 20 bytes of a 0x-hex address, None if it is not one."""
    try:
        raw = bytes.fromhex(address[2:] if address.startswith(("0x", "0X")) else address)
    except ValueError:
        return None
    return raw if len(raw) == 20 else None


def _recover_chunk(pairs: list[tuple[bytes, bytes]]) -> list[bytes | None]:
    return [recover_canonical(d, s) if len(s) == 65 else None for d, s in pairs]


class SignatureVerifier:
    """Thread-safe `verify(digest, signature, address) -> bool`: ecrecover exactly as the Exchange.

    `recover_many` recovers a batch's signers on `workers` threads: libsecp256k1's recovery
    (~50 µs of CPU, most of an order's validation) runs in C with the GIL released (cffi), so a
    batch uses every core the machine gives the relay while the rest of validation stays on
    one thread."""

    PARALLEL_MIN = 32  # fewer signatures than this: not worth a thread hand-off

    def __init__(self, workers: int | None = None):
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def verify(self, digest: bytes, signature: bytes, address: str) -> bool:
        want = address_bytes(address)
        return want is not None and recover_canonical(digest, signature) == want

    def recover_many(self, pairs: list[tuple[bytes, bytes]]) -> list[bytes | None]:
        """`recover_canonical(digest, signature)` of each (digest, signature), in order (None for
        a signature the contracts' ecrecover refuses, or one that is not 65 bytes)."""
        if self.workers <= 1 or len(pairs) < self.PARALLEL_MIN:
            return _recover_chunk(pairs)
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="relay-ecrecover")
        step = -(-len(pairs) // self.workers)
        out: list[bytes | None] = []
        for part in self._pool.map(_recover_chunk, [pairs[i : i + step] for i in range(0, len(pairs), step)]):
            out += part
        return out
