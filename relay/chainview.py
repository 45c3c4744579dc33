"""What the relay reads from the chain, with a per-block cache.

`RpcChain` speaks raw JSON-RPC (`chain.rpc.Rpc`: keep-alive connections, one per thread) and
encodes calls with eth_abi; no web3 contract objects on the hot path. Caching (all keyed by the head block,
dropped as soon as a new head is seen; the head itself is re-polled at most every `head_ttl`
seconds, 0.25 s by default, so a read is at most that stale):

  * market parameters, state and mark       per (market, block)
  * account summary (equity, IM, freshness) per (trader, block)
  * min nonce                               per (trader, block)
  * position                                per (trader, market, block)
  * remaining(order)                        per (order hash, block), and usually no eth_call at
                                            all: see `FillIndex`

Tests use `FakeChain` (tests/unit/relay) with the same interface (`ChainView`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from chain.logs import rpc_get_logs, rpc_paged

# the relay's RPC types are chain's; re-exported for the modules that import them from here
from chain.rpc import CallReverted, ChainError, Rpc  # noqa: F401
from core import abi
from relay.orders import ORDER_ABI_TUPLE, Order

log = logging.getLogger("cspread.relay")

ORDER_FILLED = abi.event("Exchange", "OrderFilled")
ORDER_CANCELLED = abi.event("Exchange", "OrderCancelled")
MIN_NONCE_SET = abi.event("Exchange", "MinNonceSet")
TOPIC_FILLED, TOPIC_CANCELLED, TOPIC_MIN_NONCE = ORDER_FILLED.topic, ORDER_CANCELLED.topic, MIN_NONCE_SET.topic


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

    def has_code(self, address: str) -> bool:
        """True when `address` has code (a contract wallet: the Exchange asks it, EIP-1271)."""

    def wallet_refusal(self, wallet: str, digest: bytes, signature: bytes) -> str | None:
        """None when `wallet.isValidSignature(digest, signature)`, called as the Exchange calls
        it, returns the EIP-1271 magic value; else why not (the wallet's revert reason)."""


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
    "is_valid_signature": _sel("isValidSignature(bytes32,bytes)"),
}
# EIP-1271: `isValidSignature(bytes32,bytes)` returns its own selector for a valid signature;
# the Exchange reads at most 32 bytes back and wants exactly this word
EIP1271_MAGIC_WORD = SEL["is_valid_signature"] + bytes(28)


class FillIndex:
    """Which orders the Exchange may have booked anything against, from its logs, up to a block.

    `Exchange.remaining(order)` (contracts/Exchange.vy) is 0 when `cancelled[h]`, when
    `block.timestamp > expiry` or when `nonce < min_nonce[trader]`, else
    `quantity - min(quantity, filled[h])`. `filled[h]` is only written by `_use`, which runs for
    the order of `fill` (logged as `OrderFilled.order_hash = h`) and for both orders of
    `match_orders`: the maker (logged as `order_hash`) and the taker, whose hash is *not* logged
    but whose trader is (`OrderFilled.taker`). `cancelled[h]` is only written by `cancel`, which
    logs `OrderCancelled(h)`. Reverted calls leave neither state nor logs. So if, in the logs up
    to block B, `h` never appears as an `order_hash` and its trader never appears as a `taker`,
    then at block B `filled[h] == 0` and `cancelled[h]` is false, and `remaining(order)` at B
    is exactly `order.quantity` once expiry and min nonce (read at B) are fine. Anything else
    (the trader has ever taken: we cannot tell which of their hashes; the index is behind the
    head; a log read failed) falls back to the eth_call. The sets only grow, so a log that a
    reorg removes can only make the answer more conservative; the last `rewind` blocks are
    re-read on every sync, so a reorg up to that depth that adds a fill is seen too (the same
    depth as the rest of the relay trusts; `CONFIRMATIONS` for the follower).
    """

    def __init__(
        self,
        rpc: Rpc,
        exchange: str,
        start_block: int,
        *,
        chunk: int = 2_000,
        max_chunks: int = 8,
        rewind: int = 8,
        cap: int = 2_000_000,
    ):
        self.rpc, self.exchange, self.start_block = rpc, exchange, max(0, start_block)
        self.chunk, self.max_chunks, self.rewind, self.cap = chunk, max_chunks, rewind, cap
        self.touched: set[str] = set()  # order hashes (lower-case 0x hex) filled as maker or cancelled
        self.takers: set[str] = set()  # trader addresses (lower-case 0x hex) that have taken
        self.synced_to = self.start_block - 1  # logs of blocks <= this are in the sets
        self.disabled = False
        self._lock = threading.Lock()

    def sync(self, head: int) -> None:
        """Read logs up to `head` (at most `max_chunks` ranges per call: a long history is caught
        up over several calls, with the eth_call fallback meanwhile)."""
        if self.disabled or self.synced_to >= head:
            return
        with self._lock:
            start = max(self.start_block, self.synced_to + 1 - self.rewind)
            end = min(head, start + self.chunk * self.max_chunks - 1)
            try:
                for to_block, logs in rpc_paged(
                    self.rpc, self.exchange, [[TOPIC_FILLED, TOPIC_CANCELLED]], start, end, self.chunk
                ):
                    for lg in logs:
                        ev = ORDER_FILLED if ORDER_FILLED.matches(lg) else ORDER_CANCELLED
                        args = ev.decode_topics(lg)
                        self.touched.add("0x" + args["order_hash"].hex())
                        if ev is ORDER_FILLED:
                            self.takers.add(args["taker"].lower())
                    self.synced_to = max(self.synced_to, to_block)
            except ChainError as e:
                log.warning("fill index: log read failed (eth_call fallback until it succeeds): %s", e)
                return
            if len(self.touched) > self.cap:
                log.warning("fill index: more than %d filled/cancelled orders; using eth_call for remaining", self.cap)
                self.disabled = True
                self.touched.clear()

    def untouched(self, order_hash: str, trader: str, block: int) -> bool:
        """True when the logs up to `block` prove `filled[h] == 0` and not `cancelled[h]`."""
        return (
            not self.disabled
            and self.synced_to >= block
            and order_hash.lower() not in self.touched
            and trader.lower() not in self.takers
        )


class RpcChain:
    """`ChainView` over JSON-RPC with per-block caching (see module doc)."""

    def __init__(
        self,
        rpc: Rpc | str,
        chain_id: int,
        exchange: str,
        clearinghouse: str,
        head_ttl: float = 0.25,
        clearinghouse_view: str | None = None,
    ):
        self.rpc = Rpc(rpc) if isinstance(rpc, str) else rpc
        self.chain_id = chain_id
        self.exchange = to_checksum_address(exchange)
        self.clearinghouse = to_checksum_address(clearinghouse)
        # serves account_summary (None: a manifest from before the ClearinghouseView)
        self.clearinghouse_view = to_checksum_address(clearinghouse_view) if clearinghouse_view else None
        self.head_ttl = head_ttl
        self._lock = threading.Lock()
        self._head: tuple[int, int] = (-1, 0)
        self._head_at = 0.0
        self._cache: dict = {}
        self.reads = 0  # eth_calls made (for the bench / metrics)
        self.fills: FillIndex | None = None  # `enable_fill_index`; None: remaining is always an eth_call
        self.remaining_from_logs = 0  # remaining() answers proved by the fill index (no eth_call)

    def enable_fill_index(self, start_block: int, **kw) -> FillIndex:
        """Answer `remaining` of never-touched orders from the Exchange's logs (`FillIndex`)."""
        self.fills = FillIndex(self.rpc, self.exchange, start_block, **kw)
        return self.fills

    @classmethod
    def from_manifest(cls, manifest, rpc_url: str, **kw) -> RpcChain:
        return cls(
            rpc_url,
            manifest.chain_id,
            manifest.address("Exchange"),
            manifest.address("Clearinghouse"),
            clearinghouse_view=manifest.clearinghouse_view,
            **kw,
        )

    def head(self) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            if now - self._head_at < self.head_ttl:
                return self._head
        blk = self.rpc("eth_getBlockByNumber", ["latest", False])
        head = (int(blk["number"], 16), int(blk["timestamp"], 16))
        if self.fills is not None:
            self.fills.sync(head[0])  # before the head is published: the index is never behind it
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
            m = abi.Market.from_returndata(self._call(self.clearinghouse, "market", ["uint256"], [market_id]))
            if m.price_tick == 0:  # not listed
                return None
            st = abi.MarketState.from_returndata(
                self._call(self.clearinghouse, "market_state", ["uint256"], [market_id])
            )
            try:
                mk = decode(
                    ["int256", "uint256", "bool"], self._call(self.clearinghouse, "mark", ["uint256"], [market_id])
                )
            except ChainError:  # never reported
                mk = (0, 0, False)
            return MarketInfo(
                market_id,
                m.last_trade_time,
                m.quantity_step,
                m.min_quantity,
                m.price_tick,
                m.im_fixed,
                m.im_rate_bps,
                st.halted,
                st.settled,
                mk[0],
                mk[1],
                mk[2],
            )

        return self._cached(("market", market_id), load)

    def account(self, trader: str) -> AccountInfo:
        if self.clearinghouse_view is None:
            raise ChainError("the manifest has no ClearinghouseView (it predates issue 13): redeploy to read accounts")

        def load():
            s = abi.AccountSummary.from_returndata(
                self._call(self.clearinghouse_view, "account_summary", ["address"], [trader])
            )
            return AccountInfo(**s.asdict())

        return self._cached(("account", trader), load)

    def min_nonce(self, trader: str) -> int:
        return self._cached(
            ("min_nonce", trader),
            lambda: decode(["uint256"], self._call(self.exchange, "min_nonce", ["address"], [trader]))[0],
        )

    def position(self, trader: str, market_id: int) -> int:
        return self._cached(
            ("position", trader, market_id),
            lambda: decode(
                ["int256", "int256"],
                self._call(self.clearinghouse, "position", ["address", "uint256"], [trader, market_id]),
            )[0],
        )

    def remaining(self, order: Order, order_hash: str) -> int:
        """`Exchange.remaining(order)` at the cached head block; from the logs when they prove the
        order untouched (`FillIndex`: exactly the contract's answer), else one eth_call."""
        fills = self.fills
        if fills is not None:
            block, ts = self.head()
            if (
                ts <= order.expiry
                and fills.untouched(order_hash, order.trader, block)
                and order.nonce >= self.min_nonce(order.trader)
            ):
                self.remaining_from_logs += 1
                return order.quantity
        return self._cached(
            ("remaining", order_hash),
            lambda: decode(["uint256"], self._call(self.exchange, "remaining", [ORDER_ABI_TUPLE], [order.as_tuple()]))[
                0
            ],
        )

    def cancelled(self, order_hash: str) -> bool:
        return self._cached(
            ("cancelled", order_hash),
            lambda: decode(
                ["bool"], self._call(self.exchange, "cancelled", ["bytes32"], [bytes.fromhex(order_hash[2:])])
            )[0],
        )

    def has_code(self, address: str) -> bool:
        """Whether `address` has code at the head block (a Safe proxy, or a 7702 delegation)."""
        return self._cached(
            ("code", address.lower()),
            lambda: self.rpc("eth_getCode", [address, "latest"]) not in ("0x", "0x0", "", None),
        )

    def wallet_refusal(self, wallet: str, digest: bytes, signature: bytes) -> str | None:
        """EIP-1271 exactly as the Exchange checks it (`_is_valid_signature`): a static call from
        the Exchange (some wallets look at the caller) of `isValidSignature(digest, signature)`;
        valid iff it returns and its first 32 bytes are the magic word. Never cached: a wallet
        can revoke at any block. Raises ChainError when the node cannot answer (not a refusal)."""
        self.reads += 1
        try:
            out = self.rpc.call(
                wallet,
                SEL["is_valid_signature"] + encode(["bytes32", "bytes"], [digest, signature]),
                sender=self.exchange,
            )
        except CallReverted as e:
            return f"isValidSignature reverted: {e.reason}"
        if out[:32] == EIP1271_MAGIC_WORD:
            return None
        return f"isValidSignature returned 0x{out[:32].hex()}, not the EIP-1271 magic value 0x1626ba7e"

    def logs(self, from_block: int, to_block: int, topics: list) -> list[dict]:
        return rpc_get_logs(self.rpc, self.exchange, topics, from_block, to_block)
