"""HTTP client of the order relay (keepers/matcher), over httpx.

The relay is optional: orders can always be taken on-chain with ``Client.fill``. This is the
interface the SDK expects of it (the relay implements it):

    POST   /orders                      body SignedOrder.as_json()      -> {"hash": ..., ...}
    DELETE /orders/{hash}               header X-Signature: EIP-191 signature of "cancel:{hash}"
    GET    /markets/{id}/book           -> {"bids": [[price, qty], ...], "asks": [...],
                                            "orders": [SignedOrder json, ...]}  (prices/qty in chain units)
    GET    /markets/{id}/trades         -> [{"price": int, "quantity": int, "maker_is_buy": bool,
                                             "tx_hash": str, "timestamp": int, ...}, ...]
    GET    /orders?trader=0x..          -> [SignedOrder json, ...]

Errors are 4xx/5xx with a JSON ``detail``; they raise :class:`sdk.errors.RelayError`.
Thread-safety: one ``httpx.Client`` (itself thread-safe) per RelayClient.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from core import units as u
from sdk.errors import RelayError
from sdk.models import SignedOrder


@dataclass(frozen=True)
class BookLevel:
    price_units: int
    quantity_units: int

    @property
    def price(self) -> Decimal:
        return u.base_to_usd(self.price_units)

    @property
    def quantity(self) -> Decimal:
        return u.units_to_quantity(self.quantity_units)


@dataclass(frozen=True)
class Book:
    market_id: int
    bids: tuple[BookLevel, ...]  # best (highest) first
    asks: tuple[BookLevel, ...]  # best (lowest) first
    orders: tuple[SignedOrder, ...] = ()

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None


class RelayClient:
    def __init__(self, base_url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw) -> Any:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise RelayError(f"order relay at {self.base_url} is unreachable ({type(e).__name__}): "
                             f"check the URL or trade on-chain with fill()", status=None, detail=str(e)) from e
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise RelayError(f"order relay refused {method} {path} ({r.status_code}): {detail}",
                             status=r.status_code, detail=detail)
        return r.json() if r.content else None

    def post_order(self, signed: SignedOrder) -> dict[str, Any]:
        return self._call("POST", "/orders", json=signed.as_json()) or {}

    def cancel(self, order_hash: str, signature: str) -> dict[str, Any]:
        """``signature``: the trader's EIP-191 signature of ``f"cancel:{order_hash}"``."""
        return self._call("DELETE", f"/orders/{order_hash}", headers={"X-Signature": signature}) or {}

    def book(self, market_id: int) -> Book:
        d = self._call("GET", f"/markets/{int(market_id)}/book") or {}
        lv = lambda rows: tuple(BookLevel(int(p), int(q)) for p, q in rows)  # noqa: E731
        return Book(int(market_id), lv(d.get("bids", [])), lv(d.get("asks", [])),
                    tuple(SignedOrder.from_json(o) for o in d.get("orders", [])))

    def trades(self, market_id: int) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/markets/{int(market_id)}/trades") or [])

    def orders(self, trader: str) -> list[SignedOrder]:
        return [SignedOrder.from_json(o) for o in self._call("GET", "/orders", params={"trader": trader}) or []]
