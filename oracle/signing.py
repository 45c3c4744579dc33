"""EIP-712 signing of oracle reports (DESIGN §4).

Type: ``Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)`` under the domain
``{name: "ComputeSpread Oracle", version: "1", chainId, verifyingContract: Oracle}``.
The on-chain ``Oracle.submit`` recovers each reporter from this digest, so it is pinned
by the golden vector in ``tests/unit/oracle/fixtures/eip712.json`` (signed with foundry's
``cast``, an independent implementation).

Keys come from an eth keystore file (password from an env var) or from an env var holding
the hex key. :class:`ReportSigner` never exposes or logs the key.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "ComputeSpread Oracle"
DOMAIN_VERSION = "1"
REPORT_TYPE = "Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)"
REPORT_TYPEHASH = "0x" + keccak(text=REPORT_TYPE).hex()
EIP712_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Report": [
        {"name": "feed_ids", "type": "bytes32[]"},
        {"name": "prices", "type": "int256[]"},
        {"name": "observed_at", "type": "uint256"},
    ],
}
INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1


class KeyConfigError(ValueError):
    """No usable signing key (names the env var or file that is wrong, never the key)."""


def _feed_bytes(f: bytes | str) -> bytes:
    if isinstance(f, str):
        if not re.fullmatch(r"0x[0-9a-fA-F]{64}", f):
            raise ValueError(f"feed id must be 0x + 64 hex digits, got {f!r}")
        return bytes.fromhex(f[2:])
    b = bytes(f)
    if len(b) != 32:
        raise ValueError(f"feed id must be 32 bytes, got {len(b)}")
    return b


def report_typed_data(feed_ids: Sequence[bytes | str], prices: Sequence[int], observed_at: int,
                      chain_id: int, oracle: str) -> dict:
    """The full EIP-712 typed-data dict (eth_account ``full_message`` form)."""
    feeds = [_feed_bytes(f) for f in feed_ids]
    if len(feeds) != len(prices):
        raise ValueError(f"{len(feeds)} feed ids but {len(prices)} prices")
    if len(set(feeds)) != len(feeds):
        raise ValueError("duplicate feed id in report")
    for p in prices:
        if isinstance(p, bool) or not isinstance(p, int) or not INT256_MIN <= p <= INT256_MAX:
            raise ValueError(f"price must be an int256 in base units, got {p!r}")
    if isinstance(observed_at, bool) or not isinstance(observed_at, int) or observed_at < 0:
        raise ValueError(f"observed_at must be a non-negative int (unix seconds), got {observed_at!r}")
    return {
        "types": EIP712_TYPES,
        "primaryType": "Report",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": int(chain_id),
                   "verifyingContract": to_checksum_address(oracle)},
        "message": {"feed_ids": feeds, "prices": list(prices), "observed_at": observed_at},
    }


def report_digest(feed_ids, prices, observed_at, chain_id, oracle) -> bytes:
    """The 32-byte EIP-712 digest the Oracle contract recovers signers from."""
    sm = encode_typed_data(full_message=report_typed_data(feed_ids, prices, observed_at, chain_id, oracle))
    return keccak(b"\x19" + sm.version + sm.header + sm.body)


@dataclass(frozen=True)
class SignedReport:
    feed_ids: tuple[bytes, ...]
    prices: tuple[int, ...]
    observed_at: int
    signer: str
    signature: str  # 0x + 65-byte r||s||v
    digest: str


def recover_report_signer(feed_ids, prices, observed_at, chain_id, oracle, signature: str | bytes) -> str:
    sm = encode_typed_data(full_message=report_typed_data(feed_ids, prices, observed_at, chain_id, oracle))
    return Account.recover_message(sm, signature=signature)


class ReportSigner:
    """Signs reports with one reporter key. ``repr`` shows the address only."""

    def __init__(self, private_key: str | bytes):
        self._account = Account.from_key(private_key)

    @property
    def address(self) -> str:
        return self._account.address

    def __repr__(self) -> str:
        return f"ReportSigner(address={self.address})"

    def sign(self, feed_ids, prices, observed_at, chain_id, oracle) -> SignedReport:
        td = report_typed_data(feed_ids, prices, observed_at, chain_id, oracle)
        signed = Account.sign_typed_data(self._account.key, full_message=td)
        return SignedReport(tuple(td["message"]["feed_ids"]), tuple(td["message"]["prices"]), observed_at,
                            self.address, "0x" + bytes(signed.signature).hex(), "0x" + bytes(signed.message_hash).hex())

    @classmethod
    def from_env(cls, var: str) -> "ReportSigner":
        """Key from env var ``var`` (hex, with or without 0x)."""
        value = os.environ.get(var)
        if not value:
            raise KeyConfigError(f"env var {var} is not set; it must hold the reporter's hex private key")
        try:
            return cls(value.strip())
        except Exception:  # never echo the bad value
            raise KeyConfigError(f"env var {var} does not hold a valid hex private key") from None

    @classmethod
    def from_keyfile(cls, path: str | Path, password_env: str) -> "ReportSigner":
        """Key from an eth keystore JSON; the password is read from env var ``password_env``."""
        password = os.environ.get(password_env)
        if password is None:
            raise KeyConfigError(f"env var {password_env} (keystore password) is not set")
        try:
            keystore = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise KeyConfigError(f"cannot read keystore {path}: {e}") from None
        try:
            return cls(Account.decrypt(keystore, password))
        except ValueError:
            raise KeyConfigError(f"wrong password in {password_env} for keystore {path}") from None
