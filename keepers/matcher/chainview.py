"""What the relay reads from the chain, with a per-block cache.

`RpcChain` speaks raw JSON-RPC over keep-alive connections (one per thread) and encodes calls
with eth_abi; no web3 contract objects on the hot path. Caching (all keyed by the head block,
dropped as soon as a new head is seen; the head itself is re-polled at most every `head_ttl`
seconds, 0.25 s by default, so a read is at most that stale):

  * market parameters, state and mark       per (market, block)
  * account summary (equity, IM, freshness) per (trader, block)
  * min nonce                               per (trader, block)
  * position                                per (trader, market, block)
  * remaining(order)                        per (order hash, block)  — a new order is one eth_call

Tests use `FakeChain` (tests/unit/matcher) with the same interface (`ChainView`).
"""
from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit
from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from keepers.matcher.orders import ORDER_ABI_TUPLE, Order


class ChainError(RuntimeError):
    """The RPC failed or a call reverted."""


@dataclass(frozen=True)
class MarketInfo:
    market_id: int
    last_trade_time: int
    quantity_step: int
    min_quantity: int
    price_tick: int
    im_fixed: int
    im_rate_bps: int
    halted: bool
    settled: bool
    mark: int
    mark_observed_at: int
    mark_fresh: bool


@dataclass(frozen=True)
class AccountInfo:
    collateral: int
    equity: int
    initial: int
    maintenance: int
    fresh: bool
    open_markets: int

    @property
    def free(self) -> int:
        """Equity above initial margin, base units (what new risk may use)."""
        return self.equity - self.initial


class ChainView(Protocol):
    chain_id: int
    exchange: str

    def head(self) -> tuple[int, int]:
        """(block number, block timestamp) of the latest block."""

    def market(self, market_id: int) -> MarketInfo | None: ...

    def account(self, trader: str) -> AccountInfo: ...

    def min_nonce(self, trader: str) -> int: ...

    def position(self, trader: str, market_id: int) -> int: ...

    def remaining(self, order: Order, order_hash: str) -> int: ...

    def cancelled(self, order_hash: str) -> bool: ...


def _sel(sig: str) -> bytes:
    return keccak(text=sig)[:4]


SEL = {
    "market": _sel("market(uint256)"),
    "market_state": _sel("market_state(uint256)"),
    "mark": _sel("mark(uint256)"),
    "account_summary": _sel("account_summary(address)"),
    "position": _sel("position(address,uint256)"),
    "min_nonce": _sel("min_nonce(address)"),
    "remaining": _sel(f"remaining({ORDER_ABI_TUPLE})"),
    "cancelled": _sel("cancelled(bytes32)"),
    "filled": _sel("filled(bytes32)"),
    "match_orders": _sel(f"match_orders({ORDER_ABI_TUPLE},bytes,{ORDER_ABI_TUPLE},bytes,uint256)"),
    "cancel_all": _sel("cancel_all(uint256)"),
    "cancel": _sel(f"cancel({ORDER_ABI_TUPLE})"),
}


class Rpc:
    """Minimal JSON-RPC client: one keep-alive `http.client` connection per thread (several
    times cheaper per call than a general HTTP client; this is the relay's hot path)."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
        u = urlsplit(url)
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
            body = json.loads(self._post(json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                                                     "params": params or []}).encode()))
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise ChainError(f"{method}: RPC {self.url} unreachable: {e}") from e
        if "error" in body:
            err = body["error"]
            raise ChainError(f"{method}: {err.get('message')}" + (f" {err.get('data')}" if err.get("data") else ""))
        return body["result"]

    def call(self, to: str, data: bytes, block: str = "latest") -> bytes:
        out = self(method="eth_call", params=[{"to": to, "data": "0x" + data.hex()}, block])
        return bytes.fromhex(out[2:])

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()


class RpcChain:
    """`ChainView` over JSON-RPC with per-block caching (see module doc)."""

    def __init__(self, rpc: Rpc | str, chain_id: int, exchange: str, clearinghouse: str, head_ttl: float = 0.25):
        self.rpc = Rpc(rpc) if isinstance(rpc, str) else rpc
        self.chain_id = chain_id
        self.exchange = to_checksum_address(exchange)
        self.clearinghouse = to_checksum_address(clearinghouse)
        self.head_ttl = head_ttl
        self._lock = threading.Lock()
        self._head: tuple[int, int] = (-1, 0)
        self._head_at = 0.0
        self._cache: dict = {}
        self.reads = 0  # eth_calls made (for the bench / metrics)

    @classmethod
    def from_manifest(cls, manifest, rpc_url: str, **kw) -> "RpcChain":
        return cls(rpc_url, manifest.chain_id, manifest.address("Exchange"), manifest.address("Clearinghouse"), **kw)

    def head(self) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            if now - self._head_at < self.head_ttl:
                return self._head
        blk = self.rpc("eth_getBlockByNumber", ["latest", False])
        head = (int(blk["number"], 16), int(blk["timestamp"], 16))
        with self._lock:
            if head[0] != self._head[0]:
                self._cache.clear()
            self._head, self._head_at = head, time.monotonic()
        return head

    def invalidate(self) -> None:
        """Forget everything (after our own transaction, or when told a block was mined)."""
        with self._lock:
            self._cache.clear()
            self._head_at = 0.0

    def _cached(self, key, fn):
        self.head()
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = fn()
        with self._lock:
            self._cache[key] = value
        return value

    def _call(self, to: str, name: str, types: list[str] | None = None, args: list | None = None) -> bytes:
        self.reads += 1
        return self.rpc.call(to, SEL[name] + (encode(types, args) if types else b""))

    # ------------------------------------------------------------ reads
    def market(self, market_id: int) -> MarketInfo | None:
        def load():
            m = decode(["(bytes32,bytes32,bytes32,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,"
                        "uint256,uint256,uint256,uint256,uint256)"],
                       self._call(self.clearinghouse, "market", ["uint256"], [market_id]))[0]
            if m[8] == 0:  # price_tick 0: not listed
                return None
            st = decode(["(bool,bool,int256,uint256)"],
                        self._call(self.clearinghouse, "market_state", ["uint256"], [market_id]))[0]
            try:
                mk = decode(["int256", "uint256", "bool"],
                            self._call(self.clearinghouse, "mark", ["uint256"], [market_id]))
            except ChainError:  # never reported
                mk = (0, 0, False)
            return MarketInfo(market_id, m[5], m[6], m[7], m[8], m[9], m[10], st[0], st[1], mk[0], mk[1], mk[2])
        return self._cached(("market", market_id), load)

    def account(self, trader: str) -> AccountInfo:
        def load():
            s = decode(["(int256,int256,uint256,uint256,bool,uint256)"],
                       self._call(self.clearinghouse, "account_summary", ["address"], [trader]))[0]
            return AccountInfo(*s)
        return self._cached(("account", trader), load)

    def min_nonce(self, trader: str) -> int:
        return self._cached(("min_nonce", trader), lambda: decode(
            ["uint256"], self._call(self.exchange, "min_nonce", ["address"], [trader]))[0])

    def position(self, trader: str, market_id: int) -> int:
        return self._cached(("position", trader, market_id), lambda: decode(
            ["int256", "int256"], self._call(self.clearinghouse, "position", ["address", "uint256"],
                                             [trader, market_id]))[0])

    def remaining(self, order: Order, order_hash: str) -> int:
        return self._cached(("remaining", order_hash), lambda: decode(
            ["uint256"], self._call(self.exchange, "remaining", [ORDER_ABI_TUPLE], [order.as_tuple()]))[0])

    def cancelled(self, order_hash: str) -> bool:
        return self._cached(("cancelled", order_hash), lambda: decode(
            ["bool"], self._call(self.exchange, "cancelled", ["bytes32"], [bytes.fromhex(order_hash[2:])]))[0])

    def logs(self, from_block: int, to_block: int, topics: list) -> list[dict]:
        return self.rpc("eth_getLogs", [{"address": self.exchange, "fromBlock": hex(from_block),
                                         "toBlock": hex(to_block), "topics": topics}])
