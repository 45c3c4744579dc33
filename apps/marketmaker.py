"""Market-maker keeper: two-sided signed quotes around the on-chain mark, posted to the relay.

Logic (`MarketMaker.quotes`, pure): around the mark, `levels` bids and asks `spread_bps` wide
(at least `min_half_spread_ticks` ticks each side), each `level_step_bps` further out; the centre
is shifted against inventory (long -> lower quotes, so it sells more readily):
    centre = mark - (position / max_position) * skew_bps * |mark| / 10_000
Risk limits: bids stop where they would take the position beyond +max_position (asks: beyond
-max_position); above `max_margin_usage` (initial margin / equity) only position-reducing quotes
are made. Prices are rounded away from the mark onto the tick (bids down, asks up), sizes down
to the step.

Depth by margin (`level_margin_usd`, `max_position_margin_usd`, 0 = off): markets differ by
orders of magnitude in what a unit risks (an hourly MWh carries ~320 USD of initial margin, a
GPU-hour of spread ~1.2 USD), so a fixed size is either nothing in one market or the whole
account in another. With these set, each level quotes at least the size whose initial margin
(`im_fixed + im_rate x |mark|` per unit) is `level_margin_usd`, and the position limit is at
least the size whose margin is `max_position_margin_usd`. The devnet (`devnet.stack`) runs the
market maker this way so that the README's and the planner's default hedges fill
(docs/web.md, "The devnet's market maker", has the numbers).

Refresh (`needs_refresh`): when the mark moved more than `refresh_bps` since the last quotes,
when quotes were filled or dropped, or before they expire. A refresh first kills every
outstanding quote on-chain with `Exchange.cancel_all(new_min_nonce)` (one tx, all markets; no
stale signed quote survives), then signs and posts new quotes with nonces >= that minimum.

The runner is a trader like any other: it reads markets and its account, signs and cancels with
`sdk.Client`, and posts and lists its quotes through the relay's public HTTP API
(`sdk.relay_client.RelayClient`); it knows nothing of the relay's internals.

Runner:
    cspread-marketmaker --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545 \
        --relay-url http://127.0.0.1:8600 --key-env CSPREAD_MM_KEY [--markets 5,6] [--deposit 100000]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from core import units as u
from sdk.client import Client
from sdk.errors import ComputeSpreadError, RelayError, UnknownMarket
from sdk.models import Market, MarketStatus

#: s between two first-mark requests for one market (POST /marks/requests at the reporters)
MARK_REQUEST_EVERY = 60.0

log = logging.getLogger("cspread.marketmaker")


@dataclass(frozen=True)
class QuoteParams:
    spread_bps: int = 100  # full width between best bid and best ask, bps of |mark|
    min_half_spread_ticks: int = 1
    levels: int = 2
    level_step_bps: int = 50
    size: int = 10_000  # thousandths per quote
    max_position: int = 100_000  # thousandths, per market, either side
    skew_bps: int = 50  # centre shift at full inventory, bps of |mark|
    max_margin_usage: float = 0.5  # initial margin / equity above which only reducing quotes are made
    refresh_bps: int = 20  # mark move that triggers a re-quote
    ttl: int = 3_600  # s quotes live
    level_margin_usd: int = 0  # >0: each level at least this much initial margin (USD) deep (module doc)
    max_position_margin_usd: int = 0  # >0: position limit at least this much initial margin (USD)


class QuotedMarket(Protocol):
    """What quoting reads of a market, chain units (`QuoteMarket.of(sdk Market)` builds one)."""

    market_id: int
    quantity_step: int  # thousandths
    min_quantity: int  # thousandths
    price_tick: int  # base units
    im_fixed: int  # initial margin per unit, base units
    im_rate_bps: int  # plus this share of |mark|
    mark: int  # base units per unit, may be negative
    mark_fresh: bool
    halted: bool
    settled: bool


@dataclass(frozen=True)
class QuoteMarket:
    market_id: int
    quantity_step: int
    min_quantity: int
    price_tick: int
    im_fixed: int
    im_rate_bps: int
    mark: int
    mark_fresh: bool
    halted: bool
    settled: bool  # settled, or past its last trade time (settling): no more trading

    @classmethod
    def of(cls, m: Market) -> QuoteMarket:
        mark = m.mark
        return cls(
            m.id,
            m.quantity_step,
            m.min_quantity,
            m.price_tick,
            m.im_fixed,
            m.im_rate_bps,
            mark.price_units if mark else 0,
            bool(mark and mark.fresh),
            m.status == MarketStatus.HALTED,
            m.status in (MarketStatus.SETTLED, MarketStatus.SETTLING),
        )


@dataclass(frozen=True)
class Quote:
    is_buy: bool
    price: int
    quantity: int


def _floor(x: int, tick: int) -> int:
    return x // tick * tick


def _ceil(x: int, tick: int) -> int:
    return -((-x) // tick) * tick


class MarketMaker:
    def __init__(self, params: QuoteParams | None = None):
        self.p = params or QuoteParams()

    def sizes(self, m: QuotedMarket) -> tuple[int, int]:
        """(quote size, position limit) in thousandths for market `m` (module doc: depth by margin)."""
        p = self.p
        # initial margin of one unit at the mark, base units (so the size below stays in integers)
        im_unit = m.im_fixed + m.im_rate_bps * abs(m.mark) // u.BPS
        size, max_pos = p.size, p.max_position
        if im_unit > 0:
            if p.level_margin_usd > 0:
                size = max(size, u.usd_to_base(p.level_margin_usd) * u.QUANTITY_SCALE // im_unit)
            if p.max_position_margin_usd > 0:
                max_pos = max(max_pos, u.usd_to_base(p.max_position_margin_usd) * u.QUANTITY_SCALE // im_unit)
        step = max(m.quantity_step, 1)
        return size // step * step, max_pos

    def quotes(self, m: QuotedMarket, position: int, equity: int, initial: int) -> list[Quote]:
        """Quotes for market `m` given the position (thousandths) and the account's equity and
        initial margin (base units)."""
        p, mark, tick = self.p, m.mark, m.price_tick
        if not m.mark_fresh or m.halted or m.settled:
            return []
        size, max_position = self.sizes(m)
        scale = abs(mark) or tick * 100
        half = max(scale * p.spread_bps // 20_000, p.min_half_spread_ticks * tick)
        step_out = max(scale * p.level_step_bps // 10_000, tick)
        centre = mark - position * p.skew_bps * scale // (10_000 * max_position)
        reduce_only_mode = equity <= 0 or initial >= Decimal(str(p.max_margin_usage)) * equity
        bid_room = max_position - position
        ask_room = max_position + position
        if reduce_only_mode:
            bid_room, ask_room = max(0, -position), max(0, position)
        out: list[Quote] = []
        for i in range(p.levels):
            for is_buy in (True, False):
                room = bid_room if is_buy else ask_room
                q = _floor(min(size, room), m.quantity_step)
                if q < m.min_quantity:
                    continue
                price = (
                    _floor(centre - half - i * step_out, tick) if is_buy else _ceil(centre + half + i * step_out, tick)
                )
                out.append(Quote(is_buy, price, q))
                if is_buy:
                    bid_room -= q
                else:
                    ask_room -= q
        return out

    def needs_refresh(
        self, last_mark: int | None, mark: int, live: int, expected: int, expires_at: float, now: float
    ) -> bool:
        if last_mark is None or live < expected or now >= expires_at - 60:
            return True
        return abs(mark - last_mark) * 10_000 > self.p.refresh_bps * max(abs(last_mark), 1)


@dataclass
class _State:
    last_mark: dict[int, int] = field(default_factory=dict)
    hashes: dict[int, list[str]] = field(default_factory=dict)
    expires_at: float = 0.0


class MarketMakerRunner:
    """Reads the chain, decides with `MarketMaker`, cancels on-chain, posts to the relay: all
    through the public SDK (`sdk.Client` with its relay client)."""

    def __init__(
        self,
        manifest,
        rpc_url: str,
        relay_url: str,
        key: str,
        market_ids: list[int],
        params: QuoteParams | None = None,
        oracle_urls: list[str] | str | None = None,
    ):
        self.manifest = manifest
        self.client = Client(manifest, rpc_url, private_key=key, relay_url=relay_url, oracle_urls=oracle_urls)
        self.mm = MarketMaker(params)
        self.markets = market_ids
        self.state = _State()
        self.asked_at: dict[int, float] = {}  # market id -> wall time its mark was last requested

    @property
    def account(self) -> Client:
        """The quoting account (``.address``)."""
        return self.client

    def deposit(self, usd: u.Number) -> None:
        """Devnet: mint `usd` of MockUSDC (the faucet's 1,000,000 per call, in chunks) and deposit it."""
        left = u.to_decimal(usd, "deposit")
        while left > 0:
            chunk = min(left, Decimal(1_000_000))
            self.client.faucet(chunk)
            left -= chunk
        self.client.deposit(usd)

    def _live(self) -> dict[int, int]:
        """Open quotes at the relay per market."""
        live: dict[int, int] = {}
        for o in self.client.relay.orders(self.client.address):
            live[o.order.market_id] = live.get(o.order.market_id, 0) + 1
        return live

    def step(self) -> dict:
        """One round; returns metrics (quotes posted, rejected, whether it refreshed)."""
        c = self.client
        acct = c.me()
        plans: dict[int, tuple[Market, list[Quote]]] = {}
        for mid in self.markets:
            try:
                m = c.market(mid)
            except UnknownMarket:
                continue
            pos = acct.position(mid)
            plans[mid] = (
                m,
                self.mm.quotes(
                    QuoteMarket.of(m), pos.quantity_units if pos else 0, acct.equity_units, acct.initial_margin_units
                ),
            )
        now = time.time()
        self._request_marks([m for m, _ in plans.values()], now)
        live = self._live()
        refresh = any(
            self.mm.needs_refresh(
                self.state.last_mark.get(mid), m.mark.price_units, live.get(mid, 0), len(qs), self.state.expires_at, now
            )
            for mid, (m, qs) in plans.items()
            if qs
        )
        if not refresh:
            return {"refreshed": False, "posted": 0, "rejected": 0}
        if any(live.values()) or self.state.hashes:
            try:
                c.cancel_all()  # new quotes take nonces from the same source, so above the new minimum
            except ComputeSpreadError as e:
                log.warning("cancel_all failed: %s", e)
                return {"refreshed": False, "posted": 0, "rejected": 0, "error": getattr(e, "reason", None) or str(e)}
        expiry = c.now() + self.mm.p.ttl
        posted = rejected = 0
        self.state.hashes = {}
        for mid, (m, qs) in plans.items():
            for q in qs:
                try:
                    # no SDK pre-flight per quote: the relay checks each against the margin of every
                    # resting quote (stricter than the SDK's one-order check) and says why it refuses
                    signed = c.place_order(
                        m,
                        "buy" if q.is_buy else "sell",
                        u.units_to_quantity(q.quantity),
                        u.base_to_usd(q.price),
                        expiry=expiry,
                        check=False,
                    )
                except RelayError as e:
                    if e.status is None:
                        raise  # the relay is unreachable: this round is over, the next one re-reads everything
                    rejected += 1
                    log.warning("quote rejected market=%s %s: %s", mid, q, e)
                    continue
                posted += 1
                self.state.hashes.setdefault(mid, []).append(signed.hash)
            self.state.last_mark[mid] = m.mark.price_units
        self.state.expires_at = now + self.mm.p.ttl
        log.info("quoted %s orders (%s rejected) in markets %s", posted, rejected, list(plans))
        return {"refreshed": True, "posted": posted, "rejected": rejected}

    def _request_marks(self, markets: list[Market], now: float) -> None:
        # marks are pushed where the venue needs them (open interest, resting orders, requests):
        # a quoted market without a fresh mark asks the reporters for one, at most once a minute
        want = [
            m.id
            for m in markets
            if m.mark is not None
            and not m.mark.fresh
            and m.status not in (MarketStatus.SETTLED, MarketStatus.SETTLING)
            and now - self.asked_at.get(m.id, 0.0) >= MARK_REQUEST_EVERY
        ]
        if not want or not self.client.oracle_urls:
            return
        asked = self.client.request_marks(want)
        for mid in want:
            self.asked_at[mid] = now
        log.info("asked %s reporters for marks of markets %s", len(asked), want)

    def run(self, interval: float = 2.0, stop=None) -> None:
        while stop is None or not stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - keep quoting; the next round re-reads everything
                log.exception("market-maker round failed")
            time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    from core.manifest import Manifest
    from core.options import add_shared, require

    ap = argparse.ArgumentParser(
        prog="cspread-marketmaker", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_shared(
        ap,
        "--manifest",
        "--rpc-url",
        "--relay-url",
        "--oracle-url",
        "--key-env",
        once=True,
        defaults={"--key-env": "CSPREAD_MM_KEY"},
        helps={
            "--key-env": "name of the env var holding the quoting account's hex key",
            "--oracle-url": "reporter URL(s), comma-separated: a quoted market without a fresh mark asks them for one",
        },
    )
    ap.add_argument("--markets", help="comma-separated market ids (default: every market in the manifest)")
    ap.add_argument("--deposit", type=float, default=0, help="devnet: mint and deposit this many USD first")
    ap.add_argument("--interval", type=float, default=2.0)
    for f in QuoteParams.__dataclass_fields__.values():
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    a = ap.parse_args(argv)
    require(ap, a, "--manifest", "--rpc-url", "--relay-url")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    key = os.environ.get(a.key_env)
    if not key:
        raise SystemExit(f"${a.key_env} holds no private key")
    manifest = Manifest.load(a.manifest)
    mids = [int(x) for x in a.markets.split(",")] if a.markets else [m["id"] for m in manifest.markets]
    params = QuoteParams(**{k: getattr(a, k) for k in QuoteParams.__dataclass_fields__})
    runner = MarketMakerRunner(manifest, a.rpc_url, a.relay_url, key, mids, params, oracle_urls=a.oracle_url)
    if a.deposit:
        runner.deposit(Decimal(str(a.deposit)))
    if a.once:
        print(runner.step())
        return
    runner.run(a.interval)


if __name__ == "__main__":
    main()
