from __future__ import annotations

from fastapi import APIRouter, Query

from keepers.matcher.deps import RelayDep
from keepers.matcher.relay import book_json, trade_json
from keepers.matcher.schemas import BookPublic, TradePublic

router = APIRouter(prefix="/markets", tags=["markets"])


@router.get("/{market_id}/book", response_model=BookPublic)
def get_book(market_id: int, relay: RelayDep, depth: int | None = Query(default=None, ge=1)) -> dict:
    """Aggregated price levels (best first) and the raw open orders in priority order."""
    return book_json(relay.book(market_id, depth), relay.chain.head()[0])


@router.get("/{market_id}/trades", response_model=list[TradePublic])
def get_trades(market_id: int, relay: RelayDep, limit: int = Query(default=100, le=5_000)) -> list[dict]:
    """Fills in this market seen on-chain (OrderFilled), newest first."""
    return [trade_json(t) for t in relay.trades(market_id, limit)]
