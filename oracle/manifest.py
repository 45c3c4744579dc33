"""The deployment manifest ``deployments/<chain_id>.json`` (written by the deploy script).

The oracle trusts nothing in it blindly: each market's spec must validate, hash to the
listed ``spec_hash`` (stored on chain), carry the symbol :func:`oracle.specs.symbol`
gives and feed ids derived from that symbol. Otherwise the reporter would sign prices for
feeds whose meaning differs from what traders see on chain, so loading fails loudly.
Use :func:`market_entry` in the deploy script to produce entries that pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from oracle.specs import feed_hex, mark_feed, settlement_feed, spec_hash, symbol, validate_spec


class ManifestError(ValueError):
    """The manifest is malformed or disagrees with the spec/feed derivation."""


@dataclass(frozen=True)
class Market:
    id: int
    symbol: str
    kind: str
    spec: dict[str, Any]
    spec_hash: str
    mark_feed: bytes
    settlement_feed: bytes

    @property
    def delivery_end(self) -> int:
        return (self.spec["power"] if self.kind == "SPREAD" else self.spec)["delivery_end"]


@dataclass(frozen=True)
class Manifest:
    chain_id: int
    block: int
    oracle: str  # checksummed Oracle address (EIP-712 verifyingContract)
    markets: tuple[Market, ...]


def market_entry(market_id: int, spec: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry of a market: id, symbol, kind, spec, spec_hash and feed ids (0x hex)."""
    sym = symbol(spec)
    return {"id": int(market_id), "symbol": sym, "kind": spec["kind"], "spec": spec, "spec_hash": spec_hash(spec),
            "mark_feed": feed_hex(mark_feed(sym)), "settlement_feed": feed_hex(settlement_feed(sym))}


def parse_manifest(obj: Any) -> Manifest:
    if not isinstance(obj, dict):
        raise ManifestError("manifest must be a JSON object")
    chain_id = obj.get("chain_id")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise ManifestError(f"chain_id must be a positive int, got {chain_id!r}")
    oracle = ((obj.get("contracts") or {}).get("Oracle") or {}).get("address")
    if not isinstance(oracle, str) or not is_address(oracle):
        raise ManifestError(f"contracts.Oracle.address must be an address, got {oracle!r}")
    markets, ids, symbols = [], set(), set()
    for i, m in enumerate(obj.get("markets") or []):
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
                raise ManifestError(f"{where} (id {m['id']}): {key} is {got!r}, but the spec gives {expected[key]!r} "
                                    "(build entries with oracle.manifest.market_entry)")
        if expected["id"] in ids or expected["symbol"] in symbols:
            raise ManifestError(f"{where}: duplicate market id {expected['id']} or symbol {expected['symbol']}")
        ids.add(expected["id"])
        symbols.add(expected["symbol"])
        markets.append(Market(expected["id"], expected["symbol"], expected["kind"], spec, expected["spec_hash"],
                              mark_feed(expected["symbol"]), settlement_feed(expected["symbol"])))
    return Manifest(chain_id, int(obj.get("block") or 0), to_checksum_address(oracle), tuple(markets))


def load_manifest(path: str | Path) -> Manifest:
    try:
        obj = json.loads(Path(path).read_text())
    except OSError as e:
        raise ManifestError(f"cannot read manifest {path}: {e}") from None
    except ValueError as e:
        raise ManifestError(f"manifest {path} is not JSON: {e}") from None
    return parse_manifest(obj)
