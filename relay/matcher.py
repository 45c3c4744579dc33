"""The matching loop's logic: cross resting orders on-chain with `Exchange.match_orders`.

Plain class, chain state in, transactions out (the runner in `service.py` only calls `step()`).

Per market, `book.select_match` picks the first crossing pair in price-time priority (best bid
>= best ask, different traders; the earlier order is the maker and sets the price). Then:

1. `store.claim(maker, taker)` marks both in flight atomically, as a lease of `lease` seconds
   held by this matcher: a second matcher (or the follower/revalidator) leaves them alone, so
   an order is never sent twice. If this process dies holding it, whichever relay process
   runs next after the deadline reads both orders from the chain and releases them
   (`follower.reconcile_leases`); the lease outlasts a send (`TxSender`'s receipt wait);
2. a contract wallet's signature is asked again (EIP-1271 `eth_call`; a Safe may have revoked
   since the post): a refused order is dropped and nothing is sent;
3. `TxSender.transact` (chain.tx) simulates then sends `match_orders(maker, sig, taker, sig, qty)`: one tx at a
   time from the matcher account (which needs only gas), local nonce;
4. success: both orders' `remaining` is re-read from the chain (a partly filled order stays in
   the book with its smaller remaining), the trade is recorded from the receipt's log;
5. failure (simulation revert, on-chain revert, RPC error): both orders are re-validated from
   the chain (expiry, nonce, remaining, the trader's margin); a dead one is dropped with the
   reason, a live one is kept. If both still look alive the pair is skipped for `skip_ttl`
   seconds so the book is not stuck on it. Both are always released: nothing is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass

from eth_abi import encode

from chain.rpc import ChainError
from chain.tx import Call, TxFailed, TxSender
from relay.book import Match, select_match
from relay.chainview import SEL, RpcChain
from relay.follower import TOPIC_FILLED, reconcile_leases, trade_from_log
from relay.orders import ORDER_ABI_TUPLE
from relay.store import REJECTED, OrderStore, StoredOrder
from relay.validation import OrderValidator, order_margin

log = logging.getLogger("cspread.matcher")


@dataclass(frozen=True)
class MatchResult:
    market_id: int
    maker: str
    taker: str
    quantity: int
    price: int
    ok: bool
    tx_hash: str | None = None
    reason: str = ""
    dropped: tuple[str, ...] = ()
    seconds: float = 0.0


def match_calldata(m: Match) -> bytes:
    return SEL["match_orders"] + encode(
        [ORDER_ABI_TUPLE, "bytes", ORDER_ABI_TUPLE, "bytes", "uint256"],
        [m.maker.order.as_tuple(), m.maker.signature, m.taker.order.as_tuple(), m.taker.signature, m.quantity],
    )


class Matcher:
    def __init__(
        self,
        store: OrderStore,
        chain: RpcChain,
        validator: OrderValidator,
        sender: TxSender,
        skip_ttl: float = 30.0,
        max_per_market: int = 20,
        notify=None,
        lease: float = 300.0,
    ):
        self.store, self.chain, self.validator, self.sender = store, chain, validator, sender
        self.skip_ttl, self.max_per_market, self.lease = skip_ttl, max_per_market, lease
        self.notify = notify or (lambda kind, payload: None)
        self._skip: dict[tuple[str, str], float] = {}
        # claims of ours are marked with this, so a late release never frees another's claim
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{id(self) & 0xFFFFFF:x}"
        # a previous run may have died mid-match: its claims are reconciled once their lease
        # ends (not released blindly: another relay on this database may hold live ones)
        reconcile_leases(store, validator, chain)

    def step(self) -> list[MatchResult]:
        """Match every crossing pair we can, market by market."""
        now = time.monotonic()
        self._skip = {k: t for k, t in self._skip.items() if t > now}
        reconcile_leases(self.store, self.validator, self.chain)
        out: list[MatchResult] = []
        for mid in self.store.open_markets():
            for _ in range(self.max_per_market):
                r = self.match_market(mid)
                if r is None:
                    break
                out.append(r)
        return out

    def match_market(self, market_id: int) -> MatchResult | None:
        m = self.chain.market(market_id)
        if m is None:
            return None
        match = select_match(self.store.query(market_id=market_id), m.quantity_step, set(self._skip))
        if match is None or not self.store.claim(match.pair, self.lease, self.owner):
            return None
        t0 = time.perf_counter()
        revoked = self._revoked(match)
        if revoked:
            self.notify("book", {"market_id": market_id})
            return MatchResult(
                market_id,
                match.maker.hash,
                match.taker.hash,
                match.quantity,
                match.price,
                False,
                reason=revoked[0][1],
                dropped=tuple(h for h, _ in revoked),
                seconds=time.perf_counter() - t0,
            )
        try:
            receipt = self.sender.transact(Call(self.chain.exchange, match_calldata(match)))
        except (TxFailed, ChainError) as e:
            reason = getattr(e, "reason", str(e))
            dropped = self._after_failure(match)
            if not dropped:
                self._skip[match.pair] = time.monotonic() + self.skip_ttl
            log.warning(
                "match failed market=%s maker=%s taker=%s qty=%s: %s; dropped %s",
                market_id,
                match.maker.hash,
                match.taker.hash,
                match.quantity,
                reason,
                dropped,
            )
            self.notify("book", {"market_id": market_id})
            return MatchResult(
                market_id,
                match.maker.hash,
                match.taker.hash,
                match.quantity,
                match.price,
                False,
                getattr(e, "tx_hash", None),
                reason,
                tuple(dropped),
                time.perf_counter() - t0,
            )
        self.chain.invalidate()
        try:
            for lg in receipt.logs:
                if (
                    lg["topics"]
                    and lg["topics"][0] == TOPIC_FILLED
                    and lg["address"].lower() == self.chain.exchange.lower()
                ):
                    t = trade_from_log(lg)
                    if self.store.add_trade(t):
                        self.notify("trade", {"market_id": t.market_id, "trade": t})
            for so in (match.maker, match.taker):
                self._refresh(so)
        finally:
            self.store.release(match.pair, self.owner)
        self.notify("book", {"market_id": market_id})
        log.info("matched market=%s qty=%s price=%s tx=%s", market_id, match.quantity, match.price, receipt.tx_hash)
        return MatchResult(
            market_id,
            match.maker.hash,
            match.taker.hash,
            match.quantity,
            match.price,
            True,
            receipt.tx_hash,
            seconds=time.perf_counter() - t0,
        )

    def _revoked(self, match: Match) -> list[tuple[str, str]]:
        """Ask contract wallets again right before sending (a Safe may have revoked since the
        post; ECDSA signatures need no read): drop a refused order, release the pair, send
        nothing. [(hash, reason)] of the dropped; [] to go ahead (also when the node cannot
        answer: the transaction's own simulation is the backstop)."""
        dropped: list[tuple[str, str]] = []
        try:
            for so in (match.maker, match.taker):
                reason = self.validator.revoked(so)
                if reason:
                    self.store.kill(so.hash, REJECTED, reason)
                    dropped.append((so.hash, reason))
        except ChainError as e:
            log.warning("signature re-check before matching failed (the send simulates anyway): %s", e)
        if dropped:
            self.store.release(match.pair, self.owner)
            log.warning("match skipped market=%s: %s", match.maker.order.market_id, dropped)
        return dropped

    def _refresh(self, so: StoredOrder) -> str | None:
        block = self.chain.head()[0]
        status, reason, rem = self.validator.still_alive(so)
        if status:
            self.store.kill(so.hash, status, reason, block)
            return status
        self.store.set_remaining(so.hash, rem, block)
        return None

    def _after_failure(self, match: Match) -> list[str]:
        """Re-validate both orders; drop the dead ones; release the rest."""
        self.chain.invalidate()
        dropped: list[str] = []
        try:
            for so in (match.maker, match.taker):
                if self._refresh(so):
                    dropped.append(so.hash)
                    continue
                if not so.order.reduce_only and self.validator.settings.check_margin:
                    m = self.chain.market(so.order.market_id)
                    acct = self.chain.account(so.order.trader)
                    if (
                        m is not None
                        and order_margin(so.order, match.quantity, m, self.validator.settings.fee_bps) > acct.free
                    ):
                        self.store.kill(so.hash, REJECTED, "margin gone: the trader cannot carry this fill")
                        dropped.append(so.hash)
        except ChainError as e:  # cannot tell: keep both, retry later
            log.warning("re-validation after a failed match failed: %s", e)
        finally:
            self.store.release(match.pair, self.owner)
        return dropped
