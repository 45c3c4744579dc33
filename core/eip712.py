"""The EIP-712 typed data the contracts verify, defined once: the ``Order`` the Exchange fills and
the ``Report`` the Oracle accepts (DESIGN §4). Pinned: other people's tools sign these (a
hardware wallet, ``cast wallet sign --data``, a Safe), so the type strings and domains never
change; ``tests/fixtures/eip712.json`` (signed with foundry's cast, an independent signer) pins
every digest and signature here.

    Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,uint256 nonce,uint256 expiry,bool reduce_only)
        domain {name: "ComputeSpread", version: "1", chainId, verifyingContract: Exchange}
    Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)
        domain {name: "ComputeSpread Oracle", version: "1", chainId, verifyingContract: Oracle}

Digests are encoded by hand from the type strings (a few microseconds; the relay hashes every
order it sees) rather than through a generic typed-data encoder; ``typed_data`` gives the full
JSON form a wallet signs, and the tests check both give the same digest. Signature recovery is
the contracts' (snekmate ``ecrecover``): 65 bytes r‖s‖v, v in {27, 28}, low s only.

The relay hashes and recovers every order it is sent (thousands a second), so both go straight
to the C libraries: keccak-256 from safe-pysha3 (``eth_utils.keccak`` dispatches on argument
types and reaches pycryptodome through ctypes: ~5x the hash itself) and recovery from
libsecp256k1 through coincurve (eth_keys' ``Signature``/``PublicKey`` objects around the same
call cost as much again). ``tests/unit/relay/test_relay_signatures_fast.py`` checks both against
eth_utils / eth_keys on random and on malleable or invalid input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

from coincurve import PublicKey as _PublicKey
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from sha3 import keccak_256 as _keccak_256

DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
ORDER_TYPE = (
    "Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,uint256 nonce,"
    "uint256 expiry,bool reduce_only)"
)
REPORT_TYPE = "Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)"
DOMAIN_TYPEHASH = keccak(text=DOMAIN_TYPE)
ORDER_TYPEHASH = keccak(text=ORDER_TYPE)
REPORT_TYPEHASH = keccak(text=REPORT_TYPE)

ORDER_DOMAIN_NAME = "ComputeSpread"
REPORT_DOMAIN_NAME = "ComputeSpread Oracle"
DOMAIN_VERSION = "1"

# the same types in the JSON form wallets take (eth_signTypedData_v4, cast wallet sign --data)
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
ORDER_FIELDS = [
    {"name": "trader", "type": "address"},
    {"name": "market_id", "type": "uint256"},
    {"name": "is_buy", "type": "bool"},
    {"name": "quantity", "type": "uint256"},
    {"name": "price", "type": "int256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "expiry", "type": "uint256"},
    {"name": "reduce_only", "type": "bool"},
]
REPORT_FIELDS = [
    {"name": "feed_ids", "type": "bytes32[]"},
    {"name": "prices", "type": "int256[]"},
    {"name": "observed_at", "type": "uint256"},
]
ORDER_TYPES = {"EIP712Domain": DOMAIN_FIELDS, "Order": ORDER_FIELDS}
REPORT_TYPES = {"EIP712Domain": DOMAIN_FIELDS, "Report": REPORT_FIELDS}
# the Order struct as an ABI tuple (selectors, calldata)
ORDER_ABI_TUPLE = "(address,uint256,bool,uint256,int256,uint256,uint256,bool)"

UINT256_MAX = 2**256 - 1
INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1
# secp256k1 order: the contracts refuse s above half of it (malleability)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def keccak256(data: bytes) -> bytes:
    """keccak-256 of ``data`` (bytes only), straight from the C implementation."""
    return _keccak_256(data).digest()


# memoised: a keccak per call, and the relay and keepers see the same traders again and again
checksum = lru_cache(maxsize=65_536)(to_checksum_address)


class TypedDataError(ValueError):
    """A value that does not fit the pinned type (the field is named; nothing is signed)."""


def _u256(x: int) -> bytes:
    return int(x).to_bytes(32, "big")


def _i256(x: int) -> bytes:
    return int(x).to_bytes(32, "big", signed=True)


def _addr(a: str) -> bytes:
    raw = bytes.fromhex(a[2:] if a.startswith(("0x", "0X")) else a)
    if len(raw) != 20:
        raise TypedDataError(f"address {a!r} is not 20 bytes")
    return bytes(12) + raw


def domain_separator(name: str, chain_id: int, verifying_contract: str) -> bytes:
    """keccak(EIP712Domain(name, "1", chainId, verifyingContract))."""
    return keccak(
        DOMAIN_TYPEHASH + keccak(text=name) + keccak(text=DOMAIN_VERSION) + _u256(chain_id) + _addr(verifying_contract)
    )


def order_domain_separator(chain_id: int, exchange: str) -> bytes:
    return domain_separator(ORDER_DOMAIN_NAME, chain_id, exchange)


def report_domain_separator(chain_id: int, oracle: str) -> bytes:
    return domain_separator(REPORT_DOMAIN_NAME, chain_id, oracle)


def digest(separator: bytes, struct_hash: bytes) -> bytes:
    """The EIP-712 digest keccak(0x1901 ‖ domain separator ‖ struct hash)."""
    return _keccak_256(b"\x19\x01" + separator + struct_hash).digest()


def domain(name: str, chain_id: int, verifying_contract: str) -> dict:
    """The EIP712Domain values in the JSON form wallets take."""
    return {
        "name": name,
        "version": DOMAIN_VERSION,
        "chainId": int(chain_id),
        "verifyingContract": to_checksum_address(verifying_contract),
    }


# ---------------------------------------------------------------- Order


@dataclass(frozen=True)
class Order:
    """The signed struct, in chain units: quantity in thousandths of a unit, price in collateral
    base units per unit (may be negative), expiry in unix seconds."""

    trader: str
    market_id: int
    is_buy: bool
    quantity: int
    price: int
    nonce: int
    expiry: int
    reduce_only: bool = False

    def check(self) -> None:
        """TypedDataError unless every field fits its EIP-712 type (and quantity > 0)."""
        _addr(self.trader)
        for name in ("market_id", "quantity", "nonce", "expiry"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= UINT256_MAX:
                raise TypedDataError(f"order.{name} must be a uint256 int, got {v!r}")
        p = self.price
        if isinstance(p, bool) or not isinstance(p, int) or not INT256_MIN <= p <= INT256_MAX:
            raise TypedDataError(f"order.price must be an int256 in base units, got {p!r}")
        if self.quantity == 0:
            raise TypedDataError("order.quantity must be positive")

    def struct_hash(self) -> bytes:
        return keccak256(
            ORDER_TYPEHASH
            + _addr(self.trader)
            + _u256(self.market_id)
            + _u256(int(self.is_buy))
            + _u256(self.quantity)
            + _i256(self.price)
            + _u256(self.nonce)
            + _u256(self.expiry)
            + _u256(int(self.reduce_only))
        )

    def digest(self, separator: bytes) -> bytes:
        """The EIP-712 digest under a domain separator (= ``Exchange.order_hash(order)``)."""
        return digest(separator, self.struct_hash())

    def as_tuple(self) -> tuple:
        """The ABI tuple web3 / eth_abi take for the ``Order`` struct argument."""
        return (
            checksum(self.trader),
            self.market_id,
            self.is_buy,
            self.quantity,
            self.price,
            self.nonce,
            self.expiry,
            self.reduce_only,
        )

    def as_dict(self) -> dict:
        """Field name -> value (the relay's wire form, plus a signature)."""
        return asdict(self)

    as_message = as_dict

    def typed_data(self, chain_id: int, exchange: str) -> dict:
        """Full EIP-712 typed data (what a wallet or ``cast wallet sign --data`` signs)."""
        return order_typed_data(self, chain_id, exchange)


def order_typed_data(order: Order, chain_id: int, exchange: str) -> dict:
    msg = {f["name"]: getattr(order, f["name"]) for f in ORDER_FIELDS}
    msg["trader"] = to_checksum_address(order.trader)
    return {
        "types": ORDER_TYPES,
        "primaryType": "Order",
        "domain": domain(ORDER_DOMAIN_NAME, chain_id, exchange),
        "message": msg,
    }


def order_digest(order: Order, chain_id: int, exchange: str) -> bytes:
    """The 32-byte digest ``Exchange.order_hash(order)`` returns on ``chain_id`` at ``exchange``."""
    return order.digest(order_domain_separator(chain_id, exchange))


# ---------------------------------------------------------------- Report


def feed_bytes(f: bytes | str) -> bytes:
    """A feed id as 32 bytes (from 0x + 64 hex digits or bytes)."""
    if isinstance(f, str):
        if not re.fullmatch(r"0x[0-9a-fA-F]{64}", f):
            raise TypedDataError(f"feed id must be 0x + 64 hex digits, got {f!r}")
        return bytes.fromhex(f[2:])
    b = bytes(f)
    if len(b) != 32:
        raise TypedDataError(f"feed id must be 32 bytes, got {len(b)}")
    return b


def check_report(feed_ids: Sequence[bytes | str], prices: Sequence[int], observed_at: int) -> list[bytes]:
    """The feed ids as bytes; TypedDataError for a row the Oracle would refuse to hash or accept."""
    feeds = [feed_bytes(f) for f in feed_ids]
    if len(feeds) != len(prices):
        raise TypedDataError(f"{len(feeds)} feed ids but {len(prices)} prices")
    if len(set(feeds)) != len(feeds):
        raise TypedDataError("duplicate feed id in report")
    for p in prices:
        if isinstance(p, bool) or not isinstance(p, int) or not INT256_MIN <= p <= INT256_MAX:
            raise TypedDataError(f"price must be an int256 in base units, got {p!r}")
    if isinstance(observed_at, bool) or not isinstance(observed_at, int) or not 0 <= observed_at <= UINT256_MAX:
        raise TypedDataError(f"observed_at must be a non-negative int (unix seconds), got {observed_at!r}")
    return feeds


def report_struct_hash(
    feed_ids: Sequence[bytes | str], prices: Sequence[int], observed_at: int, check: bool = True
) -> bytes:
    """hashStruct(Report). ``check=False`` hashes rows the Oracle will refuse (duplicates, length
    mismatch), for tests that show it refusing them."""
    feeds = check_report(feed_ids, prices, observed_at) if check else [feed_bytes(f) for f in feed_ids]
    return keccak(
        REPORT_TYPEHASH + keccak(b"".join(feeds)) + keccak(b"".join(_i256(p) for p in prices)) + _u256(observed_at)
    )


def report_typed_data(
    feed_ids: Sequence[bytes | str], prices: Sequence[int], observed_at: int, chain_id: int, oracle: str
) -> dict:
    feeds = check_report(feed_ids, prices, observed_at)
    return {
        "types": REPORT_TYPES,
        "primaryType": "Report",
        "domain": domain(REPORT_DOMAIN_NAME, chain_id, oracle),
        "message": {"feed_ids": feeds, "prices": list(prices), "observed_at": observed_at},
    }


def report_digest(
    feed_ids: Sequence[bytes | str], prices: Sequence[int], observed_at: int, chain_id: int, oracle: str
) -> bytes:
    """The 32-byte digest ``Oracle.submit`` recovers each reporter from."""
    return digest(report_domain_separator(chain_id, oracle), report_struct_hash(feed_ids, prices, observed_at))


# ---------------------------------------------------------------- signatures


def sign_digest(key, digest_: bytes) -> bytes:
    """65 bytes r‖s‖v (v in {27, 28}, low s) over a 32-byte digest; ``key`` is a private key
    (hex / bytes) or an eth_account ``LocalAccount``."""
    acct = key if hasattr(key, "unsafe_sign_hash") else Account.from_key(key)
    return bytes(acct.unsafe_sign_hash(digest_).signature)


def split_signature(signature: bytes) -> tuple[int, int, int] | None:
    """(r, s, v in {0, 1}) of a signature the contracts' ecrecover accepts, else None: 65 bytes,
    v 27 or 28 (the precompile takes no other), 0 < r < n, 0 < s <= n/2 (snekmate refuses high s)."""
    if len(signature) != 65:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64] - 27
    if v not in (0, 1) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        return None
    return r, s, v


def recover_canonical(digest_: bytes, signature: bytes) -> bytes | None:
    """The 20 signer address bytes as the contracts' ecrecover finds them; None if they refuse it."""
    parsed = split_signature(signature)
    if parsed is None:
        return None
    try:
        # libsecp256k1's recovery, as eth_keys' coincurve backend calls it, without its wrappers
        pub = _PublicKey.from_signature_and_message(bytes(signature[:64]) + bytes((parsed[2],)), digest_, hasher=None)
    except (ValueError, TypeError):  # no point with that r on the curve, or a digest not 32 bytes
        return None
    return _keccak_256(pub.format(compressed=False)[1:]).digest()[12:]


def recover(digest_: bytes, signature: bytes) -> str | None:
    """The checksummed signer of ``digest_`` as the contracts' ecrecover finds it; None if invalid."""
    raw = recover_canonical(digest_, signature)
    return None if raw is None else to_checksum_address(raw)


def recover_report_signer(feed_ids, prices, observed_at, chain_id, oracle, signature: str | bytes) -> str:
    """The reporter the Oracle's ecrecover finds for this row (ValueError if it refuses the signature)."""
    sig = (
        bytes.fromhex(signature[2:] if signature.startswith("0x") else signature)
        if isinstance(signature, str)
        else bytes(signature)
    )
    who = recover(report_digest(feed_ids, prices, observed_at, chain_id, oracle), sig)
    if who is None:
        raise ValueError("signature is not a 65-byte low-s ECDSA signature the Oracle accepts")
    return who
