"""EIP-712 signing of oracle reports (DESIGN §4).

Type: ``Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)`` under the domain
``{name: "ComputeSpread Oracle", version: "1", chainId, verifyingContract: Oracle}``.
The on-chain ``Oracle.submit`` recovers each reporter from this digest, so it is pinned
by the golden vectors in ``tests/fixtures/eip712.json`` (signed with foundry's
``cast``, an independent implementation).

Keys come from an eth keystore file (password from an env var) or from an env var holding
the hex key. :class:`ReportSigner` never exposes or logs the key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from core import eip712

# the one definition lives in core.eip712; these are the oracle's public names for it
DOMAIN_NAME = eip712.REPORT_DOMAIN_NAME
DOMAIN_VERSION = eip712.DOMAIN_VERSION
REPORT_TYPE = eip712.REPORT_TYPE
REPORT_TYPEHASH = "0x" + eip712.REPORT_TYPEHASH.hex()
EIP712_TYPES = eip712.REPORT_TYPES


class KeyConfigError(ValueError):
    """No usable signing key (names the env var or file that is wrong, never the key)."""


report_typed_data = eip712.report_typed_data
report_digest = eip712.report_digest
recover_report_signer = eip712.recover_report_signer  # the Oracle's ecrecover of one row (ValueError if refused)


@dataclass(frozen=True)
class SignedReport:
    feed_ids: tuple[bytes, ...]
    prices: tuple[int, ...]
    observed_at: int
    signer: str
    signature: str  # 0x + 65-byte r||s||v
    digest: str


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
        feeds = eip712.check_report(feed_ids, prices, observed_at)
        d = eip712.report_digest(feeds, prices, observed_at, chain_id, oracle)
        return SignedReport(
            tuple(feeds),
            tuple(prices),
            observed_at,
            self.address,
            "0x" + eip712.sign_digest(self._account, d).hex(),
            "0x" + d.hex(),
        )

    @classmethod
    def from_env(cls, var: str) -> ReportSigner:
        """Key from env var ``var`` (hex, with or without 0x)."""
        value = os.environ.get(var)
        if not value:
            raise KeyConfigError(f"env var {var} is not set; it must hold the reporter's hex private key")
        try:
            return cls(value.strip())
        except Exception:  # never echo the bad value
            raise KeyConfigError(f"env var {var} does not hold a valid hex private key") from None

    @classmethod
    def from_keyfile(cls, path: str | Path, password_env: str) -> ReportSigner:
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
