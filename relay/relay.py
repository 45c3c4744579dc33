"""The relay as one object: post, cancel, read the book, publish updates. No FastAPI here."""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from chain.rpc import ChainError
from core.margin import Resting
from relay.chainview import ChainView
from relay.follower import lease_expired, reconcile_leases
from relay.hub import Hub
from relay.orders import MAX_SIGNATURE_LENGTH, Order, cancel_message
from relay.store import CANCELLED, OPEN, OrderStore, StoredOrder, Trade
from relay.validation import OrderValidator, RelayError, chain_unavailable

BOOK_ORDERS_LIMIT = 100  # raw orders per side in a book read unless asked for more (max BOOK_ORDERS_MAX)
BOOK_ORDERS_MAX = 1_000
BATCH_MAX = 500  # orders per POST /orders/batch
_TRADER_STRIPES = 64


class RelayMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.posts = Counter("cspread_relay_orders_posted_total", "Order posts by result", ("result",), registry=r)
        self.dropped = Counter("cspread_relay_orders_dropped_total", "Orders dropped as dead", ("reason",), registry=r)
        self.matches = Counter("cspread_relay_matches_total", "Match transactions by result", ("result",), registry=r)
        self.validate_s = Histogram(
            "cspread_relay_validate_seconds",
            "Order validation time",
            registry=r,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 1),
        )
        self.follower_block = Gauge("cspread_relay_follower_block", "Last block the event follower read", registry=r)
        self.reorgs = Counter("cspread_relay_reorgs_total", "Reorgs the event follower rolled back", registry=r)


class Relay:
    def __init__(self, store: OrderStore, chain: ChainView, validator: OrderValidator, hub: Hub | None = None):
        self.store, self.chain, self.validator = store, chain, validator
        self.hub = hub or Hub()
        self.metrics = RelayMetrics()
        self.wake = threading.Event()  # set on every accepted order: the matcher looks at once
        self._head_fail_until = 0.0  # while the node is down, reads do not wait on it every time
        # a trader's margin check and the insert that books the order run under that trader's
        # stripe: two concurrent posts by one trader cannot both pass on the same free margin
        self._stripes = [threading.Lock() for _ in range(_TRADER_STRIPES)]

    def head_block(self) -> int:
        """The chain's head block for a read's `block` field; when the node does not answer,
        the last block the follower processed (reads are answered from the store)."""
        if time.monotonic() >= self._head_fail_until:
            try:
                return self.chain.head()[0]
            except ChainError:
                self._head_fail_until = time.monotonic() + 2.0
        fb = self.store.get_meta("follower_block")
        return int(fb) if fb is not None else -1

    def _trader_lock(self, trader: str) -> threading.Lock:
        return self._stripes[hash(trader) % _TRADER_STRIPES]

    # ------------------------------------------------------------ writes
    def post(self, data: dict) -> StoredOrder:
        try:
            o, sig = self.validator.parse(data)
        except RelayError as e:
            self.metrics.posts.labels(e.code).inc()
            raise
        with self._trader_lock(o.trader):
            with self.metrics.validate_s.time():
                try:
                    h, remaining = self._check(data, o, sig)
                except RelayError as e:
                    self.metrics.posts.labels(e.code).inc()
                    raise
            stored = self.store.add(StoredOrder(h, o, sig, remaining=remaining))
        if stored is None:
            self.metrics.posts.labels("duplicate").inc()
            raise RelayError(409, "duplicate", f"order {h} is already known to the relay")
        self.metrics.posts.labels("accepted").inc()
        self.notify("book", {"market_id": o.market_id})
        self.wake.set()
        return stored

    def _check(self, data: dict, o, sig: bytes) -> tuple[str, int]:
        h, remaining = self.validator.check(o, sig)
        if data.get("hash") and data["hash"].lower() != h:
            raise RelayError(400, "bad_hash", f"hash {data['hash']} is not the order's EIP-712 digest {h}")
        return h, remaining

    def post_many(self, items: list[dict]) -> list[StoredOrder | RelayError]:
        """`post` of each order in one call, the accepted ones written in one transaction (one
        multi-row INSERT): per order the stored order or the RelayError that refused it. Every
        order gets the full validation of `post`; a trader's orders earlier in the batch count
        against its margin for the later ones (reserved before the next is checked).

        What the batch shares instead of paying per order: each digest is computed once, the
        signatures are recovered together on all cores (`SignatureVerifier.recover_many`), the
        already-known hashes come from one `IN (...)` query, and the pending block's time is
        read once, when the first order reaches the expiry check (the same rule: an order that
        does not outlive the next block by `min_ttl` is refused)."""
        if len(items) > BATCH_MAX:
            raise RelayError(400, "batch_too_large", f"at most {BATCH_MAX} orders per batch, got {len(items)}")
        out: list[StoredOrder | RelayError | None] = [None] * len(items)
        codes: dict[str, int] = {}
        sep = self.validator.separator
        todo: list[tuple[int, dict, Order, bytes, bytes]] = []  # (index, wire, order, signature, digest)
        for i, data in enumerate(items):
            try:
                o, sig = self.validator.parse(data)
            except RelayError as e:
                codes[e.code] = codes.get(e.code, 0) + 1
                out[i] = e
                continue
            todo.append((i, data, o, sig, o.digest(sep)))
        signers = self.validator.verifier.recover_many([(d, sig) for _, _, _, sig, d in todo])
        pending: list[int] = []

        def pending_time() -> int:
            if not pending:
                pending.append(self.chain.pending_time())
            return pending[0]

        book = getattr(self.store, "exposure", None)
        ok: list[tuple[int, StoredOrder]] = []
        booked: set[str] = set()
        observe = self.metrics.validate_s.observe
        prefetch = getattr(self.store, "prefetched", None)
        try:
            with prefetch(["0x" + t[4].hex() for t in todo]) if prefetch is not None else nullcontext():
                for (i, data, o, sig, d), signer in zip(todo, signers, strict=True):
                    t0 = time.perf_counter()
                    try:
                        h = "0x" + d.hex()
                        if h in booked:  # the same order twice in one batch
                            raise RelayError(409, "duplicate", f"order {h} is already known to the relay")
                        with self._trader_lock(o.trader):
                            h, remaining = self.validator.check(o, sig, d, pending_time=pending_time, signer=signer)
                            if data.get("hash") and data["hash"].lower() != h:
                                raise RelayError(
                                    400, "bad_hash", f"hash {data['hash']} is not the order's EIP-712 digest {h}"
                                )
                            booked.add(h)
                            if book is not None and not o.reduce_only:  # the trader's next order sees it
                                book.reserve(o.trader, h, Resting(o.market_id, o.is_buy, remaining, o.price))
                        ok.append((i, StoredOrder(h, o, sig, remaining=remaining)))
                    except RelayError as e:
                        codes[e.code] = codes.get(e.code, 0) + 1
                        out[i] = e
                    observe(time.perf_counter() - t0)
            stored = self.store.add_many([so for _, so in ok])
        except BaseException:
            # a chain or store failure ends the whole batch (a 503): nothing was written, so the
            # reservations made for its checked orders are taken back
            if book is not None:
                book.settle([so.hash for _, so in ok], written=False)
            raise
        finally:
            for code, n in codes.items():
                self.metrics.posts.labels(code).inc(n)
        if book is not None:
            book.settle([so.hash for _, so in ok])
        markets = set()
        accepted = duplicates = 0
        for (i, so), st in zip(ok, stored, strict=True):
            if st is None:  # posted meanwhile through another request or relay: booked once, by it
                duplicates += 1
                out[i] = RelayError(409, "duplicate", f"order {so.hash} is already known to the relay")
            else:
                accepted += 1
                markets.add(st.order.market_id)
                out[i] = st
        if duplicates:
            self.metrics.posts.labels("duplicate").inc(duplicates)
        if accepted:
            self.metrics.posts.labels("accepted").inc(accepted)
        for mid in markets:
            self.notify("book", {"market_id": mid})
        if markets:
            self.wake.set()
        return out

    def cancel(self, order_hash: str, signature: str | None) -> StoredOrder:
        """Withdraw an order from the relay. With `signature` (EIP-191 of "cancel:<hash>" by the
        trader) it is removed at once; without, only if the chain already says it is dead."""
        h = order_hash.lower()
        so = self.store.get(h)
        if so is None:
            raise RelayError(404, "not_found", f"order {h} is not known to the relay")
        if signature:
            if not self._cancel_signed(so.order.trader, h, signature):
                raise RelayError(
                    403,
                    "bad_cancel_signature",
                    f"the cancel must be signed (EIP-191 personal_sign of 'cancel:{h}') by {so.order.trader}"
                    " (a contract wallet: a signature its EIP-1271 isValidSignature accepts for that "
                    "message's hash)",
                )
            if so.status == OPEN and so.in_flight and lease_expired(so):
                # its matcher died holding it: settle the claim with the chain, then decide
                self._chain_read(lambda: reconcile_leases(self.store, self.validator, self.chain))
                so = self.store.get(h)
            if so.status == OPEN and so.in_flight:
                raise RelayError(
                    409,
                    "in_flight",
                    "a match of this order is being sent; cancel on-chain or retry",
                    {"retry_after": max(1, int((so.claim_until or 0) - time.time()) + 1)},
                )
            if so.status == OPEN:
                self.store.kill(h, CANCELLED, "cancelled in the relay by the trader (still valid on-chain)")
        elif so.status == OPEN:
            block = self._chain_read(lambda: self.chain.head()[0])
            status, reason, _ = self._chain_read(lambda: self.validator.still_alive(so))
            if status is None:
                raise RelayError(
                    403,
                    "cancel_needs_signature",
                    "the order is still live on-chain: send X-Signature (EIP-191 of 'cancel:<hash>') "
                    "or cancel it on-chain (Exchange.cancel / cancel_all) first",
                )
            self.store.kill(h, status, reason, block)
        self.notify("book", {"market_id": so.order.market_id})
        return self.store.get(h)

    @staticmethod
    def _chain_read(fn):
        try:
            return fn()
        except ChainError as e:
            raise chain_unavailable(e) from e

    def _cancel_signed(self, trader: str, order_hash: str, signature: str) -> bool:
        """EIP-191 "cancel:<hash>" signed by the trader's key, or accepted by the trader's
        contract wallet (EIP-1271, as for orders)."""
        text = cancel_message(order_hash)
        try:
            if Account.recover_message(encode_defunct(text=text), signature=signature) == trader:
                return True
        except Exception:  # noqa: BLE001 - not an ECDSA signature: maybe a wallet's
            pass
        try:
            raw = bytes.fromhex(signature.removeprefix("0x"))
        except ValueError:
            return False
        try:
            return (
                len(raw) <= MAX_SIGNATURE_LENGTH
                and self.chain.has_code(trader)
                and self.chain.wallet_refusal(trader, personal_digest(text), raw) is None
            )
        except ChainError as e:
            raise chain_unavailable(e, f"{trader}'s cancel signature on-chain") from e

    # ------------------------------------------------------------ reads
    def book(self, market_id: int, depth: int | None = None, limit: int = BOOK_ORDERS_LIMIT, offset: int = 0) -> dict:
        """Price levels (aggregated in SQL) and, per side, at most `limit` raw orders in priority
        order from `offset` (a book of thousands of orders is paged, not sent whole)."""
        bids, asks = self.store.book_levels(market_id)
        return {
            "market_id": market_id,
            "bids": bids[:depth] if depth else bids,
            "asks": asks[:depth] if depth else asks,
            "orders": (
                self.store.book_orders(market_id, True, limit, offset)
                + self.store.book_orders(market_id, False, limit, offset)
            ),
            "bid_orders": sum(r["orders"] for r in bids),
            "ask_orders": sum(r["orders"] for r in asks),
        }

    def trades(self, market_id: int, limit: int = 100) -> list[Trade]:
        return self.store.trades(market_id, limit)

    # ------------------------------------------------------------ updates
    def notify(self, kind: str, payload: dict) -> None:
        if kind == "book":
            self.hub.mark_dirty(payload["market_id"])
        elif kind == "trade":
            self.hub.publish(
                {"type": "trade", "market_id": payload["market_id"], "trade": trade_json(payload["trade"])}
            )
        elif kind == "reorg":  # trades of dropped blocks are gone: subscribers drop them too
            self.metrics.reorgs.inc()
            for t in payload["trades"]:
                self.hub.publish(
                    {"type": "trade_removed", "market_id": t.market_id, "trade": trade_json(t), "reorg": True}
                )


def personal_digest(text: str) -> bytes:
    """EIP-191 version 0x45 (personal_sign) hash of `text`: what a wallet signs for a cancel."""
    data = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def order_json(so: StoredOrder) -> dict:
    o = so.order
    return {
        "hash": so.hash,
        "order": {
            "trader": o.trader,
            "market_id": str(o.market_id),
            "is_buy": o.is_buy,
            "quantity": str(o.quantity),
            "price": str(o.price),
            "nonce": str(o.nonce),
            "expiry": str(o.expiry),
            "reduce_only": o.reduce_only,
        },
        "signature": "0x" + so.signature.hex(),
        "status": so.status,
        "remaining": str(so.remaining),
        "seq": so.seq,
        "created_at": so.created_at,
        "reason": so.reason,
    }


def trade_json(t: Trade) -> dict:
    return {
        "market_id": t.market_id,
        "order_hash": t.order_hash,
        "maker": t.maker,
        "taker": t.taker,
        "maker_is_buy": t.maker_is_buy,
        "quantity": str(t.quantity),
        "price": str(t.price),
        "tx_hash": t.tx_hash,
        "log_index": t.log_index,
        "block_number": t.block_number,
        "block_hash": t.block_hash,
        "timestamp": t.timestamp,
    }


def book_json(b: dict, block: int) -> dict:
    lv = lambda rows: [[str(r["price"]), str(r["quantity"])] for r in rows]  # noqa: E731
    detail = lambda rows: [
        {"price": str(r["price"]), "quantity": str(r["quantity"]), "orders": r["orders"]}  # noqa: E731
        for r in rows
    ]
    return {
        "market_id": b["market_id"],
        "bids": lv(b["bids"]),
        "asks": lv(b["asks"]),
        "bid_levels": detail(b["bids"]),
        "ask_levels": detail(b["asks"]),
        "orders": [order_json(so) for so in b["orders"]],
        "bid_orders": b.get("bid_orders", len(b["bids"])),
        "ask_orders": b.get("ask_orders", len(b["asks"])),
        "block": block,
    }
