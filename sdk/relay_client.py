"""HTTP client of the order relay (relay), over httpx.

The relay is optional: orders can always be taken on-chain with ``Client.fill``. This is the
interface the SDK expects of it (the relay implements it):

    POST   /orders                      body SignedOrder.as_json()      -> {"hash": ..., ...}
    DELETE /orders/{hash}               header X-Signature: EIP-191 signature of "cancel:{hash}"
    GET    /markets/{id}/book           -> {"bids": [[price, qty], ...], "asks": [...],
                                            "orders": [SignedOrder json, ...]}  (prices/qty in chain units)
    GET    /markets/{id}/trades         -> [{"price": int, "quantity": int, "maker_is_buy": bool,
                                             "tx_hash": str, "timestamp": int, ...}, ...]
    GET    /orders?trader=0x..&status=  -> [SignedOrder json + status, remaining, created_at, reason, ...]

Errors are 4xx/5xx with a JSON ``detail`` (and a machine ``code`` plus fields such as
``missing``); they raise :class:`sdk.errors.RelayError` carrying ``status``, ``detail``,
``code`` and those fields.

Posting is idempotent: an order is keyed by its EIP-712 hash, so a retry after a timeout or a
dropped connection may find it already stored. The relay answers that with 409 ``duplicate``;
:meth:`RelayClient.post_order` treats it as success for the order it posted (the relay holds
exactly that signed order) and returns ``{"hash": ..., "duplicate": True}``.
Thread-safety: one ``httpx.Client`` (itself thread-safe) per RelayClient.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from core import units as u
from core.margin import Resting
from sdk.errors import RelayError, usd_text
from sdk.models import SignedOrder


@dataclass(frozen=True)
class BookLevel:
    price_units: int
    quantity_units: int
    orders: int = 0  # resting orders at this price (0: the relay did not say)

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
    block: int | None = None  # block the relay last read the chain at

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None


@dataclass(frozen=True)
class RelayOrder:
    """An order as the relay holds it: the signed order plus its status there."""

    signed: SignedOrder
    status: str  # open | filled | cancelled | expired | rejected
    remaining_units: int  # thousandths still fillable, as the relay last read the chain
    created_at: float  # unix s, the relay's clock when it accepted the order
    reason: str = ""

    @property
    def order(self):
        return self.signed.order

    @property
    def hash(self) -> str:
        return self.signed.hash

    @property
    def remaining(self) -> Decimal:
        return u.units_to_quantity(self.remaining_units)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RelayOrder:
        return cls(
            SignedOrder.from_json(d),
            str(d.get("status", "open")),
            int(d.get("remaining", d["order"]["quantity"])),
            float(d.get("created_at") or 0),
            str(d.get("reason") or ""),
        )


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
            raise RelayError(
                f"order relay at {self.base_url} is unreachable ({type(e).__name__}): "
                f"check the URL or trade on-chain with fill()",
                status=None,
                detail=str(e),
            ) from e
        if r.status_code >= 400:
            raise self._refusal(r, f"order relay refused {method} {path} ({r.status_code})")
        return r.json() if r.content else None

    @staticmethod
    def _refusal(r: httpx.Response, what: str) -> RelayError:
        """The relay's 4xx/5xx as a RelayError: ``detail``, ``code`` and any extra fields
        (``missing``, ``free``, ``required`` in base units for ``insufficient_margin``)."""
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"detail": r.text[:300]}
        detail = body.get("detail", r.text[:300])
        detail = detail if isinstance(detail, str) else str(detail)
        code = str(body.get("code") or "")
        # (a relay's own `message`, if one ever sends it, must not clash with the error's message)
        extra = {k: str(v) for k, v in body.items() if k not in ("detail", "code", "status", "message")}
        return RelayError(f"{what}: {detail}", status=r.status_code, detail=detail, code=code, **extra)

    def post_order(self, signed: SignedOrder) -> dict[str, Any]:
        """Post a signed order; returns the relay's stored order (``hash``, ``status``, ...).

        Safe to retry: a 409 ``duplicate`` for this very order means an earlier attempt got
        through, so it returns ``{"hash": signed.hash, "duplicate": True}`` instead of raising.
        Any other refusal raises :class:`RelayError` whose message reads "the relay rejected
        the order (<code>): <detail>" (with the missing margin in USD when it says so)."""
        try:
            r = self._http.post("/orders", json=signed.as_json())
        except httpx.HTTPError as e:
            raise RelayError(
                f"order relay at {self.base_url} is unreachable ({type(e).__name__}): "
                f"check the URL or trade on-chain with fill()",
                status=None,
                detail=str(e),
            ) from e
        if r.status_code == 409:
            err = self._refusal(r, "")
            # the relay keys orders by EIP-712 hash: a duplicate of this hash is this signed order
            if err.code == "duplicate" and signed.hash.lower() in (err.detail or "").lower():
                return {"hash": signed.hash, "duplicate": True}
        if r.status_code >= 400:
            err = self._refusal(r, "")
            msg = f"the relay rejected the order ({err.code or r.status_code}): {err.detail}"
            missing = getattr(err, "missing", None)
            if err.code == "insufficient_margin" and missing is not None and "missing" not in err.detail:
                try:
                    msg += f" [missing {usd_text(u.base_to_usd(int(missing)))}]"
                except ValueError:
                    pass
            err.message = msg
            err.args = (msg,)
            raise err
        return r.json() if r.content else {}

    def cancel(self, order_hash: str, signature: str) -> dict[str, Any]:
        """``signature``: the trader's EIP-191 signature of ``f"cancel:{order_hash}"``."""
        return self._call("DELETE", f"/orders/{order_hash}", headers={"X-Signature": signature}) or {}

    def book(self, market_id: int, depth: int | None = None) -> Book:
        """The market's open book: levels best first (``depth`` levels per side when given),
        each with its order count, and the raw signed orders in priority order."""
        params = {"depth": int(depth)} if depth is not None else None
        d = self._call("GET", f"/markets/{int(market_id)}/book", params=params) or {}

        def lv(rows, detail) -> tuple[BookLevel, ...]:
            if detail is not None:
                return tuple(BookLevel(int(x["price"]), int(x["quantity"]), int(x.get("orders", 0))) for x in detail)
            return tuple(BookLevel(int(p), int(q)) for p, q in rows)

        block = d.get("block")
        return Book(
            int(market_id),
            lv(d.get("bids", []), d.get("bid_levels")),
            lv(d.get("asks", []), d.get("ask_levels")),
            tuple(SignedOrder.from_json(o) for o in d.get("orders", [])),
            int(block) if block is not None else None,
        )

    def trades(self, market_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Fills the relay saw on-chain, newest first: chain units, ``timestamp`` in unix s."""
        params = {"limit": int(limit)} if limit is not None else None
        return list(self._call("GET", f"/markets/{int(market_id)}/trades", params=params) or [])

    def orders(self, trader: str) -> list[SignedOrder]:
        """``trader``'s open orders at the relay."""
        return [SignedOrder.from_json(o) for o in self._call("GET", "/orders", params={"trader": trader}) or []]

    def order_statuses(self, trader: str, status: str = "open", limit: int | None = None) -> list[RelayOrder]:
        """``trader``'s orders with their relay status (``status``: open, filled, cancelled,
        expired, rejected, or ``"all"``), newest rows as the relay lists them."""
        params: dict[str, Any] = {"trader": trader, "status": status}
        if limit is not None:
            params["limit"] = int(limit)
        return [RelayOrder.from_json(o) for o in self._call("GET", "/orders", params=params) or []]

    def open_exposure(self, trader: str) -> list[Resting]:
        """The trader's open orders as the relay's margin rule sees them (remaining thousandths
        as the relay last read them from the chain; reduce-only orders reserve nothing)."""
        rows = self._call("GET", "/orders", params={"trader": trader, "status": "open", "limit": 10_000}) or []
        return exposure_from_json(rows)


def exposure_from_json(rows: list[dict[str, Any]]) -> list[Resting]:
    """``GET /orders`` rows -> :class:`core.margin.Resting` of the open, not reduce-only ones."""
    out = []
    for r in rows:
        o = r["order"]
        if r.get("status", "open") != "open" or o.get("reduce_only"):
            continue
        out.append(Resting(int(o["market_id"]), bool(o["is_buy"]), int(r["remaining"]), int(o["price"])))
    return out
