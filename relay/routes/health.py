from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from relay.deps import RelayDep
from relay.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic)
def health(relay: RelayDep, request: Request) -> dict:
    head = relay.chain.head()[0]
    fb = relay.store.get_meta("follower_block")
    return {
        "status": "ok",
        "chain_id": relay.chain.chain_id,
        "exchange": relay.chain.exchange,
        "head_block": head,
        "follower_block": int(fb) if fb is not None else -1,
        "open_orders": len(relay.store.query(limit=1_000_000)),
        "matcher": getattr(request.app.state, "matcher_address", None),
    }


@router.get("/metrics", include_in_schema=False)
def metrics(relay: RelayDep) -> Response:
    return Response(generate_latest(relay.metrics.registry), media_type=CONTENT_TYPE_LATEST)
