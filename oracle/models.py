"""Request and response models of the reporter API (the OpenAPI schema is the contract).

Prices are strings of integers in USDC base units (int256 does not fit a JSON number
safely), with a float ``price_usd`` alongside for humans.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class HistoryQuery(BaseModel):
    limit: int = Field(100, ge=1, le=10_000, description="most recent observations to return")


class ReportQuery(BaseModel):
    feed_ids: str | None = Field(
        None,
        max_length=67 * 1_000,
        description="comma-separated 0x feed ids to sign, in this order (default: every feed with a value)",
    )
    observed_at: int | None = Field(
        None,
        ge=0,
        le=2**64 - 1,  # a block timestamp is a uint64
        description="chain time to value at (default: this reporter's latest); "
        "must be <= now and within max_report_lag_s",
    )
    exclude: str | None = Field(
        None,
        max_length=67 * 1_000,
        description="comma-separated 0x feed ids to leave out of the default selection "
        "(e.g. disputed or final on chain); unknown ids are ignored",
    )
    partial: bool = Field(
        False,
        description="with feed_ids: leave out feeds this reporter does not serve or cannot value "
        "now, instead of refusing the whole report (the pusher asks for many feeds at once)",
    )


class MarkRequestCreate(BaseModel):
    feed_ids: list[str] = Field(
        min_length=1,
        max_length=32,
        description="0x MARK feed ids of listed markets that need a first (or a fresh) mark on chain",
    )


class MarkRequestsPublic(BaseModel):
    now: int | None = Field(description="this reporter's chain time")
    feed_ids: list[str] = Field(description="mark feeds with an unexpired request, oldest first")
    expires_at: int | None = Field(None, description="chain time the requests just made expire")


class FeedPublic(BaseModel):
    feed_id: str = Field(description="bytes32 feed id, 0x hex")
    symbol: str = Field(description="market symbol")
    kind: Literal["MARK", "SETTLEMENT"]
    market_id: int
    market_kind: Literal["POWER", "COMPUTE", "SPREAD"]
    status: Literal["ok", "pending", "error"]
    price: str | None = Field(None, description="latest price, int256 USDC base units (6 decimals)")
    price_usd: float | None = None
    observed_at: int | None = Field(None, description="chain time of the latest observation")
    detail: str | None = Field(None, description="why there is no current value")


class FeedsPublic(BaseModel):
    chain_id: int
    now: int | None
    feeds: list[FeedPublic]


class ObservationPublic(BaseModel):
    observed_at: int
    price: str
    price_usd: float
    n_hours: int
    n_realised: int
    n_expected: int
    expected_usd: float | None
    missing_hours: list[int] = Field(description="data-time UTC hour starts without a price")


class FeedHistoryPublic(BaseModel):
    feed_id: str
    symbol: str
    kind: Literal["MARK", "SETTLEMENT"]
    observations: list[ObservationPublic]


class ReportPublic(BaseModel):
    chain_id: int
    oracle: str
    feed_ids: list[str]
    prices: list[str]
    observed_at: int
    signer: str
    signature: str
    digest: str


class MarketSpecPublic(BaseModel):
    id: int
    symbol: str
    kind: Literal["POWER", "COMPUTE", "SPREAD"]
    spec: dict[str, Any]
    spec_hash: str
    canonical_json: str
    mark_feed: str
    settlement_feed: str
    # what the power leg's profile means: the ISO's own block, e.g. "PJM peak HE08-HE23 EPT Mon-Fri
    # excl. NERC holidays" (None for ATC/HOURLY and COMPUTE)
    block: str | None = None


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    chain_id: int
    oracle: str
    signer: str | None
    now: int | None
    feeds: int
    feeds_ok: int
    feeds_error: int
    clock_error: str | None = None
