"""The deployment manifest (deployments/<chain_id>.json): the one file SDK, keepers and oracle read.

Written by `ape run deploy`; see scripts/deploy.py for its fields.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3


class ManifestError(ValueError):
    """The manifest is missing, unreadable or lacks a field; the message says which."""


REQUIRED_CONTRACTS = ("Oracle", "Clearinghouse", "Exchange", "Collateral")


@dataclass(frozen=True)
class Manifest:
    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except OSError as e:
            raise ManifestError(f"cannot read deployment manifest {p}: {e.strerror}") from e
        except json.JSONDecodeError as e:
            raise ManifestError(f"{p} is not JSON: {e}") from e
        for key in ("chain_id", "contracts", "markets"):
            if key not in data:
                raise ManifestError(f"{p} has no {key!r}: is it a Compute Spread deployment manifest?")
        for name in REQUIRED_CONTRACTS:
            if name not in data["contracts"]:
                raise ManifestError(f"{p} has no contract {name!r}")
        return cls(p, data)

    @property
    def chain_id(self) -> int:
        return int(self.data["chain_id"])

    @property
    def markets(self) -> list[dict[str, Any]]:
        return self.data["markets"]

    def market(self, market_id: int) -> dict[str, Any]:
        for m in self.markets:
            if m["id"] == market_id:
                return m
        raise ManifestError(f"market {market_id} is not in {self.path}")

    def address(self, name: str) -> str:
        return Web3.to_checksum_address(self.data["contracts"][name]["address"])

    def abi(self, name: str) -> list:
        return self.data["contracts"][name]["abi"]

    @property
    def clearinghouse_view(self) -> str | None:
        """Address of the ClearinghouseView (account_summary and the other composites), or None
        for a manifest written before it existed (issue 13): redeploy to get one."""
        entry = self.data["contracts"].get("ClearinghouseView")
        return None if entry is None else Web3.to_checksum_address(entry["address"])

    def contract(self, w3: Web3, name: str):
        """A web3 contract object for `name` (Oracle, Clearinghouse, ClearinghouseView, Exchange, Collateral, MockUSDC)."""
        if name not in self.data["contracts"]:
            raise ManifestError(f"{self.path} has no contract {name!r}")
        return w3.eth.contract(address=self.address(name), abi=self.abi(name))
