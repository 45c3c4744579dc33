"""Signed orders: the EIP-712 digest the Exchange checks, and fast signature verification.

Pure module (no FastAPI, no web3 provider). The digest is built by hand from the type string
of DESIGN §4 so it costs a few microseconds; `tests/unit/matcher/test_matcher_orders.py` pins it
to the golden vectors made with an independent signer (foundry's cast).

Signature verification must say exactly what the chain will say. For an account without code
the Exchange runs `ecrecover(digest, v, r, s)` (snekmate, low-s only) and compares with
`order.trader`; so do we, through eth_keys' coincurve (libsecp256k1) backend. For a contract
account (a Safe) the Exchange asks the account, EIP-1271 `isValidSignature(digest, signature)`
with up to MAX_SIGNATURE_LENGTH bytes; the relay makes the same call (`ChainView.wallet_refusal`,
driven by `validation.OrderValidator.signature_refusal`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from functools import lru_cache

from eth_account import Account
from eth_keys import keys as _keys
from eth_utils import keccak, to_checksum_address


ORDER_TYPE = (
    "Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,"
    "uint256 nonce,uint256 expiry,bool reduce_only)"
)
ORDER_TYPEHASH = keccak(text=ORDER_TYPE)
DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
DOMAIN_NAME = "ComputeSpread"
DOMAIN_VERSION = "1"
ORDER_ABI_TUPLE = "(address,uint256,bool,uint256,int256,uint256,uint256,bool)"

UINT256_MAX = 2**256 - 1
# Exchange.MAX_SIGNATURE_LENGTH: the longest signature `fill`/`match_orders` pass to a contract
# trader (a Safe: 65 bytes per owner); an EOA's is 65 bytes
MAX_SIGNATURE_LENGTH = 1024
INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1

# secp256k1
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _N // 2


def _u256(x: int) -> bytes:
    return int(x).to_bytes(32, "big")


def _i256(x: int) -> bytes:
    return int(x).to_bytes(32, "big", signed=True)


def _addr(a: str) -> bytes:
    return bytes(12) + bytes.fromhex(a[2:] if a.startswith(("0x", "0X")) else a)


def domain_separator(chain_id: int, exchange: str) -> bytes:
    return keccak(DOMAIN_TYPEHASH + keccak(text=DOMAIN_NAME) + keccak(text=DOMAIN_VERSION)
                  + _u256(chain_id) + _addr(exchange))


@dataclass(frozen=True)
class Order:
    """The signed struct, in chain units (quantity thousandths, price base units, may be < 0)."""

    trader: str
    market_id: int
    is_buy: bool
    quantity: int
    price: int
    nonce: int
    expiry: int
    reduce_only: bool = False

    def struct_hash(self) -> bytes:
        return keccak(ORDER_TYPEHASH + _addr(self.trader) + _u256(self.market_id) + _u256(int(self.is_buy))
                      + _u256(self.quantity) + _i256(self.price) + _u256(self.nonce) + _u256(self.expiry)
                      + _u256(int(self.reduce_only)))

    def digest(self, separator: bytes) -> bytes:
        """The EIP-712 digest (= Exchange.order_hash(order)) under a domain separator."""
        return keccak(b"\x19\x01" + separator + self.struct_hash())

    def as_tuple(self) -> tuple:
        """The ABI tuple web3/eth_abi take for the `Order` struct argument."""
        return (checksum(self.trader), self.market_id, self.is_buy, self.quantity, self.price,
                self.nonce, self.expiry, self.reduce_only)

    def as_dict(self) -> dict:
        return asdict(self)

    def typed_data(self, chain_id: int, exchange: str) -> dict:
        """Full EIP-712 typed data (what a wallet or `cast wallet sign --data` signs)."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
                ],
                "Order": [
                    {"name": "trader", "type": "address"}, {"name": "market_id", "type": "uint256"},
                    {"name": "is_buy", "type": "bool"}, {"name": "quantity", "type": "uint256"},
                    {"name": "price", "type": "int256"}, {"name": "nonce", "type": "uint256"},
                    {"name": "expiry", "type": "uint256"}, {"name": "reduce_only", "type": "bool"},
                ],
            },
            "primaryType": "Order",
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
                       "verifyingContract": to_checksum_address(exchange)},
            "message": self.as_dict(),
        }


def sign_order(order: Order, key, separator: bytes) -> bytes:
    """Sign `order` with a private key (hex/bytes or LocalAccount): 65 bytes r‖s‖v, v in {27, 28}."""
    acct = key if hasattr(key, "unsafe_sign_hash") else Account.from_key(key)
    return bytes(acct.unsafe_sign_hash(order.digest(separator)).signature)


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


def recover_address(digest: bytes, signature: bytes) -> str | None:
    """ecrecover as the Exchange does it (65 bytes, v 27/28, low s); None if invalid."""
    parsed = _parse(signature)
    if parsed is None:
        return None
    r, s, v = parsed
    try:
        return Account._recover_hash(digest, vrs=(v + 27, r, s))
    except Exception:  # noqa: BLE001 - malformed signature: invalid
        return None


def recover_canonical(digest: bytes, signature: bytes) -> bytes | None:
    """ecrecover as the Exchange does it, as the 20 address bytes (no checksum string: the hot
    path compares bytes); None if invalid."""
    parsed = _parse(signature)
    if parsed is None:
        return None
    r, s, v = parsed
    try:
        return _keys.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest).to_canonical_address()
    except Exception:  # noqa: BLE001 - malformed signature: invalid
        return None


@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """`to_checksum_address`, memoised (a keccak per call; the relay sees the same traders often)."""
    return to_checksum_address(address)


def _parse(signature: bytes) -> tuple[int, int, int] | None:
    if len(signature) != 65:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64] - 27  # the ecrecover precompile takes only 27/28
    if v not in (0, 1) or not (0 < r < _N) or not (0 < s <= _HALF_N):  # snekmate refuses high s
        return None
    return r, s, v


class SignatureVerifier:
    """Thread-safe `verify(digest, signature, address) -> bool`: ecrecover exactly as the Exchange.

    Recovery runs in libsecp256k1 through eth_keys' coincurve backend (~50 us; pinned
    dependency), so no key cache or hand-written curve code is needed.
    """

    def verify(self, digest: bytes, signature: bytes, address: str) -> bool:
        try:
            want = bytes.fromhex(address[2:] if address.startswith(("0x", "0X")) else address)
        except ValueError:
            return False
        return len(want) == 20 and recover_canonical(digest, signature) == want
