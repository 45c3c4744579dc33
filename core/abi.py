"""The contracts' structs and events, typed from their compiled ABI (shipped in ``core/abis``).

A struct is read by field NAME: ``Market.decode(ch.functions.market(1).call()).price_tick``,
never ``raw[8]``; a contract change that adds, drops or reorders a field changes the ABI and
so the record (and ``python -m scripts.abis --check`` fails until the shipped ABI is
regenerated). ``Market(...).encode()`` gives the tuple a call such as ``list_market`` takes.

A call is encoded from its ABI entry too: :func:`calldata` gives the selector and arguments of
``contract.function(*args)`` (structs as tuples or records), :func:`constructor_args` what a
deployment appends to the init code; no node, no web3 contract object.

An event is typed by its ABI entry: :func:`event` gives its canonical signature and ``topic``
(keccak of the signature, ``0x`` lowercase hex, as JSON-RPC returns topics), and
:meth:`EventType.decode` turns a raw log (web3's ``AttributeDict`` with ``HexBytes`` or
JSON-RPC's hex strings) into a dict of its arguments by name. Addresses come back
checksummed, ``bytesN`` as ``bytes``, integers as ``int``.

Pure: eth-abi and eth-utils only, no node. ``python -m scripts.abis --write`` regenerates the
JSON files from contracts/*.vy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields, make_dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

__all__ = [
    "CONTRACTS",
    "AbiError",
    "AccountSummary",
    "EventType",
    "Market",
    "MarketParams",
    "MarketState",
    "abi",
    "calldata",
    "constructor_args",
    "event",
    "events",
    "struct",
]

#: contracts whose ABI ships in core/abis (MockUSDC: the devnet collateral); scripts/abis.py writes them
CONTRACTS = (
    "Oracle",
    "Clearinghouse",
    "ClearinghouseView",
    "SeriesRegistry",
    "Exchange",
    "Timelock",
    "FeedAggregator",
    "MockUSDC",
    "Pool",
)

#: each struct, by the function whose argument or return value it is (searched in every shipped ABI,
#: so a view moving to another contract keeps working)
STRUCT_SOURCES = {
    "Market": ("market", "outputs"),
    "MarketParams": ("set_market_params", "inputs"),
    "MarketState": ("market_state", "outputs"),
    "AccountSummary": ("account_summary", "outputs"),
    "Template": ("template", "outputs"),
}


class AbiError(ValueError):
    """A value does not fit the ABI type it is decoded as (wrong arity, unknown event or contract)."""


@cache
def _abi_text(name: str) -> str:
    if name not in CONTRACTS:
        raise AbiError(f"no shipped ABI for {name!r}; known: {', '.join(CONTRACTS)}")
    return resources.files("core").joinpath("abis", f"{name}.json").read_text()


def abi(name: str) -> list[dict]:
    """The compiled ABI of contract ``name`` (a fresh copy: callers may mutate it)."""
    return json.loads(_abi_text(name))


# ---------------------------------------------------------------- structs


def _py_type(abi_type: str) -> type:
    if abi_type == "bool":
        return bool
    if abi_type == "address":
        return str
    if abi_type.startswith("bytes"):
        return bytes
    if abi_type.startswith(("uint", "int")):
        return int
    raise AbiError(f"ABI type {abi_type!r} has no struct field mapping")


def _convert(abi_type: str, value: Any) -> Any:
    if abi_type == "bool":
        if not isinstance(value, (bool, int)):
            raise AbiError(f"expected bool, got {value!r}")
        return bool(value)
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type.startswith("bytes"):
        b = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
        if abi_type != "bytes" and len(b) != int(abi_type[5:]):
            raise AbiError(f"expected {abi_type}, got {len(b)} bytes")
        return b
    if isinstance(value, bool) or not isinstance(value, int):
        raise AbiError(f"expected {abi_type}, got {value!r}")
    return int(value)


@cache
def _components(struct_name: str) -> tuple[tuple[str, str], ...]:
    try:
        fn, side = STRUCT_SOURCES[struct_name]
    except KeyError:
        raise AbiError(f"unknown struct {struct_name!r}; known: {', '.join(STRUCT_SOURCES)}") from None
    for contract in CONTRACTS:
        for entry in abi(contract):
            if entry.get("type") == "function" and entry.get("name") == fn:
                (param,) = [p for p in entry[side] if p["type"] == "tuple"]
                return tuple((c["name"], c["type"]) for c in param["components"])
    raise AbiError(f"no shipped contract has {fn}() for struct {struct_name}")


class _Struct:
    """Methods shared by every ABI struct record (the fields come from :func:`struct`)."""

    _abi_types: tuple[str, ...] = ()

    @classmethod
    def decode(cls, raw: Sequence[Any] | Mapping[str, Any]):
        """A call's tuple (in ABI order) or a mapping by field name -> the typed record."""
        names = [f.name for f in fields(cls)]
        if isinstance(raw, Mapping):
            missing = set(names) - set(raw)
            if missing:
                raise AbiError(f"{cls.__name__}: missing fields {sorted(missing)}")
            values = [raw[n] for n in names]
        else:
            values = list(raw)
            if len(values) != len(names):
                raise AbiError(
                    f"{cls.__name__} has {len(names)} fields in the ABI, got a tuple of {len(values)}; "
                    "is the ABI in core/abis stale?"
                )
        return cls(*(_convert(t, v) for t, v in zip(cls._abi_types, values, strict=False)))

    @classmethod
    def abi_type(cls) -> str:
        """The struct as one ABI tuple type, e.g. ``(bool,bool,int256,uint256)``."""
        return f"({','.join(cls._abi_types)})"

    @classmethod
    def from_returndata(cls, data: bytes):
        """Decode the raw ``eth_call`` return data of a function returning this struct."""
        try:
            (raw,) = abi_decode([cls.abi_type()], bytes(data))
        except Exception as e:  # eth-abi raises several decoding errors; one typed error for callers
            raise AbiError(f"{cls.__name__}: cannot decode return data: {e}") from e
        return cls.decode(raw)

    def encode(self) -> tuple:
        """The tuple a contract call takes, in ABI field order."""
        return astuple(self)

    def asdict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@cache
def struct(name: str) -> type:
    """The frozen record type of struct ``name``, its fields (names, order, types) from the ABI."""
    comps = _components(name)
    cls = make_dataclass(
        name,
        [(n, _py_type(t)) for n, t in comps],
        bases=(_Struct,),
        frozen=True,
        namespace={"_abi_types": tuple(t for _, t in comps), "__module__": __name__},
    )
    return cls


def __getattr__(name: str) -> type:
    # Market, MarketParams, MarketState, AccountSummary: built on first use, so that importing this
    # module (scripts/abis.py does, to regenerate the files) never depends on the files being current
    if name in STRUCT_SOURCES:
        return struct(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- calls


def _canonical(param: Mapping[str, Any]) -> str:
    # a struct argument is a tuple in the signature: `tuple[]` -> `(uint256,bool)[]`
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param["components"]) + ")" + t[len("tuple") :]
    return t


@cache
def _inputs(contract: str, kind: str, name: str | None, arity: int) -> tuple[str, ...]:
    entries = [e for e in abi(contract) if e.get("type") == kind and (name is None or e.get("name") == name)]
    what = f"{contract}.{name}" if name else f"{contract}'s constructor"
    if not entries:
        if kind == "constructor" and arity == 0:
            return ()
        raise AbiError(f"{contract} has no {kind} {name or ''}".rstrip())
    # Vyper default arguments compile to one ABI entry per arity: the arity picks the entry
    match = [e for e in entries if len(e["inputs"]) == arity]
    if not match:
        arities = sorted({len(e["inputs"]) for e in entries})
        raise AbiError(f"{what} takes {' or '.join(map(str, arities))} arguments, got {arity}")
    return tuple(_canonical(p) for p in match[0]["inputs"])


def _encode(what: str, types: tuple[str, ...], args: Sequence[Any]) -> bytes:
    values = [a.encode() if isinstance(a, _Struct) else a for a in args]
    try:
        return abi_encode(list(types), values)
    except Exception as e:  # eth-abi raises several encoding errors; one typed error for callers
        raise AbiError(f"cannot encode {what}({','.join(types)}) with {tuple(args)!r}: {e}") from e


def calldata(contract: str, function: str, *args: Any) -> bytes:
    """The calldata of ``contract.function(*args)``: its 4-byte selector and ABI-encoded
    arguments, from the shipped ABI. :class:`AbiError` for an unknown function, a wrong number
    of arguments or a value that does not fit its type."""
    types = _inputs(contract, "function", function, len(args))
    return keccak(text=f"{function}({','.join(types)})")[:4] + _encode(f"{contract}.{function}", types, args)


def entry_calldata(entry: Mapping[str, Any], args: Sequence[Any]) -> bytes:
    """The calldata of one function ABI entry (as web3's ``ContractFunction.abi`` holds it)
    applied to ``args``; :class:`AbiError` as :func:`calldata`."""
    name, inputs = entry.get("name"), entry.get("inputs", [])
    if entry.get("type", "function") != "function" or not name:
        raise AbiError(f"not a function ABI entry: {entry!r}")
    if len(args) != len(inputs):
        raise AbiError(f"{name} takes {len(inputs)} arguments, got {len(args)}")
    types = tuple(_canonical(p) for p in inputs)
    return keccak(text=f"{name}({','.join(types)})")[:4] + _encode(name, types, args)


def constructor_args(contract: str, *args: Any) -> bytes:
    """The ABI-encoded constructor arguments of ``contract`` (appended to its init code to deploy)."""
    return _encode(f"{contract} constructor", _inputs(contract, "constructor", None, len(args)), args)


# ---------------------------------------------------------------- events


def _hexstr(x: Any) -> str:
    if isinstance(x, str):
        return "0x" + x.removeprefix("0x").lower()
    return "0x" + bytes(x).hex()


def _bytes(x: Any) -> bytes:
    return bytes.fromhex(x.removeprefix("0x")) if isinstance(x, str) else bytes(x)


@dataclass(frozen=True)
class EventType:
    contract: str
    name: str
    inputs: tuple[tuple[str, str, bool], ...]  # (name, ABI type, indexed)

    @cached_property
    def signature(self) -> str:
        return f"{self.name}({','.join(t for _, t, _ in self.inputs)})"

    @cached_property
    def topic(self) -> str:
        """topic0: keccak of the canonical signature, ``0x`` lowercase hex."""
        return "0x" + keccak(text=self.signature).hex()

    def matches(self, log: Mapping[str, Any]) -> bool:
        topics = log.get("topics") or []
        return bool(topics) and _hexstr(topics[0]) == self.topic

    def decode(self, log: Mapping[str, Any]) -> dict[str, Any]:
        """The log's arguments by name. :class:`AbiError` when the log is another event or malformed."""
        out = self.decode_topics(log)
        plain = [(n, t) for n, t, ix in self.inputs if not ix]
        try:
            values = abi_decode([t for _, t in plain], _bytes(log.get("data") or b""))
        except Exception as e:  # eth-abi raises several decoding errors; one typed error for callers
            raise AbiError(f"{self.name}: cannot decode log data: {e}") from e
        for (n, t), v in zip(plain, values, strict=False):
            out[n] = to_checksum_address(v) if t == "address" else v
        return out

    def decode_topics(self, log: Mapping[str, Any]) -> dict[str, Any]:
        """Only the indexed arguments (what a topic filter returns without reading ``data``)."""
        topics = list(log.get("topics") or [])
        if not topics or _hexstr(topics[0]) != self.topic:
            raise AbiError(f"log is not {self.contract}.{self.signature}")
        indexed = [(n, t) for n, t, ix in self.inputs if ix]
        if len(topics) != 1 + len(indexed):
            raise AbiError(f"{self.name}: expected {1 + len(indexed)} topics, got {len(topics)}")
        out: dict[str, Any] = {}
        try:
            for (n, t), topic in zip(indexed, topics[1:], strict=False):
                raw = _bytes(topic)
                # an indexed dynamic value is logged as its hash: hand back the hash
                v = raw if t in ("string", "bytes") or t.endswith("]") else abi_decode([t], raw)[0]
                out[n] = to_checksum_address(v) if t == "address" else v
        except Exception as e:
            raise AbiError(f"{self.name}: cannot decode topics: {e}") from e
        return out


@cache
def events(contract: str) -> dict[str, EventType]:
    """Every event of ``contract`` by name."""
    return {
        e["name"]: EventType(
            contract, e["name"], tuple((i["name"], i["type"], bool(i["indexed"])) for i in e["inputs"])
        )
        for e in abi(contract)
        if e.get("type") == "event"
    }


def event(contract: str, name: str) -> EventType:
    try:
        return events(contract)[name]
    except KeyError:
        raise AbiError(f"{contract} has no event {name!r}") from None
