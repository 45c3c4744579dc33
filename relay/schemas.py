"""Request and response models (the OpenAPI contract). Chain units throughout: quantity in
thousandths of a unit, price in collateral base units per unit (may be negative); uint256
fields are accepted as JSON numbers or decimal strings and returned as decimal strings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator


class OrderCreate(BaseModel):
    """A signed order. Flat, or the SDK's `{"order": {...}, "signature": ..., "hash": ...}`."""

    trader: str = Field(examples=["0xB94c4046FF368A869d3150d411440267472a1043"])
    market_id: int
    is_buy: bool
    quantity: int = Field(description="thousandths of a unit")
    price: int = Field(description="collateral base units per unit; may be negative")
    nonce: int
    expiry: int = Field(description="unix seconds; dead after it")
    reduce_only: bool = False
    signature: str = Field(
        description="0x + hex: an EOA's 65-byte EIP-712 signature (r, s, v), or for a contract "
        "wallet (a Safe) what its EIP-1271 isValidSignature accepts for the order "
        "digest, at most 1,024 bytes (empty: approved on-chain)"
    )
    hash: str | None = Field(default=None, description="optional; must equal the EIP-712 digest if given")

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
    timestamp: float


class HealthPublic(BaseModel):
    status: str
    chain_id: int
    exchange: str
    head_block: int
    follower_block: int
    open_orders: int
    matcher: str | None
