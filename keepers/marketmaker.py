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
least the size whose margin is `max_position_margin_usd`. The devnet (`sdk.stack`) runs the
market maker this way so that the README's and the planner's default hedges fill
(docs/web.md, "The devnet's market maker", has the numbers).

Refresh (`needs_refresh`): when the mark moved more than `refresh_bps` since the last quotes,
when quotes were filled or dropped, or before they expire. A refresh first kills every
outstanding quote on-chain with `Exchange.cancel_all(new_min_nonce)` (one tx, all markets; no
stale signed quote survives), then signs and posts new quotes with nonces >= that minimum.

Runner:
    python -m keepers.marketmaker --manifest deployments/31337.json --rpc http://127.0.0.1:8545 \
        --relay http://127.0.0.1:8600 --key-env CSPREAD_MM_KEY [--markets 5,6] [--deposit 100000]
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass, field

import httpx
from eth_abi import encode

from keepers.matcher.chainview import SEL, MarketInfo, Rpc, RpcChain, _sel
from keepers.matcher.orders import Order, domain_separator, sign_order
from keepers.matcher.tx import TxFailed, TxSender

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

    def sizes(self, m: MarketInfo) -> tuple[int, int]:
        """(quote size, position limit) in thousandths for market `m` (module doc: depth by margin)."""
        p = self.p
        # initial margin of one thousandth at the mark, base units (x 1000 to stay in integers)
        im_milli = m.im_fixed + m.im_rate_bps * abs(m.mark) // 10_000
        size, max_pos = p.size, p.max_position
        if im_milli > 0:
            if p.level_margin_usd > 0:
                size = max(size, p.level_margin_usd * 10**6 * 1000 // im_milli)
            if p.max_position_margin_usd > 0:
                max_pos = max(max_pos, p.max_position_margin_usd * 10**6 * 1000 // im_milli)
        step = max(m.quantity_step, 1)
        return size // step * step, max_pos

    def quotes(self, m: MarketInfo, position: int, equity: int, initial: int) -> list[Quote]:
        p, mark, tick = self.p, m.mark, m.price_tick
        if not m.mark_fresh or m.halted or m.settled:
            return []
        size, max_position = self.sizes(m)
        scale = abs(mark) or tick * 100
        half = max(scale * p.spread_bps // 20_000, p.min_half_spread_ticks * tick)
        step_out = max(scale * p.level_step_bps // 10_000, tick)
        centre = mark - position * p.skew_bps * scale // (10_000 * max_position)
        reduce_only_mode = equity <= 0 or initial >= p.max_margin_usage * equity
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
                price = _floor(centre - half - i * step_out, tick) if is_buy else _ceil(centre + half + i * step_out, tick)
                out.append(Quote(is_buy, price, q))
                if is_buy:
                    bid_room -= q
                else:
                    ask_room -= q
        return out

    def needs_refresh(self, last_mark: int | None, mark: int, live: int, expected: int, expires_at: float,
                      now: float) -> bool:
        if last_mark is None or live < expected or now >= expires_at - 60:
            return True
        return abs(mark - last_mark) * 10_000 > self.p.refresh_bps * max(abs(last_mark), 1)


@dataclass
class _State:
    last_mark: dict[int, int] = field(default_factory=dict)
    hashes: dict[int, list[str]] = field(default_factory=dict)
    expires_at: float = 0.0


class MarketMakerRunner:
    """Reads the chain, decides with `MarketMaker`, cancels on-chain, posts to the relay."""

    def __init__(self, manifest, rpc_url: str, relay_url: str, key: str, market_ids: list[int],
                 params: QuoteParams | None = None):
        self.manifest = manifest
        self.rpc = Rpc(rpc_url)
        self.chain = RpcChain(self.rpc, manifest.chain_id, manifest.address("Exchange"),
                              manifest.address("Clearinghouse"), head_ttl=0.0,
                              clearinghouse_view=manifest.clearinghouse_view)
        self.sender = TxSender(self.rpc, key, manifest.chain_id)
        self.account = self.sender.account
        self.mm = MarketMaker(params)
        self.relay = httpx.Client(base_url=relay_url.rstrip("/"), timeout=10)
        self.markets = market_ids
        self.sep = domain_separator(manifest.chain_id, manifest.address("Exchange"))
        self.state = _State()

    def deposit(self, amount: int) -> None:
        """Devnet: mint MockUSDC, approve and deposit `amount` base units."""
        usdc, ch = self.manifest.address("MockUSDC"), self.manifest.address("Clearinghouse")
        me = self.account.address
        self.sender.send(usdc, _sel("mint(address,uint256)") + encode(["address", "uint256"], [me, amount]))
        self.sender.send(usdc, _sel("approve(address,uint256)") + encode(["address", "uint256"], [ch, amount]))
        self.sender.send(ch, _sel("deposit(uint256)") + encode(["uint256"], [amount]))
        self.chain.invalidate()

    def _live(self) -> dict[int, int]:
        r = self.relay.get("/orders", params={"trader": self.account.address})
        r.raise_for_status()
        live: dict[int, int] = {}
        for o in r.json():
            live[int(o["order"]["market_id"])] = live.get(int(o["order"]["market_id"]), 0) + 1
        return live

    def step(self) -> dict:
        """One round; returns metrics (quotes posted, rejected, whether it refreshed)."""
        self.chain.invalidate()
        me = self.account.address
        acct = self.chain.account(me)
        plans: dict[int, tuple[MarketInfo, list[Quote]]] = {}
        for mid in self.markets:
            m = self.chain.market(mid)
            if m is None:
                continue
            plans[mid] = (m, self.mm.quotes(m, self.chain.position(me, mid), acct.equity, acct.initial))
        live = self._live()
        now = time.time()
        refresh = any(self.mm.needs_refresh(self.state.last_mark.get(mid), m.mark, live.get(mid, 0), len(qs),
                                            self.state.expires_at, now)
                      for mid, (m, qs) in plans.items() if qs)
        if not refresh:
            return {"refreshed": False, "posted": 0, "rejected": 0}
        nonce = time.time_ns() // 1_000  # microseconds: increasing across restarts
        if any(live.values()) or self.state.hashes:
            try:
                self.sender.send(self.chain.exchange, SEL["cancel_all"] + encode(["uint256"], [nonce]))
            except TxFailed as e:
                log.warning("cancel_all failed: %s", e.reason)
                return {"refreshed": False, "posted": 0, "rejected": 0, "error": e.reason}
            self.chain.invalidate()
        _, head_ts = self.chain.head()
        expiry = head_ts + self.mm.p.ttl
        posted = rejected = 0
        self.state.hashes = {}
        for mid, (m, qs) in plans.items():
            for q in qs:
                o = Order(me, mid, q.is_buy, q.quantity, q.price, nonce, expiry, False)
                nonce += 1
                sig = sign_order(o, self.account, self.sep)
                r = self.relay.post("/orders", json={**o.as_dict(), "signature": "0x" + sig.hex()})
                if r.status_code == 201:
                    posted += 1
                    self.state.hashes.setdefault(mid, []).append(r.json()["hash"])
                else:
                    rejected += 1
                    log.warning("quote rejected market=%s %s: %s", mid, q, r.text[:300])
            self.state.last_mark[mid] = m.mark
        self.state.expires_at = now + self.mm.p.ttl
        log.info("quoted %s orders (%s rejected) in markets %s", posted, rejected, list(plans))
        return {"refreshed": True, "posted": posted, "rejected": rejected}

    def run(self, interval: float = 2.0, stop=None) -> None:
        while stop is None or not stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - keep quoting; the next round re-reads everything
                log.exception("market-maker round failed")
            time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    from sdk.manifest import Manifest

    ap = argparse.ArgumentParser(prog="python -m keepers.marketmaker", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--rpc", required=True)
    ap.add_argument("--relay", required=True)
    ap.add_argument("--key-env", default="CSPREAD_MM_KEY", help="env var holding the quoting account's key")
    ap.add_argument("--markets", help="comma-separated market ids (default: every market in the manifest)")
    ap.add_argument("--deposit", type=float, default=0, help="devnet: mint and deposit this many USD first")
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--once", action="store_true", help="quote once and exit")
    for f in QuoteParams.__dataclass_fields__.values():
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    key = os.environ.get(a.key_env)
    if not key:
        raise SystemExit(f"${a.key_env} holds no private key")
    manifest = Manifest.load(a.manifest)
    mids = [int(x) for x in a.markets.split(",")] if a.markets else [m["id"] for m in manifest.markets]
    params = QuoteParams(**{k: getattr(a, k) for k in QuoteParams.__dataclass_fields__})
    runner = MarketMakerRunner(manifest, a.rpc, a.relay, key, mids, params)
    if a.deposit:
        runner.deposit(int(a.deposit * 10**6))
    if a.once:
        print(runner.step())
        return
    runner.run(a.interval)


if __name__ == "__main__":
    main()
