from __future__ import annotations

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from relay.deps import RelayDep
from relay.relay import BOOK_ORDERS_LIMIT, BOOK_ORDERS_MAX, book_json, trade_json
from relay.schemas import INT64_MAX, BookPublic, TradePublic, errors

router = APIRouter(prefix="/markets", tags=["markets"])

MarketId = Path(ge=0, le=INT64_MAX, description="the Clearinghouse's market id")
BOOK_OFFSET_MAX = 1_000_000  # past any book the relay can hold (orders per trader are capped)


@router.get("/{market_id}/book", response_model=BookPublic, responses=errors(503))
def get_book(
    relay: RelayDep,
    market_id: int = MarketId,
    depth: int | None = Query(default=None, ge=1, le=10_000, description="price levels per side"),
    limit: int = Query(default=BOOK_ORDERS_LIMIT, ge=0, le=BOOK_ORDERS_MAX, description="raw orders per side"),
    offset: int = Query(default=0, ge=0, le=BOOK_OFFSET_MAX, description="skip this many raw orders per side"),
):
    """Aggregated price levels (best first) and the raw open orders in priority order, paged
    per side (`limit`, `offset`; `bid_orders`/`ask_orders` say how many there are). Answered
    from the store: works while the node is down (`block` is then the follower's last)."""
    # built as plain JSON here: re-validating thousands of nested dicts against the response
    # model cost more than reading them (the model stays the documented schema)
    return JSONResponse(book_json(relay.book(market_id, depth, limit, offset), relay.head_block()))


@router.get("/{market_id}/trades", response_model=list[TradePublic], responses=errors(503))
def get_trades(
    relay: RelayDep, market_id: int = MarketId, limit: int = Query(default=100, ge=1, le=5_000)
) -> list[dict]:
    """Fills in this market seen on-chain (OrderFilled), newest first; a reorg removes the
    fills of the blocks it drops."""
    return [trade_json(t) for t in relay.trades(market_id, limit)]
