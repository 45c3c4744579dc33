"""The relay app, built in one place: `create_app(settings)`.

Background work (threads, started by the lifespan when `settings.background`): the event
follower, the periodic re-validation, and — with `settings.match` and a key in the env var
`settings.matcher_key_env` — the matching loop. An asyncio task pushes coalesced book
snapshots to websocket subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from relay.chainview import ChainError, ChainView, RpcChain
from relay.config import RelaySettings
from relay.follower import EventFollower, Revalidator, default_confirmations
from relay.hub import Hub
from relay.orders import domain_separator
from relay.relay import Relay, book_json
from relay.routes import batch, health, markets, orders, stream
from relay.store import OrderStore, SqlOrderStore
from relay.validation import OrderValidator, RelayError, ValidationSettings, chain_unavailable

log = logging.getLogger("cspread.relay")


def _loop(stop: threading.Event, interval: float, fn, name: str, wake: threading.Event | None = None) -> None:
    while not stop.is_set():
        try:
            fn()
        except Exception:  # noqa: BLE001 - keep the worker alive; the next round retries
            log.exception("%s round failed", name)
        if wake is not None:
            wake.wait(interval)
            wake.clear()
        else:
            stop.wait(interval)


def _error_response(e: RelayError) -> JSONResponse:
    """{detail, code, ...extra}; a 503 (and a 409 `in_flight`) also says when to retry
    (`retry_after`, s, and the Retry-After header). No `message` key: SDKs before issue 12
    pass every extra key to their error's constructor, which has its own `message`."""
    body = {"detail": e.detail, "code": e.code, **e.extra}
    headers = {"Retry-After": str(e.extra["retry_after"])} if "retry_after" in e.extra else None
    return JSONResponse(body, status_code=e.status, headers=headers)


def create_app(
    settings: RelaySettings | None = None,
    *,
    chain: ChainView | None = None,
    store: OrderStore | None = None,
    fee_bps: int | None = None,
    start_block: int | None = None,
) -> FastAPI:
    settings = settings or RelaySettings()
    manifest = None
    if chain is None or fee_bps is None or start_block is None:
        from core.manifest import Manifest

        manifest = Manifest.load(settings.manifest)
    if chain is None:
        chain = RpcChain.from_manifest(manifest, settings.rpc_url, head_ttl=settings.head_ttl)
    if fee_bps is None:
        fees = manifest.data.get("fees", {})
        fee_bps = max(int(fees.get("maker_bps", 0)), int(fees.get("taker_bps", 0)))
    if start_block is None:
        start_block = settings.start_block if settings.start_block is not None else int(manifest.data.get("block", 0))
    if settings.fill_index and isinstance(chain, RpcChain) and chain.fills is None:
        chain.enable_fill_index(start_block)
    store = store or SqlOrderStore(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        exposure_ttl=settings.exposure_ttl,
    )
    validator = OrderValidator(
        chain,
        store,
        domain_separator(chain.chain_id, chain.exchange),
        ValidationSettings(
            fee_bps=fee_bps,
            min_ttl=settings.min_ttl,
            check_margin=settings.check_margin,
            max_open_per_trader=settings.max_open_per_trader,
        ),
    )
    relay = Relay(store, chain, validator, Hub())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        threads: list[threading.Thread] = []
        if settings.background and isinstance(chain, RpcChain):
            confirmations = (
                settings.confirmations if settings.confirmations is not None else default_confirmations(chain.chain_id)
            )
            follower = EventFollower(chain, store, validator, start_block, confirmations, notify=relay.notify)
            reval = Revalidator(store, validator, notify=relay.notify)

            def follow():
                follower.poll_once()
                relay.metrics.follower_block.set(follower.block)

            def revalidate():
                for reason, n in reval.run_once().items():
                    relay.metrics.dropped.labels(reason).inc(n)

            threads += [
                threading.Thread(
                    target=_loop,
                    args=(stop, settings.follow_interval, follow, "follower"),
                    daemon=True,
                    name="relay-follower",
                ),
                threading.Thread(
                    target=_loop,
                    args=(stop, settings.revalidate_interval, revalidate, "revalidate"),
                    daemon=True,
                    name="relay-revalidate",
                ),
            ]
            if settings.match:
                from chain.tx import TxSender
                from relay.matcher import Matcher

                key = os.environ.get(settings.matcher_key_env)
                if not key:
                    raise RuntimeError(f"matching is on but ${settings.matcher_key_env} holds no private key")
                sender = TxSender(chain.rpc, key, gas_multiplier=1.3, chain_id=chain.chain_id)
                matcher = Matcher(
                    store,
                    chain,
                    validator,
                    sender,
                    skip_ttl=settings.skip_ttl,
                    notify=relay.notify,
                    lease=settings.lease,
                )
                app.state.matcher = matcher
                app.state.matcher_address = sender.address

                def match():
                    for r in matcher.step():
                        relay.metrics.matches.labels("ok" if r.ok else "failed").inc()

                threads.append(
                    threading.Thread(
                        target=_loop,
                        args=(stop, settings.match_interval, match, "matcher", relay.wake),
                        daemon=True,
                        name="relay-matcher",
                    )
                )
        for t in threads:
            t.start()

        async def broadcast():
            while True:
                await asyncio.sleep(0.1)
                dirty = relay.hub.take_dirty()
                if not dirty or not relay.hub.subscribers:
                    continue
                head = await asyncio.to_thread(relay.head_block)
                for mid in dirty:
                    b = await asyncio.to_thread(relay.book, mid)
                    relay.hub.publish({"type": "book", "market_id": mid, "book": book_json(b, head)})

        task = asyncio.create_task(broadcast())
        try:
            yield
        finally:
            task.cancel()
            stop.set()
            relay.wake.set()
            for t in threads:
                t.join(timeout=10)

    app = FastAPI(
        title="Compute Spread order relay",
        version="0.1.0",
        lifespan=lifespan,
        description="Signed EIP-712 orders for the Compute Spread Exchange: post, cancel, book, trades, "
        "stream. Chain units: quantity in thousandths of a unit, price in collateral base "
        "units per unit (may be negative). See docs/relay.md.",
    )
    app.state.relay = relay
    app.state.settings = settings
    app.state.matcher_address = None

    @app.exception_handler(RelayError)
    async def _relay_error(_: Request, e: RelayError):
        return _error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, e: StarletteHTTPException):
        # FastAPI's own refusals (a body that is not JSON, an unknown path) in the relay's error shape
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return JSONResponse({"detail": str(e.detail), "code": code}, status_code=e.status_code, headers=e.headers)

    @app.exception_handler(ChainError)
    async def _chain_error(_: Request, e: ChainError):
        # a chain read a write needed failed: the node is down or slow, not the client's fault
        return _error_response(chain_unavailable(e))

    @app.exception_handler(SQLAlchemyError)
    async def _store_error(_: Request, e: SQLAlchemyError):
        log.error("store error: %s", e)
        return _error_response(
            RelayError(503, "store_unavailable", "the relay's database did not answer; retry later", {"retry_after": 5})
        )

    for r in (orders.router, batch.router, markets.router, stream.router, health.router):
        app.include_router(r)
    return app
