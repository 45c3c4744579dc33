"""The dashboard's HTTP layer: server-rendered pages, a JSON API and a websocket proxy to the relay.

    from apps.web import create_app
    app = create_app("deployments/31337.json", "http://127.0.0.1:8545", "http://127.0.0.1:8600")

Errors of the SDK come back as ``{"error": <type>, "message": <what to do>, "details": {...}}``
with a 4xx status (502 when the relay or RPC is unreachable); never a raw revert blob. The
dashboard's own scripts send ``X-Cspread-Soft-Errors: 1`` and get the same body with HTTP 200
and ``"status"`` inside, so an expected refusal does not show up as a failed load in the console.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.web.backend import Backend, error_json
from sdk.errors import (
    ChainMismatch,
    ComputeSpreadError,
    InvalidAmount,
    InvalidOrder,
    RelayError,
    UnknownMarket,
)

log = logging.getLogger("cspread.web")
HERE = Path(__file__).resolve().parent
SOFT_ERRORS_HEADER = "x-cspread-soft-errors"
MARKETS_PER_PAGE = 50  # rows of the home page's markets table (?limit= up to core.curve.MAX_PAGE)
# declared range of the market id path field: out of range is a 422 naming it, never a 500
# (addresses and transaction hashes are checked by the backend: typed 4xx errors)
MARKET_ID_MAX = 2**63 - 1  # the relay's and the SQL stores' integer range; no listed id is near it
MarketId = PathParam(ge=0, le=MARKET_ID_MAX, description="the Clearinghouse's market id")


class ErrorPublic(BaseModel):
    """A refusal: the SDK error's type, what to do, and its fields (backend.error_json)."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str
    details: dict = {}


# the statuses any API route may answer besides its own (OpenAPI; schemathesis holds us to it):
# the SDK's typed errors (apps.web.app._status) and the relay's, passed through
ERROR_RESPONSES = {
    400: {"model": ErrorPublic, "description": "refused (error says which SDK error)"},
    403: {"model": ErrorPublic, "description": "the relay refused (cancel signature)"},
    404: {"model": ErrorPublic, "description": "unknown market, order or page"},
    409: {"model": ErrorPublic, "description": "the relay already holds this order, or it is being matched"},
    429: {"model": ErrorPublic, "description": "the relay's per-trader order cap"},
    502: {"model": ErrorPublic, "description": "the chain or the relay answered wrongly or not at all"},
}


def _status(e: ComputeSpreadError) -> int:
    if isinstance(e, UnknownMarket):
        return 404
    if isinstance(e, RelayError):
        st = getattr(e, "status", None)
        return st if isinstance(st, int) and 400 <= st < 500 else 502
    if isinstance(e, (InvalidAmount, InvalidOrder)):
        return 422
    if isinstance(e, ChainMismatch):
        return 502
    return 400


def create_app(
    manifest_path: str | Path,
    rpc_url: str,
    relay_url: str | None = None,
    *,
    oracle_urls: list[str] | tuple[str, ...] = (),
    backend: Backend | None = None,
) -> FastAPI:
    """The dashboard for one deployment. ``oracle_urls`` (reporters' base URLs) adds the index column;
    ``backend`` replaces the one built from the other arguments (tests)."""
    backend = backend or Backend(manifest_path, rpc_url, relay_url, oracle_urls)
    app = FastAPI(
        title="Compute Spread dashboard",
        version="0.1.0",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        responses=ERROR_RESPONSES,
    )
    app.state.backend = backend
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    def wants_page(request: Request) -> bool:
        """A person's browser navigating (not the API, not the page's own scripts): show a page."""
        path = request.url.path
        return not (
            path.startswith("/api") or path.startswith("/static") or path == "/ws"
        ) and "text/html" in request.headers.get("accept", "")

    def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
        try:
            info = backend.info()
        except Exception:  # noqa: BLE001 - an error page must render even when the chain is down
            info = {"chain_id": backend.chain_id, "exchange": "", "relay": backend.relay_url is not None}
        return templates.TemplateResponse(
            request,
            "error.html",
            {"info": info, "active": "error", "status": status, "title": title, "message": message},
            status_code=status,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException):
        if wants_page(request):
            title = "Page not found" if e.status_code == 404 else f"Error {e.status_code}"
            msg = f"There is no page at {request.url.path}." if e.status_code == 404 else str(e.detail)
            return error_page(request, e.status_code, title, msg)
        # the API's one error shape (ErrorPublic), e.g. for a body that is not JSON; `detail` as before
        body = {"error": "HTTPError", "message": str(e.detail), "details": {}, "detail": e.detail}
        return JSONResponse(body, status_code=e.status_code)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, e: RequestValidationError):
        if wants_page(request):
            return error_page(
                request,
                404,
                "Page not found",
                f"{request.url.path} is not a page here: market and account addresses are numbers "
                f"and 0x addresses (e.g. /markets/1).",
            )
        return JSONResponse(
            {
                "error": "InvalidRequest",
                "message": "; ".join(
                    f"{'.'.join(str(x) for x in err.get('loc', ()))}: {err.get('msg')}" for err in e.errors()
                ),
                "details": {},
            },
            status_code=422,
        )

    @app.exception_handler(ComputeSpreadError)
    async def _sdk_error(request: Request, e: ComputeSpreadError):
        status = _status(e)
        if wants_page(request):
            title = "Market not found" if isinstance(e, UnknownMarket) else type(e).__name__
            # the SDK's advice names Python calls; a page names pages
            msg = str(e).replace("; list them with markets()", ": every listed market is on the Markets page")
            return error_page(request, status, title, msg)
        if request.headers.get(SOFT_ERRORS_HEADER) == "1":
            # the dashboard's own pages: an expected refusal is content, not a failed load (no console noise)
            return JSONResponse({**error_json(e), "status": status}, status_code=200)
        return JSONResponse(error_json(e), status_code=status)

    async def call(fn, *a, **kw):
        return await run_in_threadpool(fn, *a, **kw)

    def page(request: Request, name: str, **ctx: Any) -> HTMLResponse:
        base = {"info": backend.info(), "active": name.split(".")[0]}
        return templates.TemplateResponse(request, name, {**base, **ctx})

    # ------------------------------------------------------------ pages
    @app.get("/", response_class=HTMLResponse)
    async def markets_page(request: Request):
        # one page of the listed markets (filters and paging as /api/markets and `cspread markets`):
        # a standing curve lists hundreds, one table row each made the page too big to render
        q = {k: v for k, v in request.query_params.items() if k != "cursor"}
        q.setdefault("limit", str(MARKETS_PER_PAGE))
        pg = await call(backend.market_page, q)
        limit, offset = int(q["limit"]), pg["offset"]

        def link(o: int) -> str:
            return "/?" + urlencode({**q, "offset": o})

        pager = {
            "total": pg["total"],
            "first": offset + 1 if pg["markets"] else 0,
            "last": offset + len(pg["markets"]),
            "prev": link(max(0, offset - limit)) if offset > 0 else None,
            "next": link(offset + limit) if offset + len(pg["markets"]) < pg["total"] else None,
        }
        return page(request, "markets.html", markets=pg["markets"], pager=pager)

    @app.get("/markets/{market_id}", response_class=HTMLResponse)
    async def market_page(request: Request, market_id: int = MarketId):
        return page(request, "market.html", m=await call(backend.market, market_id))

    @app.get("/curves", response_class=HTMLResponse)
    async def curves_page(request: Request):
        q = dict(request.query_params)
        return page(request, "curves.html", curves=await call(backend.curves, q), q=q)

    @app.get("/calendar", response_class=HTMLResponse)
    async def calendar_page(request: Request):
        q = dict(request.query_params)
        return page(request, "calendar.html", cal=await call(backend.calendar, q), q=q)

    @app.get("/basis", response_class=HTMLResponse)
    async def basis_page(request: Request):
        return page(request, "basis.html", series=await call(backend.basis_series))

    @app.get("/account", response_class=HTMLResponse)
    async def account_page(request: Request):
        return page(request, "account.html", address=request.query_params.get("address", ""))

    @app.get("/account/{address}", response_class=HTMLResponse)
    async def account_addr_page(request: Request, address: str):
        return page(request, "account.html", address=address)

    @app.get("/history", response_class=HTMLResponse)
    async def history_page(request: Request):
        return page(request, "history.html", address=request.query_params.get("address", ""))

    @app.get("/history/{address}", response_class=HTMLResponse)
    async def history_addr_page(request: Request, address: str):
        return page(request, "history.html", address=address)

    @app.get("/hedge", response_class=HTMLResponse)
    async def hedge_page(request: Request):
        return page(request, "hedge.html", options=await call(backend.hedge_options))

    @app.get("/trade", response_class=HTMLResponse)
    async def trade_page(request: Request):
        ms = await call(backend.markets)
        return page(request, "trade.html", markets=ms, selected=request.query_params.get("market", ""))

    @app.get("/pools", response_class=HTMLResponse)
    async def pools_page(request: Request):
        return page(request, "pools.html", pools=await call(backend.pools))

    @app.get("/pool/{ref}", response_class=HTMLResponse)
    async def pool_page(request: Request, ref: str, account: str = ""):
        return page(request, "pool.html", p=await call(backend.pool, ref, account))

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return Response(status_code=204)

    # ------------------------------------------------------------ JSON API
    @app.get("/api/info")
    async def api_info():
        return backend.info()

    @app.get("/api/markets")
    async def api_markets(request: Request):
        """Every market (a list); with any of node, series, kind, from, to, status, limit, offset,
        cursor: ``{markets, total, offset, next_cursor}``, filtered and paged as ``cspread markets``."""
        q = dict(request.query_params)
        if q:
            return await call(backend.market_page, q)
        return await call(backend.markets)

    @app.get("/api/markets/{market_id}")
    async def api_market(market_id: int = MarketId):
        return await call(backend.market, market_id)

    @app.get("/api/markets/{market_id}/book")
    async def api_book(market_id: int = MarketId):
        return await call(backend.book, market_id)

    @app.get("/api/markets/{market_id}/trades")
    async def api_trades(market_id: int = MarketId):
        return await call(backend.trades, market_id)

    @app.get("/api/curves")
    async def api_curves(request: Request):
        return await call(backend.curves, dict(request.query_params))

    @app.post("/api/basis")
    async def api_basis(body: dict):
        return await call(backend.basis, body)

    @app.get("/api/calendar")
    async def api_calendar(request: Request):
        return await call(backend.calendar, dict(request.query_params))

    @app.get("/api/pools")
    async def api_pools():
        """The manifest's pools with their NAV (issue 15)."""
        return await call(backend.pools)

    @app.get("/api/pools/{ref}")
    async def api_pool(ref: str, account: str = ""):
        """One pool by address or manifest name: NAV, share price, limits, positions, coverage,
        margin per hedged GPU-hour; with ``account`` that member's shares, value and capacity."""
        return await call(backend.pool, ref, account)

    @app.get("/api/account/{address}")
    async def api_account(address: str):
        return await call(backend.account, address)

    @app.get("/api/account/{address}/history")
    async def api_history(address: str):
        return await call(backend.history, address)

    @app.get("/api/account/{address}/history.csv")
    async def api_history_csv(address: str):
        """The history for accounting: UTC ISO times, USD to the cent, one row per event."""
        import csv
        import datetime as dt
        import io

        h = await call(backend.history, address)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["time_utc", "kind", "details", "cash_usd", "tx_hash", "block"])
        for r in reversed(h["rows"]):  # oldest first, as a ledger
            t = dt.datetime.fromtimestamp(r["ts"], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if r["ts"] else ""
            w.writerow(
                [t, r["kind"], r["text"], r["amount"] if r["amount"] is not None else "", r["tx_hash"], r["block"]]
            )
        name = f"cspread-history-{h['address']}.csv"
        return Response(
            buf.getvalue(), media_type="text/csv", headers={"content-disposition": f'attachment; filename="{name}"'}
        )

    @app.get("/api/account/{address}/accounting.csv")
    async def api_accounting_csv(address: str):
        """Fills, liquidations and settlements for accounting: one row each, oldest first, with the
        realised PnL, fee and cash effect in USD to the cent, block and tx hash."""
        import csv
        import io

        rows = await call(backend.accounting, address)
        cols = ["time_utc", "kind", "market_id", "symbol", "side", "quantity", "unit", "price", "fee_usd",
                "realised_pnl_usd", "cash_usd", "position_after", "block", "tx_hash"]  # fmt: skip
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        name = f"cspread-accounting-{address}.csv"
        return Response(
            buf.getvalue(), media_type="text/csv", headers={"content-disposition": f'attachment; filename="{name}"'}
        )

    async def statement_file(address: str, months: str, kind: str) -> Response:
        """The hedge statement (issue 15) of ``address`` for delivery months ``months``, the same
        file ``cspread statement`` writes; errors are the SDK's typed ones (4xx)."""
        from apps.statement import file_stem, render_pdf, render_png

        st = await call(backend.statement, address, months)
        body = await call(render_pdf if kind == "pdf" else render_png, st)
        return Response(
            body,
            media_type="application/pdf" if kind == "pdf" else "image/png",
            headers={"content-disposition": f'inline; filename="{file_stem(st)}.{kind}"'},
        )

    @app.get("/api/account/{address}/statement.pdf", response_class=Response)
    async def api_statement_pdf(address: str, months: str = ""):
        """The hedge statement a lender reads (PDF): positions by delivery month, locked-in spread,
        margin posted, revenue floor; every figure footnoted with its block and transaction."""
        return await statement_file(address, months, "pdf")

    @app.get("/api/account/{address}/statement.png", response_class=Response)
    async def api_statement_png(address: str, months: str = ""):
        """The statement's revenue grid (hedged vs unhedged) as a PNG."""
        return await statement_file(address, months, "png")

    @app.get("/statement.pdf", response_class=Response, include_in_schema=False)
    async def statement_pdf_link(account: str = "", months: str = ""):
        """The account page's form: the same PDF as the API route."""
        return await statement_file(account, months, "pdf")

    @app.post("/api/orders/status")
    async def api_orders_status(body: dict):
        return await call(backend.orders_status, body.get("orders") or [])

    @app.get("/api/hedge/options")
    async def api_hedge_options():
        return await call(backend.hedge_options)

    @app.post("/api/hedge/plan")
    async def api_hedge_plan(body: dict):
        return await call(backend.hedge, body)

    @app.post("/api/orders/build")
    async def api_build_order(body: dict):
        return await call(
            backend.build_order,
            body.get("account", ""),
            body.get("market_id", 0),
            str(body.get("side", "")),
            str(body.get("quantity", "")),
            str(body.get("price", "")),
            bool(body.get("reduce_only", False)),
            bool(body.get("check", True)),
        )

    @app.post("/api/orders/preview")
    async def api_order_preview(body: dict):
        return await call(backend.order_preview, body)

    @app.post("/api/orders", status_code=201)
    async def api_post_order(body: dict):
        return await call(backend.submit_order, body)

    @app.post("/api/tx/faucet")
    async def tx_faucet(body: dict):
        return await call(backend.tx_faucet, body.get("account", ""), str(body.get("amount", "")))

    @app.post("/api/tx/approve")
    async def tx_approve(body: dict):
        return await call(backend.tx_approve, body.get("account", ""), body.get("amount"))

    @app.post("/api/tx/deposit")
    async def tx_deposit(body: dict):
        return await call(backend.tx_deposit, body.get("account", ""), str(body.get("amount", "")))

    @app.post("/api/tx/withdraw")
    async def tx_withdraw(body: dict):
        return await call(backend.tx_withdraw, body.get("account", ""), str(body.get("amount", "")))

    @app.post("/api/tx/cancel")
    async def tx_cancel(body: dict):
        return await call(backend.tx_cancel, body.get("account", ""), body.get("order") or {})

    @app.post("/api/tx/cancel_all")
    async def tx_cancel_all(body: dict):
        return await call(backend.tx_cancel_all, body.get("account", ""))

    @app.post("/api/tx/pool/{ref}/join")
    async def tx_pool_join(ref: str, body: dict):
        """Unsigned [approve, Pool.deposit] for ``{account, amount}`` (USD) (issue 15)."""
        return await call(backend.tx_pool_join, ref, body.get("account", ""), str(body.get("amount", "")))

    @app.post("/api/tx/pool/{ref}/leave")
    async def tx_pool_leave(ref: str, body: dict):
        """Unsigned Pool.withdraw (mode 'paid') or request_exit (mode 'queued') for ``{account, amount}``."""
        return await call(backend.tx_pool_leave, ref, body.get("account", ""), str(body.get("amount", "")))

    @app.post("/api/tx/pool/{ref}/declare")
    async def tx_pool_declare(ref: str, body: dict):
        """Unsigned Pool.declare_capacity for ``{account, gpu_class, node, count, commit}``."""
        return await call(
            backend.tx_pool_declare,
            ref,
            body.get("account", ""),
            str(body.get("gpu_class", "")),
            str(body.get("node", "")),
            str(body.get("count", "")),
            str(body.get("commit", "")),
        )

    @app.get("/api/tx/{tx_hash}")
    async def tx_status(tx_hash: str):
        return await call(backend.tx_status, tx_hash)

    @app.get("/api/health")
    async def health():
        return {"status": "ok", "chain_id": backend.chain_id, "block": await call(backend.client.block_number)}

    # ------------------------------------------------------------ websocket: relay stream, proxied
    @app.websocket("/ws")
    async def ws_proxy(ws: WebSocket):
        """Same messages as the relay's /ws (book snapshots and trades), so the page needs one origin."""
        await ws.accept()
        if not backend.relay_url:
            await ws.send_json({"type": "error", "message": "no relay configured"})
            await ws.close()
            return
        import websockets

        mid = ws.query_params.get("market_id")
        if mid is not None and not (mid.isdigit() and int(mid) <= MARKET_ID_MAX):
            await ws.send_json({"type": "error", "message": f"market_id must be a market's number, got {mid[:40]!r}"})
            await ws.close()
            return
        url = backend.relay_url.replace("http", "ws", 1) + "/ws" + (f"?market_id={int(mid)}" if mid else "")
        try:
            async with websockets.connect(url, open_timeout=5, ping_interval=20) as up:

                async def down():
                    try:
                        while True:
                            await ws.receive_text()
                    except WebSocketDisconnect:
                        pass

                waiter = asyncio.create_task(down())
                try:
                    while not waiter.done():
                        recv = asyncio.create_task(up.recv())
                        done, _ = await asyncio.wait({recv, waiter}, return_when=asyncio.FIRST_COMPLETED)
                        if recv in done:
                            await ws.send_text(recv.result())
                        else:
                            recv.cancel()
                finally:
                    waiter.cancel()
        except (OSError, websockets.WebSocketException, WebSocketDisconnect, RuntimeError) as e:
            log.info("websocket proxy closed: %s", e)
        try:
            await ws.close()
        except RuntimeError:
            pass

    return app
