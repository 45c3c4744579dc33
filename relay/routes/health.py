from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from relay.chainview import ChainError
from relay.deps import RelayDep
from relay.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "the store is down: nothing can be answered"}},
)
def health(relay: RelayDep, request: Request):
    """200 `ok`; 200 `degraded` when the node is down (reads are answered from the store,
    writes get 503); 503 when the store is down. `down` names what is down."""
    deps: dict[str, dict] = {}
    head = -1
    try:
        head = relay.chain.head()[0]
        deps["chain"] = {"ok": True}
    except ChainError as e:
        deps["chain"] = {"ok": False, "error": str(e)[:300]}
    fb, open_orders = -1, 0
    try:
        v = relay.store.get_meta("follower_block")
        fb = int(v) if v is not None else -1
        open_orders = len(relay.store.query(limit=1_000_000))
        deps["store"] = {"ok": True}
    except SQLAlchemyError as e:
        deps["store"] = {"ok": False, "error": str(e).splitlines()[0][:300]}
    down = [k for k, d in deps.items() if not d["ok"]]
    body = {
        "status": "ok" if not down else "degraded",
        "chain_id": relay.chain.chain_id,
        "exchange": relay.chain.exchange,
        "head_block": head,
        "follower_block": fb,
        "open_orders": open_orders,
        "matcher": getattr(request.app.state, "matcher_address", None),
        "dependencies": deps,
        "down": down,
    }
    return JSONResponse(body, status_code=503 if "store" in down else 200)


@router.get("/metrics", include_in_schema=False)
def metrics(relay: RelayDep) -> Response:
    return Response(generate_latest(relay.metrics.registry), media_type=CONTENT_TYPE_LATEST)
