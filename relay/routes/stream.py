from __future__ import annotations

import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from fastapi.concurrency import run_in_threadpool

from relay.relay import book_json
from relay.schemas import INT64_MAX

router = APIRouter(tags=["stream"])
log = logging.getLogger("cspread.relay")


def _market_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        v = int(raw)
    except ValueError:
        raise ValueError("market_id: not an integer") from None
    if not 0 <= v <= INT64_MAX:
        raise ValueError("market_id: out of range [0, 2^63 - 1]")
    return v


@router.websocket("/ws")
async def stream(ws: WebSocket):
    """Book and trade updates. Connect to `/ws?market_id=N` (or without for every market).
    Messages: {"type": "book", "market_id", "book": <BookPublic>} (a snapshot on connect and
    after every change, coalesced to <= 10/s), {"type": "trade", "market_id", "trade": ...} and,
    after a reorg, {"type": "trade_removed", ...}. A bad `market_id` is accepted then closed
    with code 1008 and a reason naming the field; a server failure closes with 1011."""
    relay = ws.app.state.relay
    await ws.accept()
    try:
        market_id = _market_id(ws.query_params.get("market_id"))
    except ValueError as e:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason=str(e))
        return
    sub = relay.hub.subscribe(market_id)
    try:
        mids = [market_id] if market_id is not None else await run_in_threadpool(relay.store.open_markets)
        for mid in mids:
            b = await run_in_threadpool(relay.book, mid)
            head = await run_in_threadpool(relay.head_block)
            await ws.send_json({"type": "book", "market_id": mid, "book": book_json(b, head)})
        queue = sub[1]
        while True:
            await ws.send_json(await queue.get())
    except WebSocketDisconnect:
        pass
    except Exception as e:  # noqa: BLE001 - say so in a close frame rather than drop the socket
        log.exception("websocket failed")
        try:
            await ws.close(code=status.WS_1011_INTERNAL_ERROR, reason=f"relay error: {type(e).__name__}"[:120])
        except Exception:  # noqa: BLE001,S110 - the socket is already gone
            pass
    finally:
        relay.hub.unsubscribe(sub)
