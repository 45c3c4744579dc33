from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Header, Path, Query, status
from fastapi.responses import JSONResponse

from relay.deps import RelayDep
from relay.relay import order_json
from relay.schemas import (
    ADDRESS_PATTERN,
    HASH_PATTERN,
    INT64_MAX,
    SIGNATURE_MAX_CHARS,
    CancelPublic,
    OrderCreate,
    OrderPublic,
    errors,
)
from relay.validation import RelayError

router = APIRouter(prefix="/orders", tags=["orders"])

OrderHash = Path(pattern=HASH_PATTERN, description="0x + 64 hex: the order's EIP-712 digest")


@router.post(
    "",
    response_model=OrderPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 404, 409, 429, 503),
)
def post_order(body: OrderCreate, relay: RelayDep):
    """Validate a signed order (signature, domain, market, tick/step, expiry, nonce, on-chain
    remaining, margin) and add it to the book."""
    # order_json already has the response model's shape: return it as is rather than have
    # FastAPI validate and re-serialise it through OrderPublic on every post
    return JSONResponse(order_json(relay.post(body.model_dump())), status_code=status.HTTP_201_CREATED)


@router.delete("/{order_hash}", response_model=CancelPublic, responses=errors(403, 404, 409, 503))
def cancel_order(
    relay: RelayDep,
    order_hash: str = OrderHash,
    x_signature: str | None = Header(
        default=None, max_length=SIGNATURE_MAX_CHARS, description="EIP-191 signature of 'cancel:<hash>'"
    ),
    signature: str | None = Query(
        default=None, max_length=SIGNATURE_MAX_CHARS, description="same, as a query parameter"
    ),
) -> dict:
    """Withdraw an order from the relay's book (the signed order stays valid on-chain until it
    is cancelled there: see docs/relay.md)."""
    so = relay.cancel(order_hash, x_signature or signature)
    return {"hash": so.hash, "status": so.status, "reason": so.reason}


@router.get("/{order_hash}", response_model=OrderPublic, responses=errors(404, 503))
def get_order(relay: RelayDep, order_hash: str = OrderHash) -> dict:
    so = relay.store.get(order_hash.lower())
    if so is None:
        raise RelayError(404, "not_found", f"order {order_hash} is not known to the relay")
    return order_json(so)


@router.get("", response_model=list[OrderPublic], responses=errors(400, 503))
def list_orders(
    relay: RelayDep,
    trader: str | None = Query(default=None, pattern=ADDRESS_PATTERN),
    market_id: int | None = Query(default=None, ge=0, le=INT64_MAX),
    status: Literal["open", "filled", "cancelled", "expired", "rejected", "all"] = Query(
        default="open", description="open (default), filled, cancelled, expired, rejected or 'all'"
    ),
    limit: int = Query(default=500, ge=1, le=10_000),
) -> list[dict]:
    from eth_utils import is_address, to_checksum_address

    if trader is not None:
        if not is_address(trader):  # hex, but a mixed-case checksum that does not check
            raise RelayError(400, "bad_trader", f"trader {trader!r} is not an address (bad checksum)")
        trader = to_checksum_address(trader)
    rows = relay.store.query(
        trader=trader, market_id=market_id, status=None if status == "all" else status, limit=limit
    )
    return [order_json(so) for so in rows]
