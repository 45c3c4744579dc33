"""Keeps the relay's book true to the chain.

* `EventFollower.poll_once()` reads Exchange logs from the stored cursor to the head:
  `OrderFilled` records the trade and re-reads `remaining` of the maker's order and of the
  taker's open orders in that market (match_orders logs only the maker's hash);
  `OrderCancelled` kills the order; `MinNonceSet` kills the trader's orders below the new
  minimum. The cursor lives in the store (`follower_block`), so several relays sharing one
  database share it; trade rows are keyed by (tx, log index), so replays are harmless.
  `confirmations` blocks are left unread at the head (0 on anvil) to ride out shallow reorgs.
* `Revalidator.run_once()` re-checks every open order: expiry, market closed, min nonce,
  on-chain remaining, and each trader's free margin (the youngest orders that no longer fit
  are dropped: "margin gone").
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable

from chain.logs import paged
from relay.chainview import (
    MIN_NONCE_SET,
    ORDER_CANCELLED,
    ORDER_FILLED,
    TOPIC_CANCELLED,
    TOPIC_FILLED,
    TOPIC_MIN_NONCE,
    RpcChain,
)
from relay.store import OPEN, REJECTED, OrderStore, Trade
from relay.validation import OrderValidator

log = logging.getLogger("cspread.relay")


Notify = Callable[[str, dict], None]  # (kind "book"|"trade", payload)


def trade_from_log(lg: dict) -> Trade:
    a = ORDER_FILLED.decode(lg)
    return Trade(
        lg["transactionHash"],
        int(lg["logIndex"], 16),
        int(lg["blockNumber"], 16),
        "0x" + a["order_hash"].hex(),
        a["market_id"],
        a["maker"],
        a["taker"],
        a["maker_is_buy"],
        a["quantity"],
        a["price"],
        time.time(),
    )


class EventFollower:
    CURSOR = "follower_block"

    def __init__(
        self,
        chain: RpcChain,
        store: OrderStore,
        validator: OrderValidator,
        start_block: int = 0,
        confirmations: int = 0,
        chunk: int = 2_000,
        notify: Notify | None = None,
    ):
        self.chain, self.store, self.validator = chain, store, validator
        self.start_block, self.confirmations, self.chunk = start_block, confirmations, chunk
        self.notify = notify or (lambda kind, payload: None)
        self.block = -1

    def poll_once(self) -> int:
        """Process new logs; returns how many were handled."""
        head = int(self.chain.rpc("eth_blockNumber"), 16) - self.confirmations
        cursor = self.store.get_meta(self.CURSOR)
        start = int(cursor) + 1 if cursor is not None else self.start_block
        handled = 0
        topics = [[TOPIC_FILLED, TOPIC_CANCELLED, TOPIC_MIN_NONCE]]
        for end, logs in paged(lambda a, b: self.chain.logs(a, b, topics), start, head, self.chunk):
            if logs:
                self.chain.invalidate()
            for lg in logs:
                self.handle(lg)
                handled += 1
            self.store.set_meta(self.CURSOR, str(end))
            self.block = end
        return handled

    def handle(self, lg: dict) -> None:
        t0 = lg["topics"][0].lower()
        if t0 == TOPIC_FILLED:
            t = trade_from_log(lg)
            if self.store.add_trade(t):
                self.notify("trade", {"market_id": t.market_id, "trade": t})
            touched = [so for so in [self.store.get(t.order_hash)] if so is not None and so.status == OPEN]
            touched += [so for so in self.store.query(trader=t.taker, market_id=t.market_id) if so.hash != t.order_hash]
            for so in touched:
                self._refresh(so)
            self.notify("book", {"market_id": t.market_id})
        elif t0 == TOPIC_CANCELLED:
            h = "0x" + ORDER_CANCELLED.decode_topics(lg)["order_hash"].hex()
            so = self.store.get(h)
            if so is not None and self.store.kill(h, "cancelled", "cancelled on-chain"):
                self.notify("book", {"market_id": so.order.market_id})
        elif t0 == TOPIC_MIN_NONCE:
            a = MIN_NONCE_SET.decode(lg)
            trader, min_nonce = a["trader"], a["min_nonce"]
            affected = {so.order.market_id for so in self.store.query(trader=trader)}
            if self.store.kill_below_nonce(trader, min_nonce):
                for mid in affected:
                    self.notify("book", {"market_id": mid})

    def _refresh(self, so) -> None:
        if so.in_flight:
            return  # the matcher owns it until it releases it
        status, reason, rem = self.validator.still_alive(so)
        if status:
            self.store.kill(so.hash, status, reason)
        elif rem != so.remaining:
            self.store.set_remaining(so.hash, rem)


class Revalidator:
    def __init__(self, store: OrderStore, validator: OrderValidator, notify: Notify | None = None):
        self.store, self.validator = store, validator
        self.notify = notify or (lambda kind, payload: None)

    def run_once(self) -> dict[str, int]:
        dropped: dict[str, int] = defaultdict(int)
        markets: set[int] = set()
        by_trader: dict[str, list] = defaultdict(list)
        for so in self.store.query(status=OPEN, limit=1_000_000):
            if so.in_flight:
                continue
            try:
                status, reason, rem = self.validator.still_alive(so)
            except Exception as e:  # noqa: BLE001 - an RPC hiccup must not drop orders
                log.warning("revalidation read failed: %s", e)
                return dict(dropped)
            if status:
                if self.store.kill(so.hash, status, reason):
                    dropped[status] += 1
                    markets.add(so.order.market_id)
                continue
            if rem != so.remaining:
                self.store.set_remaining(so.hash, rem)
                markets.add(so.order.market_id)
                so = type(so)(**{**so.__dict__, "remaining": rem})
            by_trader[so.order.trader].append(so)
        if self.validator.settings.check_margin:
            for trader, orders in by_trader.items():
                for so in self.validator.margin_excess(trader, orders):
                    if self.store.kill(so.hash, REJECTED, "margin gone: free margin no longer covers this order"):
                        dropped["margin"] += 1
                        markets.add(so.order.market_id)
        for mid in markets:
            self.notify("book", {"market_id": mid})
        return dict(dropped)
