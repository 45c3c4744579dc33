"""The deployment manifest ``deployments/<chain_id>.json``: the one file SDK, keepers and oracle read.

Written by ``ape run deploy`` (scripts/deploy.py): ``chain_id``, ``block``, ``contracts``
(name -> ``{address, abi}``), ``markets`` (one entry per listed market, made by
:func:`market_entry` plus the contract parameters), ``roles`` and ``fees``.

:meth:`Manifest.load` checks the structure. :meth:`Manifest.entries` checks what a price
signer must not take on trust: each market's spec validates, hashes to the listed
``spec_hash`` (stored on chain), carries the symbol :func:`core.specs.symbol` gives and feed
ids derived from that symbol. Otherwise a reporter would sign prices for feeds whose meaning
differs from what traders see on chain, so it fails loudly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from core.errors import ManifestError
from core.specs import feed_hex, mark_feed, settlement_feed, spec_hash, symbol, validate_spec

__all__ = ["REQUIRED_CONTRACTS", "Manifest", "ManifestError", "MarketEntry", "market_entry"]

#: the contracts a trading deployment cannot work without (the oracle service needs only the Oracle)
REQUIRED_CONTRACTS = ("Oracle", "Clearinghouse", "Exchange", "Collateral")


@dataclass(frozen=True)
class MarketEntry:
    """One manifest market, verified against its spec (:meth:`Manifest.entries`)."""

    id: int
    symbol: str
    kind: str
    spec: dict[str, Any]
    spec_hash: str
    mark_feed: bytes
    settlement_feed: bytes

    @property
    def delivery_end(self) -> int:
        """Unix seconds; a SPREAD delivers when its power leg does."""
        return (self.spec["power"] if self.kind == "SPREAD" else self.spec)["delivery_end"]


def market_entry(market_id: int, spec: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry of a market: id, symbol, kind, spec, spec_hash and feed ids (0x hex)."""
    sym = symbol(spec)
    return {
        "id": int(market_id),
        "symbol": sym,
        "kind": spec["kind"],
        "spec": spec,
        "spec_hash": spec_hash(spec),
        "mark_feed": feed_hex(mark_feed(sym)),
        "settlement_feed": feed_hex(settlement_feed(sym)),
    }


@dataclass(frozen=True)
class Manifest:
    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path, required: tuple[str, ...] = REQUIRED_CONTRACTS) -> Manifest:
        """Read and structurally check a manifest; ``required`` names the contracts it must hold."""
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except OSError as e:
            raise ManifestError(f"cannot read deployment manifest {p}: {e.strerror}") from e
        except json.JSONDecodeError as e:
            raise ManifestError(f"{p} is not JSON: {e}") from e
        return cls.parse(data, p, required)

    @classmethod
    def parse(
        cls, data: Any, path: str | Path = "<manifest>", required: tuple[str, ...] = REQUIRED_CONTRACTS
    ) -> Manifest:
        p = Path(path)
        if not isinstance(data, dict):
            raise ManifestError(f"{p}: a manifest is a JSON object")
        for key in ("chain_id", "contracts", "markets"):
            if key not in data:
                raise ManifestError(f"{p} has no {key!r}: is it a Compute Spread deployment manifest?")
        chain_id = data["chain_id"]
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise ManifestError(f"{p}: chain_id must be a positive int, got {chain_id!r}")
        if not isinstance(data["contracts"], dict) or not isinstance(data["markets"], list):
            raise ManifestError(f"{p}: contracts must be an object and markets a list")
        for name in required:
            if name not in data["contracts"]:
                raise ManifestError(f"{p} has no contract {name!r}")
        return cls(p, data)

    @property
    def chain_id(self) -> int:
        return int(self.data["chain_id"])

    @property
    def block(self) -> int:
        """The block the deployment was made in (where log scans start)."""
        return int(self.data.get("block") or 0)

    @property
    def markets(self) -> list[dict[str, Any]]:
        """The raw market entries, as written by the deploy script."""
        return self.data["markets"]

    def market(self, market_id: int) -> dict[str, Any]:
        for m in self.markets:
            if m["id"] == market_id:
                return m
        raise ManifestError(f"market {market_id} is not in {self.path}")

    def address(self, name: str) -> str:
        """The checksummed address of contract ``name``."""
        entry = self.data["contracts"].get(name)
        if entry is None:
            raise ManifestError(f"{self.path} has no contract {name!r}")
        addr = entry.get("address") if isinstance(entry, dict) else None
        if not isinstance(addr, str) or not is_address(addr):
            raise ManifestError(f"{self.path}: contracts.{name}.address must be an address, got {addr!r}")
        return to_checksum_address(addr)

    @property
    def oracle(self) -> str:
        """The Oracle's address (the EIP-712 ``verifyingContract`` of reports)."""
        return self.address("Oracle")

    def abi(self, name: str) -> list:
        if name not in self.data["contracts"]:
            raise ManifestError(f"{self.path} has no contract {name!r}")
        return self.data["contracts"][name]["abi"]

    @property
    def clearinghouse_view(self) -> str | None:
        """Address of the ClearinghouseView (account_summary and the other composites), or None
        for a manifest written before it existed (issue 13): redeploy to get one."""
        entry = self.data["contracts"].get("ClearinghouseView")
        return None if entry is None else self.address("ClearinghouseView")

    def contract(self, w3: Any, name: str):
        """A web3 contract object for ``name`` (Oracle, Clearinghouse, ClearinghouseView, Exchange,
        Collateral, MockUSDC).
        ``w3`` is the caller's ``Web3``: the core itself never talks to a node."""
        return w3.eth.contract(address=self.address(name), abi=self.abi(name))

    def verified(self) -> Manifest:
        """This manifest, after checking the Oracle address and every market entry (:class:`ManifestError`)."""
        self.oracle  # noqa: B018 - the lookup is the check
        self.entries  # noqa: B018
        return self

    @cached_property
    def entries(self) -> tuple[MarketEntry, ...]:
        """Every market, verified against its spec (see the module docstring); :class:`ManifestError`
        names the first entry that disagrees."""
        out, ids, symbols = [], set(), set()
        for i, m in enumerate(self.markets):
            where = f"markets[{i}]"
            try:
                spec = m["spec"]
                validate_spec(spec)
                expected = market_entry(m["id"], spec)
            except (KeyError, TypeError, ValueError) as e:
                raise ManifestError(f"{where}: {e}") from None
            for key in ("symbol", "kind", "spec_hash", "mark_feed", "settlement_feed"):
                got = m.get(key)
                if not isinstance(got, str) or got.lower() != expected[key].lower():
                    raise ManifestError(
                        f"{where} (id {m['id']}): {key} is {got!r}, but the spec gives "
                        f"{expected[key]!r} (build entries with core.manifest.market_entry)"
                    )
            if expected["id"] in ids or expected["symbol"] in symbols:
                raise ManifestError(f"{where}: duplicate market id {expected['id']} or symbol {expected['symbol']}")
            ids.add(expected["id"])
            symbols.add(expected["symbol"])
            out.append(
                MarketEntry(
                    expected["id"],
                    expected["symbol"],
                    expected["kind"],
                    spec,
                    expected["spec_hash"],
                    mark_feed(expected["symbol"]),
                    settlement_feed(expected["symbol"]),
                )
            )
        return tuple(out)
