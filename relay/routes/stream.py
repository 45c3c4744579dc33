from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from relay.relay import book_json

router = APIRouter(tags=["stream"])


@router.websocket("/ws")
async def stream(ws: WebSocket, market_id: int | None = None):
    """Book and trade updates. Connect to `/ws?market_id=N` (or without for every market).
    Messages: {"type": "book", "market_id", "book": <BookPublic>} (a snapshot on connect and
    after every change, coalesced to <= 10/s) and {"type": "trade", "market_id", "trade": ...}."""
    relay = ws.app.state.relay
    await ws.accept()
    sub = relay.hub.subscribe(market_id)
    try:
        mids = [market_id] if market_id is not None else await run_in_threadpool(relay.store.open_markets)
        for mid in mids:
            b = await run_in_threadpool(relay.book, mid)
            await ws.send_json({"type": "book", "market_id": mid, "book": book_json(b, relay.chain.head()[0])})
        queue = sub[1]
        while True:
            await ws.send_json(await queue.get())
    except WebSocketDisconnect:
        pass
    finally:
        relay.hub.unsubscribe(sub)
