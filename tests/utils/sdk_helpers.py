"""Helpers for the SDK tests: push an oracle price the way the pusher keeper does (integration),
and a chain-free FakeReader with fixed marks (unit)."""

from __future__ import annotations

import datetime as dt

from core import eip712
from core.specs import spec_matches
from devnet.anvil import ANVIL_KEYS
from sdk.margin import Holding
from sdk.models import AccountState, Mark, Market, Position


def push_price(reader, relayer, feed: str, price_units: int, observed_at: int | None = None) -> None:
    """Sign a Report for one feed with anvil reporters 1-3 (all of them) and submit it from
    ``relayer`` (an sdk Client). Observations must be strictly newer per feed, and several
    pushes may share a block time, so the default is max(chain time, last observation + 1)."""
    fid = bytes.fromhex(feed[2:])
    now = observed_at if observed_at is not None else max(reader.now(), reader.feed(feed)["observed_at"] + 1)
    d = eip712.report_digest([fid], [price_units], now, reader.chain_id, reader.oracle.address)
    # every reporter signs, as the pusher sends every row: a move beyond the feed's jump
    # limit is stored, not clamped (Oracle circuit breaker)
    sigs = [eip712.sign_digest(k, d) for k in ANVIL_KEYS[1:4]]
    relayer._transact(reader.oracle.functions.submit([fid], now, [[price_units]] * len(sigs), sigs), "submit report")


# ---------------------------------------------------------------- unit-test fakes (no chain)

# a fixed chain clock: 2026-11-15 12:00 UTC, so "next month" is December 2026
NOW = int(dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC).timestamp())


def market_from_entry(e: dict) -> Market:
    p = e["params"]
    return Market(
        id=e["id"],
        symbol=e["symbol"],
        kind=e["kind"],
        spec=e["spec"],
        spec_hash=e["spec_hash"],
        mark_feed=e["mark_feed"],
        settlement_feed=e["settlement_feed"],
        **p,
    )


class FakeReader:
    """The slice of sdk.reader.Reader the hedge helpers use, over fixed marks and one account."""

    def __init__(self, markets: list[Market], marks: dict[int, int], account: AccountState | None = None, fees=(2, 5)):
        self._markets = {m.id: m for m in markets}
        self._marks = marks
        self._account = account
        self._fees = fees

    def find_markets(self, kind=None, **fields):
        out = []
        for m in self._markets.values():
            if kind and m.kind != kind:
                continue
            if spec_matches(m.spec, **fields):
                out.append(m)
        return out

    def _static_market(self, mid):
        return self._markets[mid]

    def mark(self, mid):
        return Mark(
            mid,
            self._markets[mid].mark_feed,
            self._marks.get(mid, 0),
            NOW if mid in self._marks else 0,
            mid in self._marks,
        )

    def fees_bps(self):
        return self._fees

    def account(self, address):
        return self._account

    def stale_error(self, market, action=None):
        from sdk.errors import StaleMarket

        return StaleMarket(f"{action}: {market.symbol} has no mark", market_id=market.id, feed_id=market.mark_feed)


def holding(market: Market, q: int, on: int, mark: int) -> Holding:
    return Holding(market, q, on, mark)


def account(collateral: int, positions=(), equity=None, im=0, mm=0) -> AccountState:
    return AccountState(
        "0x" + "ab" * 20, collateral, collateral if equity is None else equity, im, mm, True, tuple(positions)
    )


def position(market_id: int, q: int, on: int, mark: int) -> Position:
    return Position(market_id, f"M{market_id}", q, on, mark, 0, 0, None)
