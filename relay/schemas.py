"""Request and response models (the OpenAPI contract). Chain units throughout: quantity in
thousandths of a unit, price in collateral base units per unit (may be negative). An order's
integers are accepted as JSON integers or decimal strings (the SDK sends strings), and the
schema says so (`chain_int`); they are returned as decimal strings.

Every integer has a declared range (a value outside it is a 422 naming the field): market ids
and quantities are the store's 64-bit range, prices ±(2^63 - 1), nonces and expiries uint256."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema, model_validator

INT64_MAX = 2**63 - 1  # the store's integer range (market ids, quantities, prices)
UINT256_MAX = 2**256 - 1
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
# 0x + hex of up to Exchange.MAX_SIGNATURE_LENGTH (1,024) bytes; whether the hex and the length
# suit the trader (65 bytes for a key) is the relay's 400 `bad_signature`
SIGNATURE_MAX_CHARS = 2 + 2 * 1024


def chain_int(lo: int, hi: int, description: str = "") -> Any:
    """An integer field that also takes a decimal string, declared as exactly that in the
    schema: `integer` in [lo, hi], or a `string` of decimal digits (a leading minus where lo < 0)
    whose value is in the same range (the SDK sends uint256s as strings). Nothing else is
    coerced: a boolean, a float, "5.0", " 5", "5_000" or "0x10" is a 422 naming the field."""
    digits = len(str(max(abs(lo), abs(hi))))
    pattern = rf"^{'-?' if lo < 0 else ''}[0-9]{{1,{digits}}}$"
    matcher = re.compile(pattern)

    def parse(v: Any) -> Any:
        if isinstance(v, str):
            if not matcher.match(v):
                raise ValueError(f"should be an integer or a decimal string matching {pattern}")
            return int(v)
        return v

    schema = {
        "anyOf": [
            {"type": "integer", "minimum": lo, "maximum": hi},
            {"type": "string", "pattern": pattern},
        ],
        "description": (description + "; " if description else "")
        + f"an integer, or its decimal string, from {lo} to {hi}",
    }
    return Annotated[int, BeforeValidator(parse), Field(strict=True, ge=lo, le=hi), WithJsonSchema(schema)]


MarketIdIn = chain_int(0, INT64_MAX)
QuantityIn = chain_int(1, INT64_MAX, "thousandths of a unit")
PriceIn = chain_int(-INT64_MAX, INT64_MAX, "collateral base units per unit; may be negative")
NonceIn = chain_int(0, UINT256_MAX)
ExpiryIn = chain_int(0, UINT256_MAX, "unix seconds; dead after it")


class OrderCreate(BaseModel):
    """A signed order. Flat, or the SDK's `{"order": {...}, "signature": ..., "hash": ...}`."""

    trader: str = Field(examples=["0xB94c4046FF368A869d3150d411440267472a1043"], max_length=42)
    market_id: MarketIdIn
    is_buy: StrictBool  # the schema says boolean: 0/1 are refused, not coerced
    quantity: QuantityIn
    price: PriceIn
    nonce: NonceIn
    expiry: ExpiryIn
    reduce_only: StrictBool = False
    signature: str = Field(
        max_length=SIGNATURE_MAX_CHARS,
        description="0x + hex: an EOA's 65-byte EIP-712 signature (r, s, v), or for a contract "
        "wallet (a Safe) what its EIP-1271 isValidSignature accepts for the order "
        "digest, at most 1,024 bytes (empty: approved on-chain)",
    )
    hash: str | None = Field(
        default=None, pattern=HASH_PATTERN, description="optional; must equal the EIP-712 digest if given"
    )

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("order"), dict):
            return {**data["order"], **{k: v for k, v in data.items() if k != "order"}}
        return data


class OrderFields(BaseModel):
    trader: str
    market_id: str
    is_buy: bool
    quantity: str
    price: str
    nonce: str
    expiry: str
    reduce_only: bool


class OrderPublic(BaseModel):
    hash: str
    order: OrderFields
    signature: str
    status: str = Field(description="open | filled | cancelled | expired | rejected")
    remaining: str = Field(description="thousandths still fillable, as last read from the chain")
    seq: int = Field(description="arrival order (time priority)")
    created_at: float
    reason: str = ""


class CancelPublic(BaseModel):
    hash: str
    status: str
    reason: str


class BookPublic(BaseModel):
    market_id: int
    bids: list[list[str]] = Field(description="[[price, quantity], ...] best first")
    asks: list[list[str]]
    bid_levels: list[dict[str, str | int]] = Field(description="[{price, quantity, orders}] best first")
    ask_levels: list[dict[str, str | int]]
    orders: list[OrderPublic] = Field(
        description="raw open orders, bids then asks, in priority order: per side "
        "at most `limit` (default 100) from `offset`"
    )
    bid_orders: int = Field(0, description="open bids in the book (all of them, not only those in `orders`)")
    ask_orders: int = Field(0, description="open asks in the book")
    block: int


class TradePublic(BaseModel):
    market_id: int
    order_hash: str
    maker: str
    taker: str
    maker_is_buy: bool
    quantity: str
    price: str
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str = Field("", description="the block's hash: a reorg that drops it removes the trade")
    timestamp: float


class DependencyPublic(BaseModel):
    ok: bool
    error: str = ""


class HealthPublic(BaseModel):
    status: str = Field(description="ok | degraded (the chain is down: reads still answer, writes get 503)")
    chain_id: int
    exchange: str
    head_block: int = Field(description="-1 when the node does not answer")
    follower_block: int
    open_orders: int
    matcher: str | None
    dependencies: dict[str, DependencyPublic] = Field(default_factory=dict, description="chain, store")
    down: list[str] = Field(default_factory=list, description="the dependencies that are down")


class ErrorPublic(BaseModel):
    """Every relay error but a 422: a stable machine `code`, what to do (`detail`) and, for a
    409 `in_flight` or a 503, `retry_after` seconds."""

    model_config = ConfigDict(extra="allow")
    detail: str
    code: str
    retry_after: int | None = None


_WHY = {
    400: "invalid (code says why: bad_signature, expired, insufficient_margin, ...)",
    403: "cancel signature missing or wrong",
    404: "unknown order or market",
    409: "duplicate (already known: success for a retry) or in_flight (being matched)",
    429: "too_many_orders",
    503: "chain_unavailable or store_unavailable: retry after `retry_after` seconds",
}


def errors(*codes: int) -> dict:
    """OpenAPI `responses` for the error statuses a route returns (422 is FastAPI's own)."""
    return {c: {"model": ErrorPublic, "description": _WHY[c]} for c in codes}
