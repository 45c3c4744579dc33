"""Connecting to a node.

- :func:`connect`: a ``Web3`` over HTTP(S) or WebSocket with a request timeout, the chain id
  checked against what the caller expects, and the POA ``extraData`` middleware injected when
  the chain needs it (detected from the latest block, not from a list of chain ids).
- :class:`Rpc`: a minimal raw JSON-RPC client (one keep-alive connection per thread), several
  times cheaper per call than web3's stack; the relay's hot path and the transaction sender
  use it, devnet tooling its JSON-RPC batches (:meth:`Rpc.batch`). Reverts of ``eth_call`` /
  ``eth_estimateGas`` raise :class:`CallReverted` with the decoded reason; any other failure
  raises :class:`ChainError`.
- :class:`Chain`: the keepers' head poller with reconnect bookkeeping.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from web3 import Web3

from chain.reverts import is_revert, rpc_error_reason

log = logging.getLogger("chain.rpc")

ANVIL_CHAIN_ID = 31337
POA_EXTRA_DATA_BYTES = 32  # a block whose extraData is longer carries a POA signer seal


class ChainError(RuntimeError):
    """The RPC failed or a call reverted."""


class CallReverted(ChainError):
    """An eth_call / eth_estimateGas reverted (JSON-RPC code 3 / "execution reverted"): the
    chain answered, with ``reason``."""

    def __init__(self, message: str, reason: str, data: Any = None):
        super().__init__(message)
        self.reason = reason
        self.data = data


class WrongChain(ChainError):
    """The node serves another chain than the one asked for."""


class ChainDown(ConnectionError):
    """The RPC does not answer."""


def is_connection_error(e: BaseException) -> bool:
    return isinstance(
        e, (ChainDown, requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError)
    )


# --------------------------------------------------------------------------- web3


def provider_for(url: str, timeout: float = 10.0):
    """The web3 provider for an ``http(s)://`` or ``ws(s)://`` URL, with ``timeout`` seconds per request."""
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        return Web3.HTTPProvider(url, request_kwargs={"timeout": timeout})
    if scheme in ("ws", "wss"):
        from web3 import LegacyWebSocketProvider  # noqa: PLC0415 - sync websockets only when asked

        return LegacyWebSocketProvider(url, websocket_timeout=timeout)
    raise ValueError(f"RPC URL must be http(s):// or ws(s)://, got {url!r}")


def needs_poa_middleware(w3: Web3) -> bool:
    """True when the chain's blocks carry a POA seal in ``extraData`` (longer than 32 bytes),
    which web3's block formatter rejects unless ``ExtraDataToPOAMiddleware`` runs first."""
    blk = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])
    extra = ((blk or {}).get("result") or {}).get("extraData") or "0x"
    return (len(extra) - 2) // 2 > POA_EXTRA_DATA_BYTES


def connect(url: str, *, timeout: float = 10.0, chain_id: int | None = None, poa: bool | None = None) -> Web3:
    """A ``Web3`` for ``url``. ``chain_id``: refuse (``WrongChain``) a node serving another chain.
    ``poa``: inject the POA middleware (None: detect it from the latest block). Raises
    ``ChainError`` when the node does not answer."""
    w3 = Web3(provider_for(url, timeout))
    try:
        served = int(w3.eth.chain_id)
        if poa is None:
            poa = needs_poa_middleware(w3)
    except Exception as e:  # noqa: BLE001 - any transport failure means the same: no node there
        raise ChainError(f"cannot reach the RPC at {url}: {e}") from e
    if chain_id is not None and served != chain_id:
        raise WrongChain(f"the RPC at {url} serves chain {served}, expected {chain_id}")
    if poa:
        from web3.middleware import ExtraDataToPOAMiddleware  # noqa: PLC0415

        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def _normalize_out(abi_params: list[dict], values: Any) -> list:
    """Decoded eth_abi values as web3 returns them: addresses checksummed, through tuples/arrays."""

    def one(p: dict, v: Any) -> Any:
        t = p["type"]
        if t.endswith("]"):
            inner = {**p, "type": t[: t.rindex("[")]}
            return [one(inner, x) for x in v]
        if t == "tuple":
            return tuple(one(c, x) for c, x in zip(p["components"], v, strict=True))
        if t == "address":
            return Web3.to_checksum_address(v)
        return v

    return [one(p, v) for p, v in zip(abi_params, values, strict=True)]


def _raw_batch(w3: Web3, calls: list) -> list:
    """The calls' eth_call batch encoded and decoded here with eth_abi, one selector and type list
    per function: web3's ContractFunction.call() re-validates the whole ABI (a keccak per ABI
    entry) and runs its middlewares on every call, ~17 ms each on a loaded machine, so 1,851
    calls of a 617-market read took ~30 s of CPU before a byte reached the node."""
    from eth_abi import decode, encode
    from eth_utils import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types

    url = getattr(w3.provider, "endpoint_uri", None)
    if not url or not str(url).startswith("http"):
        raise ValueError("raw batch needs an HTTP provider")
    fns: dict[int, tuple[bytes, list[str], list[str], list[dict]]] = {}
    payload = []
    for i, c in enumerate(calls):
        fa = c.abi
        k = id(fa)
        if k not in fns:
            fns[k] = (
                function_abi_to_4byte_selector(fa),
                get_abi_input_types(fa),
                get_abi_output_types(fa),
                fa["outputs"],
            )
        sel, ins, _, _ = fns[k]
        data = sel + encode(ins, list(c.args))
        payload.append(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_call",
                "params": [{"to": c.address, "data": "0x" + data.hex()}, "latest"],
            }
        )
    answers = json.loads(Rpc(str(url))._post(json.dumps(payload).encode()))
    if not isinstance(answers, list) or len(answers) != len(calls):
        raise ValueError("unexpected batch answer")
    by_id = {a["id"]: a for a in answers}
    out = []
    for i, c in enumerate(calls):
        a = by_id[i]
        if "error" in a or not a.get("result") or a["result"] == "0x":
            raise ValueError("a call in the batch failed")  # the per-call path below names the error
        _, _, outs, out_abi = fns[id(c.abi)]
        vals = _normalize_out(out_abi, decode(outs, bytes.fromhex(a["result"][2:])))
        out.append(vals[0] if len(vals) == 1 else vals)
    return out


def batch_call(w3: Web3, calls: list, fallback: bool = True) -> list:
    """Run contract view calls in one JSON-RPC batch (one HTTP round trip)."""
    if not calls:
        return []
    try:
        return _raw_batch(w3, calls)
    except (OSError, http.client.HTTPException) as e:
        raise ChainDown(f"eth_call batch: RPC unreachable: {e}") from e
    except Exception:  # noqa: BLE001 - a revert or an odd provider: web3's own batch says what
        pass
    try:
        with w3.batch_requests() as batch:
            for c in calls:
                batch.add(c)
            return list(batch.execute())
    except Exception as e:
        if is_connection_error(e) or not fallback:
            raise
        return [c.call() for c in calls]


# --------------------------------------------------------------------------- raw JSON-RPC


class Rpc:
    """Minimal JSON-RPC client: one keep-alive `http.client` connection per thread (several
    times cheaper per call than a general HTTP client; this is the relay's hot path)."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
        u = urlsplit(url)
        if u.scheme not in ("http", "https"):
            raise ValueError(f"Rpc speaks JSON-RPC over http(s)://, got {url!r}")
        self._https = u.scheme == "https"
        self._host, self._port = u.hostname, u.port or (443 if self._https else 80)
        self._path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self._timeout = timeout
        self._local = threading.local()
        self._ids = itertools.count(1)

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            c = self._local.conn = cls(self._host, self._port, timeout=self._timeout)
        return c

    def _post(self, payload: bytes) -> bytes:
        for attempt in (0, 1):
            c = self._conn()
            try:
                c.request("POST", self._path, payload, {"Content-Type": "application/json"})
                resp = c.getresponse()
                return resp.read()
            except (OSError, http.client.HTTPException):
                c.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def __call__(self, method: str, params: list | None = None):
        try:
            body = json.loads(
                self._post(
                    json.dumps(
                        {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
                    ).encode()
                )
            )
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise ChainError(f"{method}: RPC {self.url} unreachable: {e}") from e
        if "error" in body:
            raise error_of(method, body["error"])
        return body["result"]

    def batch(self, calls: Sequence[tuple[str, list | None]], chunk: int = 50) -> list:
        """The results of many ``(method, params)`` calls in order, ``chunk`` of them to a
        JSON-RPC batch request (one round trip each: devnet tooling sends thousands). The first
        call that failed raises as a single call would (``CallReverted`` / ``ChainError``)."""
        out: list = []
        for i in range(0, len(calls), chunk):
            part = calls[i : i + chunk]
            body = [{"jsonrpc": "2.0", "id": j, "method": m, "params": p or []} for j, (m, p) in enumerate(part)]
            try:
                answers = json.loads(self._post(json.dumps(body).encode()))
            except (OSError, http.client.HTTPException, ValueError) as e:
                raise ChainError(f"batch of {len(part)}: RPC {self.url} unreachable: {e}") from e
            if not isinstance(answers, list):  # a node that takes no batches answers one error object
                raise error_of("batch", (answers or {}).get("error") or {"message": f"not a batch answer: {answers}"})
            by_id = {a.get("id"): a for a in answers}
            for j, (method, _) in enumerate(part):
                a = by_id.get(j)
                if a is None:
                    raise ChainError(f"{method}: no answer in the batch from {self.url}")
                if "error" in a:
                    raise error_of(method, a["error"])
                out.append(a["result"])
        return out

    def post_raw(self, method: str, params: list | None = None) -> bytes:
        """The undecoded JSON-RPC answer (bytes) of one call, for callers that decode large
        answers themselves (a keeper's ``eth_getLogs`` pages into typed structs)."""
        payload = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []})
        try:
            return self._post(payload.encode())
        except (OSError, http.client.HTTPException) as e:
            raise ChainError(f"{method}: RPC {self.url} unreachable: {e}") from e

    def call(self, to: str, data: bytes, block: str = "latest", sender: str | None = None) -> bytes:
        tx = {"to": to, "data": "0x" + data.hex()}
        if sender:
            tx["from"] = sender
        out = self(method="eth_call", params=[tx, block])
        return bytes.fromhex(out[2:])

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()


def error_of(method: str, err: dict) -> ChainError:
    """The exception for a JSON-RPC error object: ``CallReverted`` for a revert of a simulated
    call (the chain answered), else ``ChainError``."""
    msg = f"{method}: {err.get('message')}" + (f" {err.get('data')}" if err.get("data") else "")
    if method in ("eth_call", "eth_estimateGas") and is_revert(err):
        return CallReverted(msg, rpc_error_reason(str(err.get("message", "")), err.get("data")), err.get("data"))
    return ChainError(msg)


# --------------------------------------------------------------------------- head poller


@dataclass(frozen=True)
class Head:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class Chain:
    """Web3 over HTTP with reconnect: every call opens or reuses a connection, so "reconnect"
    is noticing the outage, backing off and telling the keeper to resync when it ends
    (``epoch`` counts outages). A different chain id after reconnect is fatal."""

    def __init__(self, rpc_url: str, timeout: float = 10.0, w3: Web3 | None = None):
        self.rpc_url = rpc_url
        self.w3 = w3 or Web3(provider_for(rpc_url, timeout))
        self.chain_id: int | None = None
        self.down = False
        self.epoch = 0

    def head(self) -> Head:
        try:
            b = self.w3.eth.get_block("latest")
            cid = self.chain_id if self.chain_id is not None and not self.down else self.w3.eth.chain_id
        except Exception as e:
            if is_connection_error(e):
                self.mark_down(e)
                raise ChainDown(str(e)) from e
            raise
        if self.chain_id is None:
            self.chain_id = cid
        elif cid != self.chain_id:
            raise RuntimeError(f"RPC {self.rpc_url} now serves chain {cid}, expected {self.chain_id}: refusing to act")
        if self.down:
            self.down = False
            self.epoch += 1
            log.warning(
                "rpc reconnected", extra={"fields": {"rpc": self.rpc_url, "block": b["number"], "epoch": self.epoch}}
            )
        return Head(int(b["number"]), b["hash"].hex(), b["parentHash"].hex(), int(b["timestamp"]))

    def mark_down(self, e: BaseException) -> None:
        if not self.down:
            log.error("rpc down", extra={"fields": {"rpc": self.rpc_url, "error": str(e)[:200]}})
        self.down = True
