"""Order book views and price-time match selection: pure functions over stored orders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from relay.store import StoredOrder


def sides(orders: Iterable[StoredOrder]) -> tuple[list[StoredOrder], list[StoredOrder]]:
    """(bids best first, asks best first): price priority, then arrival (seq) priority."""
    bids = sorted((o for o in orders if o.order.is_buy), key=lambda o: (-o.order.price, o.seq))
    asks = sorted((o for o in orders if not o.order.is_buy), key=lambda o: (o.order.price, o.seq))
    return bids, asks


def levels(side: list[StoredOrder], depth: int | None = None) -> list[dict]:
    """Aggregate a sorted side into price levels: {price, quantity, orders}."""
    out: list[dict] = []
    for o in side:
        if out and out[-1]["price"] == o.order.price:
            out[-1]["quantity"] += o.remaining
            out[-1]["orders"] += 1
        else:
            if depth is not None and len(out) == depth:
                break
            out.append({"price": o.order.price, "quantity": o.remaining, "orders": 1})
    return out


@dataclass(frozen=True)
class Match:
    maker: StoredOrder  # the earlier order: its price is the execution price
    taker: StoredOrder
    quantity: int

    @property
    def price(self) -> int:
        return self.maker.order.price

    @property
    def pair(self) -> tuple[str, str]:
        return self.maker.hash, self.taker.hash


def select_match(
    orders: Iterable[StoredOrder], step: int = 1, skip: set[tuple[str, str]] | frozenset = frozenset()
) -> Match | None:
    """The first crossing pair in price-time priority.

    Best bid against best ask; an order never trades with its own trader (the next ask in
    priority is tried instead, then the next bid), in-flight orders and `skip` pairs (recent
    failures) are passed over. The maker is the order that arrived first (lower seq); the
    quantity is the smaller remaining, rounded down to the market's step.
    """
    live = [o for o in orders if not o.in_flight and o.remaining > 0]
    bids, asks = sides(live)
    for b in bids:
        for a in asks:
            if a.order.price > b.order.price:
                break
            if a.order.trader == b.order.trader:
                continue
            maker, taker = (b, a) if b.seq < a.seq else (a, b)
            if (maker.hash, taker.hash) in skip:
                continue
            q = min(a.remaining, b.remaining) // step * step
            if q <= 0:
                continue
            return Match(maker, taker, q)
    return None
