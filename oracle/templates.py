"""Markets listed on chain from series templates: which spec a templated feed id means, checked
against the chain before anything is signed for it.

A templated market stores nothing per market in the Oracle: its feed id is
``class | delivery_start << 40 | delivery_end`` (/work/notes/s4_interface10.md, core.series), so
the id alone names the series (its class) and the window. The reporter resolves an id it does
not know yet, lazily (only what a pusher or a user asks for is ever valued):

1. the class must be the MARK or SETTLE class of a series this reporter has a spec for
   (its markets file), AND of an approved template on chain whose ``spec_hash`` equals
   ``series_spec_hash`` of that local spec — the same safety rule as the manifest's
   ``spec_hash``: if the owner approved a template whose spec differs from ours (another node,
   another profile), we would sign prices for a market traders read differently, so we refuse;
2. the window must be listed: ``market_of(template_id, delivery_start)`` is a market whose
   feed (``Clearinghouse.market``) is exactly this id (so a forged ``delivery_end`` is refused);
3. the spec is ``core.series.market_spec(series, start, end)``, its symbol ``core.specs.symbol``.

Chain reads and the series functions are injected (:class:`TemplateChain`, :class:`SeriesRules`),
so this module never imports web3 and tests drive it with plain objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_abi import encode as abi_encode
from eth_utils import keccak

from core import abi
from core.manifest import MarketEntry
from core.specs import symbol as spec_symbol
from core.specs import validate_spec
from oracle.errors import OracleError

log = logging.getLogger("oracle.templates")

LOW80 = (1 << 80) - 1
LOW40 = (1 << 40) - 1


class TemplateMismatch(OracleError, ValueError):
    """The chain's template for a class does not hash to this reporter's spec of the series."""


def split_feed(feed_id: bytes) -> tuple[bytes, int, int]:
    """(class, delivery_start, delivery_end) of a templated feed id."""
    x = int.from_bytes(bytes(feed_id), "big")
    return (x & ~LOW80).to_bytes(32, "big"), (x >> 40) & LOW40, x & LOW40


def templated_spec_hash(template_spec_hash: bytes, start: int, end: int) -> str:
    """``Clearinghouse.market(id).spec_hash`` of a templated market (interface doc)."""
    return "0x" + keccak(abi_encode(["bytes32", "uint256", "uint256"], [template_spec_hash, start, end])).hex()


@dataclass(frozen=True)
class ChainTemplate:
    """``Clearinghouse.template(id)``, the fields the reporter checks."""

    id: int
    spec_hash: bytes
    mark_class: bytes
    settlement_class: bytes
    active: bool = True


class TemplateChain(Protocol):
    """What the resolver reads from chain (the service implements it over web3)."""

    def templates(self) -> list[ChainTemplate]: ...

    def market_of(self, template_id: int, delivery_start: int) -> int: ...

    def market_feeds(self, market_id: int) -> tuple[bytes, bytes]:
        """(mark_feed, settlement_feed) of a listed market."""
        ...


@dataclass(frozen=True)
class SeriesRules:
    """The core.series functions the resolver needs (injected: core/series.py is the listing
    engineer's; :func:`core_series_rules` binds the real ones)."""

    spec_hash: Callable[[dict], Any]  # series_spec_hash(windowless spec) -> bytes32 (bytes or 0x hex)
    feed_class: Callable[[str, str], bytes]  # feed_class(series_symbol, "MARK" | "SETTLE")
    market_spec: Callable[[Any, int, int], dict]  # market_spec(series, start, end)


def core_series_rules() -> SeriesRules:
    """The real rules from core.series (ImportError until that module has landed)."""
    from core import series as cs

    return SeriesRules(cs.series_spec_hash, cs.feed_class, cs.market_spec)


def _b32(x: Any) -> bytes:
    if isinstance(x, str):
        return bytes.fromhex(x.removeprefix("0x"))
    return bytes(x)


@dataclass
class TemplateResolver:
    """Feed id -> :class:`MarketEntry` of a market listed from a template, or None (see module doc).

    ``series``: objects with ``.symbol`` (series symbol) and ``.spec`` (windowless spec), as
    core.series.Series has. Templates are re-read from chain when a class is not found (a new
    approval) and at most every ``refresh_s`` seconds otherwise (a retirement does not unlist).
    """

    series: Iterable[Any]
    chain: TemplateChain
    rules: SeriesRules
    clock: Callable[[], float] = field(default=lambda: 0.0)
    refresh_s: float = 60.0
    refused: dict[str, str] = field(default_factory=dict)  # class hex -> why (for /health, logs)

    def __post_init__(self):
        self.series = list(self.series)
        self._by_class: dict[bytes, tuple[Any, str]] = {}
        for s in self.series:
            for role in ("MARK", "SETTLE"):
                self._by_class[_b32(self.rules.feed_class(s.symbol, role))] = (s, role)
        self._templates: dict[bytes, ChainTemplate] = {}
        self._read_at: float | None = None

    def _load(self) -> None:
        self._templates = {}
        for t in self.chain.templates():
            self._templates[_b32(t.mark_class)] = t
            self._templates[_b32(t.settlement_class)] = t
        self._read_at = self.clock()

    def template_for(self, cls: bytes) -> tuple[Any, str, ChainTemplate] | None:
        """(local series, role, verified chain template) of a feed class; None if either side
        does not know the class; :class:`TemplateMismatch` if they disagree on the spec."""
        local = self._by_class.get(cls)
        if local is None:
            return None
        if self._read_at is None or cls not in self._templates or self.clock() - self._read_at > self.refresh_s:
            self._load()
        t = self._templates.get(cls)
        if t is None:
            return None
        s, role = local
        want = _b32(self.rules.spec_hash(s.spec))
        expected_class = _b32(t.mark_class if role == "MARK" else t.settlement_class)
        if want != _b32(t.spec_hash) or expected_class != cls:
            why = (
                f"template {t.id} on chain has spec_hash 0x{_b32(t.spec_hash).hex()} but this reporter's "
                f"{s.symbol} spec hashes to 0x{want.hex()}: refusing to sign its feeds"
            )
            self.refused["0x" + cls.hex()] = why
            raise TemplateMismatch(why)
        return s, role, t

    def resolve(self, feed_id: bytes) -> tuple[MarketEntry, str] | None:
        """(market entry, "MARK" | "SETTLEMENT") of a listed templated market, or None when the
        id is not one (unknown class, window not listed, id not the market's feed).
        :class:`TemplateMismatch` when the chain's template disagrees with our spec."""
        cls, start, end = split_feed(feed_id)
        if not start or end <= start:
            return None
        hit = self.template_for(cls)
        if hit is None:
            return None
        s, role, t = hit
        market_id = int(self.chain.market_of(t.id, start))
        if market_id == 0:
            return None
        mark, settle = (_b32(x) for x in self.chain.market_feeds(market_id))
        if bytes(feed_id) != (mark if role == "MARK" else settle):
            return None  # same series and start, another end: not this market's feed
        spec = self.rules.market_spec(s, start, end)
        validate_spec(spec)
        entry = MarketEntry(
            market_id,
            spec_symbol(spec),
            spec["kind"],
            spec,
            templated_spec_hash(_b32(t.spec_hash), start, end),
            mark,
            settle,
        )
        return entry, ("MARK" if role == "MARK" else "SETTLEMENT")


class Web3TemplateChain:
    """:class:`TemplateChain` over web3 contracts: ``registry`` answers template_count, template
    and market_of (the SeriesRegistry on the listing branch; the interface doc put them on the
    Clearinghouse, so that works too), ``clearinghouse`` answers market."""

    def __init__(self, registry, clearinghouse=None):
        self.reg, self.ch = registry, clearinghouse or registry

    def templates(self) -> list[ChainTemplate]:
        f = self.reg.functions
        out = []
        for i in range(1, int(f.template_count().call()) + 1):
            # by field name through the shipped ABI (core.abi), never a hand-copied field order
            d = abi.Template.decode(f.template(i).call())
            out.append(ChainTemplate(i, d.spec_hash, d.mark_class, d.settlement_class, d.active))
        return out

    def market_of(self, template_id: int, delivery_start: int) -> int:
        return int(self.reg.functions.market_of(template_id, delivery_start).call())

    def market_feeds(self, market_id: int) -> tuple[bytes, bytes]:
        m = abi.Market.decode(self.ch.functions.market(market_id).call())
        return m.mark_feed, m.settlement_feed
