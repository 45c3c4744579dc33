"""Keeps the relay's book true to the chain.

* `EventFollower.poll_once()` reads Exchange logs from the stored cursor to the head:
  `OrderFilled` records the trade and re-reads `remaining` of the maker's order and of the
  taker's open orders in that market (match_orders logs only the maker's hash);
  `OrderCancelled` kills the order; `MinNonceSet` kills the trader's orders below the new
  minimum. The cursor lives in the store (`follower_block`), so several relays sharing one
  database share it; trade rows are keyed by (tx, log index), so replays are harmless.
  `confirmations` blocks are left unread at the head (`default_confirmations(chain_id)`).
* Reorgs: the follower keeps (number, hash, parent hash) of the last `REORG_DEPTH` blocks it
  processed (store table `blocks`). Each poll first asks the chain for the hash at its newest
  kept block; if the chain has another block there (or none), it walks down its kept blocks to
  the last one the chain still has, and rolls back from the block above it (`rollback`):
  trades of the dropped blocks are deleted, orders that died of chain state read at or after
  that block (filled, cancelled on-chain, min nonce, expired: `chain_block`) are re-checked
  against the new branch and reopened if alive, open orders the dropped trades touched are
  re-read, and the cursor moves back, so the new branch is replayed. While it reads a new
  range it checks that each new block's parent is the block before it and that every log
  comes from the block it fetched; a mismatch (a reorg during the read) stops the round
  before anything is recorded. Trades the matcher recorded from a receipt carry their block
  hash; one whose block is not on the chain the follower walks is deleted. A reorg deeper
  than `REORG_DEPTH` rolls back the whole kept window and is logged as an error.
* Leases: an order claimed by a matcher that crashed or hung (its lease ran out) is
  re-read from the chain and released by whichever follower or re-validator runs next.
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

REORG_DEPTH = 128  # processed blocks whose hashes are kept to detect (and undo) a reorg
# Blocks left unread at the head, per chain id. Post-merge Ethereum reorgs are rare and one or
# two blocks deep (finality is ~2 epochs, too slow for a book); rollups reorg only if their
# sequencer does; Polygon PoS has reorged dozens of blocks. Any reorg within REORG_DEPTH is
# detected and undone anyway: confirmations only make it rarer that a client sees a fill that
# later disappears. Unknown chains get the cautious value.
DEFAULT_CONFIRMATIONS = {
    31337: 0,  # anvil / hardhat
    1337: 0,
    1: 2,  # Ethereum
    11155111: 2,  # Sepolia
    10: 1,  # OP Mainnet
    8453: 1,  # Base
    42161: 1,  # Arbitrum One
    137: 32,  # Polygon PoS
}
UNKNOWN_CHAIN_CONFIRMATIONS = 12


def default_confirmations(chain_id: int) -> int:
    return DEFAULT_CONFIRMATIONS.get(int(chain_id), UNKNOWN_CHAIN_CONFIRMATIONS)


class ReorgDuringRead(Exception):
    """The chain changed under a range being read: record nothing, the next poll rolls back."""


Notify = Callable[[str, dict], None]  # (kind "book"|"trade", payload)


def trade_from_log(lg: dict) -> Trade:
    a = ORDER_FILLED.decode(lg)
    t = Trade(
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
        (lg.get("blockHash") or "").lower(),
    )
    return t


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
        """Undo a reorg if there was one, then process new logs; returns how many were handled."""
        reconcile_leases(self.store, self.validator, self.chain)
        latest = int(self.chain.rpc("eth_blockNumber"), 16)
        head = latest - self.confirmations
        fork = self.find_fork()
        if fork is not None:
            self.rollback(fork)
        cursor = self.store.get_meta(self.CURSOR)
        start = int(cursor) + 1 if cursor is not None else self.start_block
        handled = 0
        topics = [[TOPIC_FILLED, TOPIC_CANCELLED, TOPIC_MIN_NONCE]]
        page_start = start
        try:
            for end, logs in paged(lambda a, b: self.chain.logs(a, b, topics), start, head, self.chunk):
                headers = self._headers(max(page_start, latest - REORG_DEPTH + 1), end)
                for lg in logs:
                    n = int(lg["blockNumber"], 16)
                    if n in headers and (lg.get("blockHash") or "").lower() != headers[n][0]:
                        raise ReorgDuringRead(f"log of block {n} is from another branch")
                if headers:
                    self._drop_orphan_trades(min(headers), end, headers)
                if logs:
                    self.chain.invalidate()
                for lg in logs:
                    self.handle(lg)
                    handled += 1
                self.store.record_blocks([(n, h, p) for n, (h, p) in headers.items()], REORG_DEPTH)
                self.store.set_meta(self.CURSOR, str(end))
                self.block = end
                page_start = end + 1
        except ReorgDuringRead as e:
            log.warning("reorg while reading blocks: %s; the next poll rolls back", e)
        return handled

    def _headers(self, lo: int, hi: int) -> dict[int, tuple[str, str]]:
        """number -> (hash, parent hash) for blocks lo..hi, checked to form one chain that
        continues the blocks already kept."""
        if lo > hi:
            return {}
        kept = self.store.recent_blocks()
        out: dict[int, tuple[str, str]] = {}
        for n in range(lo, hi + 1):
            hdr = self.chain.block_header(n)
            if hdr is None:
                raise ReorgDuringRead(f"block {n} vanished")
            _, h, parent = hdr
            before = out.get(n - 1) or kept.get(n - 1)
            if before is not None and before[0] != parent:
                raise ReorgDuringRead(f"block {n}'s parent {parent} is not the block {n - 1} read before")
            out[n] = (h, parent)
        return out

    def _drop_orphan_trades(self, lo: int, hi: int, headers: dict[int, tuple[str, str]]) -> None:
        """Trades recorded (by a matcher, from its receipt) in blocks lo..hi that are not the
        chain's blocks: their transaction was dropped or re-mined elsewhere."""
        gone = [
            t
            for t in self.store.trades_in(lo, hi)
            if t.block_hash and t.block_number in headers and headers[t.block_number][0] != t.block_hash
        ]
        if gone:
            self.store.drop_trades((t.tx_hash, t.log_index) for t in gone)
            log.warning("dropped %d trade(s) from blocks no longer on the chain", len(gone))
            self._reconcile(min(t.block_number for t in gone), gone)

    def find_fork(self) -> int | None:
        """The first kept block the chain no longer has (None: no reorg below the cursor)."""
        kept = self.store.recent_blocks()
        if not kept:
            return None
        for n in sorted(kept, reverse=True):
            hdr = self.chain.block_header(n)
            if hdr is not None and hdr[1] == kept[n][0]:
                return None if n == max(kept) else n + 1
        log.error("reorg deeper than the %d blocks kept: rolling back all of them", len(kept))
        return min(kept)

    def rollback(self, fork: int) -> None:
        """Undo what the follower derived from blocks >= fork; the next read replays them."""
        gone = self.store.rollback(fork, self.CURSOR)
        self.block = fork - 1
        fills = getattr(self.chain, "fills", None)
        if fills is not None:  # the chain view's log index re-reads the new branch too
            fills.reorged(fork)
        log.warning("reorg: rolled back from block %d (%d trade(s) removed)", fork, len(gone))
        self._reconcile(fork, gone)
        self.notify("reorg", {"from_block": fork, "trades": gone})

    def _reconcile(self, fork: int, gone: list[Trade]) -> None:
        """Re-read from the chain the orders whose state came from blocks >= fork."""
        self.chain.invalidate()
        markets: set[int] = {t.market_id for t in gone}
        for so in self.store.revivable(fork):
            status, _, rem = self.validator.still_alive(so)
            if status is None and self.store.revive(so.hash, rem, fork):
                markets.add(so.order.market_id)
                log.info("reorg: order %s is alive again (remaining %d)", so.hash, rem)
        for t in gone:
            touched = [self.store.get(t.order_hash)] + self.store.query(trader=t.taker, market_id=t.market_id)
            for so in touched:
                if so is not None and so.status == OPEN:
                    self._refresh(so)
        for mid in markets:
            self.notify("book", {"market_id": mid})

    def handle(self, lg: dict) -> None:
        t0 = lg["topics"][0].lower()
        block = int(lg["blockNumber"], 16)
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
            if so is not None and self.store.kill(h, "cancelled", "cancelled on-chain", block):
                self.notify("book", {"market_id": so.order.market_id})
        elif t0 == TOPIC_MIN_NONCE:
            a = MIN_NONCE_SET.decode(lg)
            trader, min_nonce = a["trader"], a["min_nonce"]
            affected = {so.order.market_id for so in self.store.query(trader=trader)}
            if self.store.kill_below_nonce(trader, min_nonce, block):
                for mid in affected:
                    self.notify("book", {"market_id": mid})

    def _refresh(self, so) -> None:
        if so.in_flight and not lease_expired(so):
            return  # the matcher owns it until it releases it (or its lease runs out)
        block = self.chain.head()[0]  # read before the state: the verdict holds from this block on
        status, reason, rem = self.validator.still_alive(so)
        if status:
            self.store.kill(so.hash, status, reason, block)
        elif rem != so.remaining:
            self.store.set_remaining(so.hash, rem, block)


def lease_expired(so, now: float | None = None) -> bool:
    return so.in_flight and (so.claim_until is None or so.claim_until < (time.time() if now is None else now))


def reconcile_leases(store: OrderStore, validator: OrderValidator, chain) -> int:
    """Orders whose in-flight lease ran out (the matcher that claimed them crashed or hung):
    read each from the chain (its match may have landed), record what the chain says, release
    it. Safe in any number of processes: the release is conditional on the lease still being
    the expired one. Returns how many were released."""
    n = 0
    for so in store.expired_claims():
        try:
            block = chain.head()[0]
            status, reason, rem = validator.still_alive(so)
        except Exception as e:  # noqa: BLE001 - cannot tell now: leave the claim for the next round
            log.warning("lease of %s expired but the chain cannot be read: %s", so.hash, e)
            return n
        if status:
            store.kill(so.hash, status, reason, block)
        else:
            if rem != so.remaining:
                store.set_remaining(so.hash, rem, block)
            n += store.release_expired(so.hash)
        log.warning("expired claim on %s reconciled with the chain: %s", so.hash, status or f"open, remaining {rem}")
    return n


class Revalidator:
    def __init__(self, store: OrderStore, validator: OrderValidator, notify: Notify | None = None):
        self.store, self.validator = store, validator
        self.notify = notify or (lambda kind, payload: None)

    def run_once(self) -> dict[str, int]:
        dropped: dict[str, int] = defaultdict(int)
        markets: set[int] = set()
        by_trader: dict[str, list] = defaultdict(list)
        try:
            reconcile_leases(self.store, self.validator, self.validator.chain)
            block = self.validator.chain.head()[0]
        except Exception as e:  # noqa: BLE001 - an RPC hiccup must not drop orders
            log.warning("revalidation read failed: %s", e)
            return dict(dropped)
        for so in self.store.query(status=OPEN, limit=1_000_000):
            if so.in_flight:
                continue
            try:
                status, reason, rem = self.validator.still_alive(so)
            except Exception as e:  # noqa: BLE001 - an RPC hiccup must not drop orders
                log.warning("revalidation read failed: %s", e)
                return dict(dropped)
            if status:
                if self.store.kill(so.hash, status, reason, block):
                    dropped[status] += 1
                    markets.add(so.order.market_id)
                continue
            if rem != so.remaining:
                self.store.set_remaining(so.hash, rem, block)
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
