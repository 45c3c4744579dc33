from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from relay.deps import RelayDep
from relay.relay import BOOK_ORDERS_LIMIT, BOOK_ORDERS_MAX, book_json, trade_json
from relay.schemas import BookPublic, TradePublic

router = APIRouter(prefix="/markets", tags=["markets"])


@router.get("/{market_id}/book", response_model=BookPublic)
def get_book(
    market_id: int,
    relay: RelayDep,
    depth: int | None = Query(default=None, ge=1),
    limit: int = Query(default=BOOK_ORDERS_LIMIT, ge=0, le=BOOK_ORDERS_MAX, description="raw orders per side"),
    offset: int = Query(default=0, ge=0, description="skip this many raw orders per side (paging)"),
):
    """Aggregated price levels (best first) and the raw open orders in priority order, paged
    per side (`limit`, `offset`; `bid_orders`/`ask_orders` say how many there are)."""
    # built as plain JSON here: re-validating thousands of nested dicts against the response
    # model cost more than reading them (the model stays the documented schema)
    return JSONResponse(book_json(relay.book(market_id, depth, limit, offset), relay.chain.head()[0]))


@router.get("/{market_id}/trades", response_model=list[TradePublic])
def get_trades(market_id: int, relay: RelayDep, limit: int = Query(default=100, le=5_000)) -> list[dict]:
    """Fills in this market seen on-chain (OrderFilled), newest first."""
    return [trade_json(t) for t in relay.trades(market_id, limit)]
