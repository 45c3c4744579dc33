"""POST /orders/batch: many signed orders in one request (a market maker's quote refresh).

Each order gets exactly the validation of POST /orders; the accepted ones are written in one
transaction. The HTTP stack costs more per request than validating an order does (issue 12's
profile: ~52% uvicorn/FastAPI/thread hand-off), so a batch is what takes the relay past a few
thousand validated orders per second on two cores (docs/relay.md, BENCHMARKS.md).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from relay.deps import RelayDep
from relay.relay import BATCH_MAX
from relay.schemas import OrderCreate, errors
from relay.validation import RelayError

router = APIRouter(prefix="/orders", tags=["orders"])


class BatchCreate(BaseModel):
    orders: list[OrderCreate] = Field(min_length=1, max_length=BATCH_MAX, description=f"1 to {BATCH_MAX} signed orders")


class BatchItem(BaseModel):
    model_config = ConfigDict(
        extra="allow"
    )  # a refusal's extra fields, as POST /orders gives them (missing, free, ...)

    status: int = Field(
        description="what POST /orders would have answered for this order: 201, 400, 404, 409, 429, 503"
    )
    hash: str | None = Field(default=None, description="the order's EIP-712 digest (accepted orders)")
    seq: int | None = Field(default=None, description="arrival order (accepted orders)")
    code: str | None = Field(default=None, description="machine code of a refusal (as POST /orders)")
    detail: str | None = None


class BatchPublic(BaseModel):
    accepted: int
    results: list[BatchItem] = Field(description="one per posted order, in the posted order")


@router.post(
    "/batch",
    response_model=BatchPublic,
    # 400: a body that is not JSON; 503: the chain or the store did not answer (nothing booked)
    responses={**errors(400, 503), 422: {"description": "malformed batch (the field is named)"}},
)
def post_orders_batch(body: BatchCreate, relay: RelayDep):
    """Validate up to 500 signed orders (each as POST /orders does) and book the valid ones
    together. Always 200 when the batch itself is well formed: look at each result's status (a
    409 `duplicate` means the relay already has that order: a retried batch is safe)."""
    out = relay.post_many([o.model_dump() for o in body.orders])
    results = []
    for r in out:
        if isinstance(r, RelayError):
            results.append({"status": r.status, "code": r.code, "detail": r.detail, **r.extra})
        else:
            results.append({"status": 201, "hash": r.hash, "seq": r.seq})
    return JSONResponse({"accepted": sum(1 for r in results if r["status"] == 201), "results": results})
