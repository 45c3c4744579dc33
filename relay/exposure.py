"""Each trader's reserved margin, kept incrementally (issue 12, point 8).

The margin pre-check used to re-read all of a trader's open orders from SQL and re-run
`core.margin.order_need` over every one of them on each post (one trader fell from 413 to 290
posts/s as its open orders grew from 189 to 789). `ExposureBook` keeps, per trader and market,
the open not-reduce-only orders and the per-side sums of `order_need`, computed with the market
parameters (initial margin fixed and rate, mark) and fee they were summed at:

  * a post adds one order's need to its side (O(1));
  * a kill, a fill or a nonce cancel subtracts it (the store calls the hooks below);
  * when the mark or margin parameters of a market move (a new oracle push), that market's sums
    are recomputed from the kept rows once, on the next check;
  * the verdict is `core.margin.reserved_from_sides` over those sums: the same rule, the same
    integers as `core.margin.reservation` over the rows (test_relay_exposure.py checks it on
    random books and histories).

What the book cannot see: orders written by another relay process on the same database (or by
a store method that does not call the hooks). Every trader's entry is therefore reloaded from
the store when older than `ttl` seconds (default 2 s): with two relays on one PostgreSQL a trader
posting to both at once can, for at most that long, rest more than its margin carries. The
chain is the final judge: such orders fail the matcher's simulation and are dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.margin import MarketMargin, OrderMarket, Reservation, Resting, order_need, reserved_from_sides

Loader = Callable[[str], list[tuple[str, int, bool, int, int]]]  # trader -> [(hash, mid, is_buy, remaining, price)]
MAX_TRADERS = 100_000  # entries kept before the book starts over (each reloads on its next post)


@dataclass
class _Market:
    rows: dict[str, Resting] = field(default_factory=dict)
    key: tuple | None = None  # (im_fixed, im_rate_bps, mark, fee_bps) the sums were computed at
    buy: int = 0
    sell: int = 0
    needs: dict[str, int] = field(default_factory=dict)  # each row's order_need at `key`

    def need(self, r: Resting) -> int:
        im_fixed, im_rate_bps, mark, fee_bps = self.key
        return order_need(r.is_buy, r.remaining, r.price, MarketMargin(im_fixed, im_rate_bps, mark), fee_bps)

    def resum(self, key: tuple) -> None:
        self.key, self.buy, self.sell = key, 0, 0
        self.needs = {}
        for h, r in self.rows.items():
            self._apply(h, r)

    def _apply(self, h: str, r: Resting) -> None:
        n = self.needs[h] = self.need(r)
        if r.is_buy:
            self.buy += n
        else:
            self.sell += n

    def put(self, h: str, r: Resting) -> bool:
        """Keep row `h`; False when it was already kept exactly so (nothing to do: the batch
        post reserves a row before the store writes it, then the store's hook reports it)."""
        if self.rows.get(h) == r:
            return False
        self.drop(h)
        self.rows[h] = r
        if self.key is not None:
            self._apply(h, r)
        return True

    def drop(self, h: str) -> None:
        r = self.rows.pop(h, None)
        n = self.needs.pop(h, None)
        if r is not None and n is not None:
            if r.is_buy:
                self.buy -= n
            else:
                self.sell -= n


@dataclass
class _Trader:
    loaded_at: float
    markets: dict[int, _Market] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(m.rows) for m in self.markets.values())


class ExposureBook:
    def __init__(self, load: Loader, ttl: float = 2.0):
        self._load, self.ttl = load, ttl
        self._lock = threading.RLock()
        self._traders: dict[str, _Trader] = {}
        self._owner: dict[str, tuple[str, int]] = {}  # order hash -> (trader, market) of kept rows
        # checked but not yet written (a batch post): survive a reload until `settle`
        self._pending: dict[str, tuple[str, Resting]] = {}
        self.loads = 0  # reloads from the store (tests, metrics)

    def _entry(self, trader: str) -> _Trader:
        t = self._traders.get(trader)
        if t is not None and time.monotonic() - t.loaded_at < self.ttl:
            return t
        if t is not None:
            self._forget(trader, t)
        if len(self._traders) >= MAX_TRADERS:
            self._traders.clear()
            self._owner.clear()
        # under the lock: a hook that runs meanwhile (its row already committed) waits, then
        # finds the row loaded or adds it; either way it is counted once
        t = _Trader(time.monotonic())
        rows = [(h, Resting(mid, is_buy, rem, price)) for h, mid, is_buy, rem, price in self._load(trader)]
        rows += [(h, r) for h, (tr, r) in self._pending.items() if tr == trader]
        for h, r in rows:
            t.markets.setdefault(r.market_id, _Market()).put(h, r)
            self._owner[h] = (trader, r.market_id)
        self._traders[trader] = t
        self.loads += 1
        return t

    def _forget(self, trader: str, t: _Trader) -> None:
        for m in t.markets.values():
            for h in m.rows:
                self._owner.pop(h, None)
        self._traders.pop(trader, None)

    # ------------------------------------------------------------ the check
    def count(self, trader: str) -> int:
        """Open, not reduce-only orders the trader has in the relay."""
        with self._lock:
            return self._entry(trader).count

    def reservation(
        self,
        trader: str,
        free: int,
        new: Resting | None,
        market: Callable[[int], OrderMarket | None],
        fee_bps: int,
    ) -> Reservation:
        """`core.margin.reservation(free, <the trader's open orders>, new, markets, fee_bps)`,
        from the kept sums. `market(mid)` gives a market's current parameters (None: unlisted,
        reserves nothing, as in core)."""
        with self._lock:
            t = self._entry(trader)
            buys, sells = self._sides(t, market, fee_bps)
            before = reserved_from_sides(buys, sells)
            need = before
            if new is not None and new.remaining > 0:
                mi = market(new.market_id)
                if mi is not None:
                    side = buys if new.is_buy else sells
                    side[new.market_id] = side.get(new.market_id, 0) + order_need(
                        new.is_buy, new.remaining, new.price, mi, fee_bps
                    )
                    need = reserved_from_sides(buys, sells)
            return Reservation(before, need, int(free))

    def excess(
        self,
        trader: str,
        free: int,
        youngest_first: list[str],
        market: Callable[[int], OrderMarket | None],
        fee_bps: int,
    ) -> list[str]:
        """Which of `youngest_first` (order hashes, youngest first) to drop so that what the
        trader's open orders reserve fits `free` ("margin gone"): each is dropped in turn until
        they fit, from the kept per-side sums (O(markets) per drop; the re-validator used to
        re-run `core.margin.reserved` over every remaining order after each drop)."""
        with self._lock:
            t = self._entry(trader)
            buys, sells = self._sides(t, market, fee_bps)
            drop: list[str] = []
            for h in youngest_first:
                if reserved_from_sides(buys, sells) <= free:
                    break
                drop.append(h)
                own = self._owner.get(h)
                km = t.markets.get(own[1]) if own is not None and own[0] == trader else None
                n = km.needs.get(h) if km is not None and own[1] in buys else None
                if n is not None:
                    side = buys if km.rows[h].is_buy else sells
                    side[own[1]] -= n
            return drop

    def _sides(
        self, t: _Trader, market: Callable[[int], OrderMarket | None], fee_bps: int
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Per-market buy and sell sums of the trader's kept orders at the markets' current
        parameters (a market whose mark or margin moved is re-summed once); unlisted: none."""
        buys: dict[int, int] = {}
        sells: dict[int, int] = {}
        for mid, km in t.markets.items():
            mi = market(mid)
            if mi is None:
                continue
            key = (mi.im_fixed, mi.im_rate_bps, mi.mark, fee_bps)
            if km.key != key:
                km.resum(key)
            buys[mid], sells[mid] = km.buy, km.sell
        return buys, sells

    # ------------------------------------------------------------ hooks (the store calls them after its commit)
    def added(self, trader: str, order_hash: str, row: Resting) -> None:
        with self._lock:
            t = self._traders.get(trader)
            if t is None:
                return  # not kept: its next load reads the row from the store
            t.markets.setdefault(row.market_id, _Market()).put(order_hash, row)
            self._owner[order_hash] = (trader, row.market_id)

    def reserve(self, trader: str, order_hash: str, row: Resting) -> None:
        """Count an order that passed the check but is not written yet (the batch post writes
        its orders together); `settle` once it is written or given up."""
        with self._lock:
            self._pending[order_hash] = (trader, row)
            self._entry(trader)
            self.added(trader, order_hash, row)

    def settle(self, hashes, written: bool = True) -> None:
        """End the reservations of `hashes`: written (the rows are in the store now) or not (drop them)."""
        with self._lock:
            for h in hashes:
                self._pending.pop(h, None)
                if not written:
                    self.removed(h)

    def removed(self, order_hash: str) -> None:
        with self._lock:
            own = self._owner.pop(order_hash, None)
            if own is None:
                return
            t = self._traders.get(own[0])
            if t is not None and own[1] in t.markets:
                t.markets[own[1]].drop(order_hash)

    def remaining(self, order_hash: str, remaining: int) -> None:
        if remaining <= 0:
            self.removed(order_hash)
            return
        with self._lock:
            own = self._owner.get(order_hash)
            if own is None:
                return
            t = self._traders.get(own[0])
            km = t.markets.get(own[1]) if t is not None else None
            r = km.rows.get(order_hash) if km is not None else None
            if r is not None:
                km.put(order_hash, r._replace(remaining=remaining))

    def forget(self, trader: str) -> None:
        """Drop what is kept of `trader` (reloaded on the next check)."""
        with self._lock:
            t = self._traders.get(trader)
            if t is not None:
                self._forget(trader, t)
