"""Settler: finalise the settlement of expired markets once their settlement value has
stood undisputed for the dispute window, then settle every open position in batches of
at most 100 accounts (``Clearinghouse.settle_many``).

Plain logic: :func:`finalizable` (may ``finalize_settlement`` succeed at time ``now``?),
:func:`needs_adl` (would ``settle_many`` skip this holder because its loss exceeds the insurance
fund?), :func:`plan_settlement` (which holders to batch, which wait for the liquidator's ADL,
which opposite holders to hold back meanwhile) and :func:`batches` (holders -> batches).

An account whose final loss the insurance fund cannot carry is skipped by ``settle_many``
(``settle`` would revert "Clearinghouse: deleverage needed"): its loss must first be assigned
by ``deleverage`` to the profitable opposite positions of that market, which the liquidator
keeper does. The settler leaves it out of its batches and reports it once (log + gauge)
instead of resending it every block, and holds back the holders on the other side of it for
``adl_hold_blocks`` (they are the only ones ADL can assign the loss to once they are settled).
:class:`Settler` reads markets, the oracle's settlement feeds and the holders (from
PositionUpdated events via :class:`~keepers.positions.PositionBook`).

At the scale of a standing curve (hundreds of markets listed and expiring a day) it reads each
market's static data once (a cursor over market ids), looks only at markets whose delivery has
ended and that are not settled, sends every finalisation due in one pass, and drops a settled
market from every scan once no position is left in it: per-block reads follow the markets
expiring now, not the venue's history.

    cspread-settler --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from pydantic import field_validator

from chain.rpc import Chain, Head, batch_call
from core import abi
from keepers.chain import KeeperSettings, Metrics, build_sender, kv, load_settings, main_loop
from keepers.cli import add_keeper_args, keeper_overrides
from keepers.positions import EventSync, PositionBook

MAX_SETTLE_BATCH = 100
READ_BATCH = 500  # view calls per JSON-RPC batch request
RECHECK_MIN, RECHECK_MAX = 30, 1800  # s: backoff of an expired market whose settlement value is missing
log = logging.getLogger("keepers.settler")


@dataclass(frozen=True)
class MarketInfo:
    market_id: int
    settlement_feed: bytes
    delivery_end: int
    dispute_window: int
    settled: bool


@dataclass(frozen=True)
class SettlementFeed:
    price: int
    observed_at: int
    updated_at: int
    disputed: bool
    final: bool


def finalizable(m: MarketInfo, f: SettlementFeed, now: int) -> tuple[bool, str]:
    """Mirror of ``finalize_settlement``'s checks at block time ``now``."""
    if m.settled:
        return False, "already settled"
    if now < m.delivery_end:
        return False, "delivery not over"
    if f.observed_at < m.delivery_end:
        return False, "no settlement price observed after delivery_end yet"
    if f.updated_at < m.delivery_end:
        return False, "settlement value written before delivery_end: it must be disputed and resolved"
    if f.disputed:
        return False, "settlement disputed"
    if not f.final and f.updated_at + m.dispute_window > now:
        return False, f"dispute window open for {f.updated_at + m.dispute_window - now} s"
    return True, "ok"


def _tdiv(a: int, b: int) -> int:
    """Integer division truncated toward zero (Vyper's ``//`` on signed integers)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def needs_adl(collateral: int, quantity: int, open_notional: int, price: int, open_markets: int, fund: int) -> bool:
    """Mirror of ``settle_many``'s skip: settling this last position would leave a loss the
    insurance fund cannot carry."""
    left = collateral + _tdiv(quantity * price, 1000) - open_notional
    return left < 0 and open_markets == 1 and -left > fund


@dataclass(frozen=True)
class SettlementPlan:
    settle: list[str]  # holders to pass to settle_many now
    waiting: list[str]  # holders whose loss needs deleverage first (skipped by the contract)
    held: list[str]  # opposite holders kept open for ADL while someone waits (up to adl_hold_blocks)


def plan_settlement(holders: list[tuple[str, int, int, int, int]], price: int, fund: int, hold: bool) -> SettlementPlan:
    """holders: (account, quantity, open_notional, collateral, open_markets) in a settled market.
    With ``hold``, holders on the opposite side of a waiting account are not settled yet: once
    settled, ADL cannot assign the waiting account's loss to them in this market."""
    waiting = [h for h in holders if needs_adl(h[3], h[1], h[2], price, h[4], fund)]
    wait_set = {h[0] for h in waiting}
    sides = {1 if h[1] > 0 else -1 for h in waiting}
    held = [h[0] for h in holders if hold and h[0] not in wait_set and (-1 if h[1] > 0 else 1) in sides]
    skip = wait_set | set(held)
    return SettlementPlan([h[0] for h in holders if h[0] not in skip], [h[0] for h in waiting], held)


def batches(accounts: list[str], size: int = MAX_SETTLE_BATCH) -> list[list[str]]:
    if not 1 <= size <= MAX_SETTLE_BATCH:
        raise ValueError(f"batch size must be 1..{MAX_SETTLE_BATCH}")
    return [accounts[i : i + size] for i in range(0, len(accounts), size)]


class SettlerSettings(KeeperSettings):
    poll_interval: float = 1.0
    batch_size: int = MAX_SETTLE_BATCH
    adl_hold_blocks: int = 30  # blocks the other side of a waiting account stays unsettled for ADL

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v: int) -> int:
        if not 1 <= v <= MAX_SETTLE_BATCH:
            raise ValueError(f"must be 1..{MAX_SETTLE_BATCH} (settle_many's limit)")
        return v


class Settler:
    """Finalises and settles expired markets at the scale of a standing curve (hundreds of
    markets a day): each market's static data is read once (a cursor over market ids), only
    markets whose delivery has ended are looked at each block, and a settled market leaves
    every scan as soon as it has no open position left (it is never read again)."""

    name = "settler"

    def __init__(self, settings: SettlerSettings, chain: Chain, metrics: Metrics, sender=None):
        if not 1 <= settings.batch_size <= MAX_SETTLE_BATCH:
            raise ValueError(f"CSPREAD_BATCH_SIZE must be 1..{MAX_SETTLE_BATCH}")
        self.s, self.chain, self.metrics = settings, chain, metrics
        self.manifest = settings.load_manifest()
        self.ch = self.manifest.contract(chain.w3, "Clearinghouse")
        self.oracle = self.manifest.contract(chain.w3, "Oracle")
        self.sender = sender or build_sender(settings, chain.w3, metrics, log)
        self.book = PositionBook()
        self.sync = EventSync(
            chain.w3, self.ch.address, int(self.manifest.data.get("block", 0)), self.book, settings.log_chunk
        )
        self.m_final = metrics.counter("finalized_total", "finalize_settlement txs sent")
        self.m_settled = metrics.counter("settle_batches_total", "settle_many txs sent")
        self.m_open = metrics.gauge("open_positions_in_settled_markets", "Positions waiting to be settled")
        self.m_adl = metrics.gauge("adl_waiting", "Positions skipped by settle_many: their loss needs deleverage")
        self.m_held = metrics.gauge("held_for_adl", "Opposite positions held back so ADL can assign a loss")
        self.m_live = metrics.gauge("live_markets", "Markets not settled yet (the only ones scanned)")
        self.m_reads = metrics.counter("market_reads_total", "Per-market chain reads (market, state, feed)")
        self.reported: set[tuple[int, str]] = set()  # (market, account) waiting for ADL, already logged
        self.hold_since: dict[int, int] = {}  # market -> block its first waiting account was seen
        self.seen = 0  # markets 1..seen have had their static data read
        self.live: dict[int, MarketInfo] = {}  # not settled: delivery end, settlement feed, dispute window
        self.settled: dict[int, int] = {}  # settled and maybe with positions left: market -> settlement price
        self.done = 0  # settled markets dropped from every scan
        # expired markets not finalizable yet: chain time of the next look, and the backoff of a
        # market still waiting for its settlement value (so a value that never comes costs a read
        # every RECHECK_MAX s, not one every block)
        self.next_look: dict[int, int] = {}
        self.backoff: dict[int, int] = {}

    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        r = self.sync.sync(head.number, head.hash, head.parent_hash)
        self.discover()
        return {
            "markets": self.seen,
            "live": len(self.live),
            "signer": self.sender.address,
            "dry_run": self.sender.dry,
            **r,
        }

    def on_reconnect(self, head: Head) -> None:
        self.sync.request_resync()
        self.sender.reset()

    def _batch(self, calls: list) -> list:
        out = []
        for i in range(0, len(calls), READ_BATCH):
            out += batch_call(self.chain.w3, calls[i : i + READ_BATCH])
        self.m_reads.inc(len(calls))
        return out

    def discover(self) -> int:
        """Read the static data of markets listed since the last call (once per market)."""
        n = int(self.ch.functions.market_count().call())
        ids = list(range(self.seen + 1, n + 1))
        if not ids:
            return 0
        res = self._batch([self.ch.functions.market(i) for i in ids] + [self.ch.functions.market_state(i) for i in ids])
        for i, m, st in zip(ids, res[: len(ids)], res[len(ids) :], strict=True):
            m, st = abi.Market.decode(m), abi.MarketState.decode(st)
            if st.settled:
                self.settled[i] = int(st.settlement_price)
            else:
                self.live[i] = MarketInfo(i, m.settlement_feed, m.delivery_end, m.dispute_window, False)
        self.seen = n
        return len(ids)

    def markets(self) -> list[MarketInfo]:
        """The markets still to finalise (static data, from the cursor)."""
        self.discover()
        return list(self.live.values())

    def on_block(self, head: Head) -> dict:
        sync = self.sync.sync(head.number, head.hash, head.parent_hash)
        if sync["resync"] or sync.get("rolled_back"):
            # a rollback undid blocks our settle txs may have landed in: forget them and look at
            # every expired market again, as after a full resync
            self.sender.reset()
            self.next_look.clear()
        for o in self.sender.poll(head.number):
            kv(
                log,
                logging.INFO if o.status == "mined" else logging.WARNING,
                f"{o.meta.get('kind')} {o.status}",
                tx=o.tx_hash,
                block=o.block,
                market_id=o.meta.get("market_id"),
            )
        self.discover()
        expired = [
            m
            for m in self.live.values()
            if head.timestamp >= m.delivery_end and self.next_look.get(m.market_id, 0) <= head.timestamp
        ]
        finalized = self._finalize(expired, head) if expired else 0
        settled, waiting, n_adl, n_held = self._settle(head)
        self.m_open.set(waiting)
        self.m_adl.set(n_adl)
        self.m_held.set(n_held)
        self.m_live.set(len(self.live))
        return {
            "live": len(self.live),
            "expired": len(expired),
            "finalize_sent": finalized,
            "settled_open": len(self.settled),
            "settled_done": self.done,
            "settle_batches": settled,
            "open_in_settled": waiting,
            "adl_waiting": n_adl,
            "held_for_adl": n_held,
        }

    def _finalize(self, expired: list[MarketInfo], head: Head) -> int:
        """One pass over every market whose delivery ended: the settled move out of ``live``,
        the finalizable get their finalize_settlement sent (all in this block)."""
        res = self._batch(
            [self.ch.functions.market_state(m.market_id) for m in expired]
            + [self.oracle.functions.feed(m.settlement_feed) for m in expired]
        )
        states, feeds = res[: len(expired)], res[len(expired) :]
        sent = 0
        for m, st, f in zip(expired, states, feeds, strict=True):
            st = abi.MarketState.decode(st)
            if st.settled:  # finalised (by us last block, or by anyone): to the settle stage
                self.live.pop(m.market_id, None)
                self.next_look.pop(m.market_id, None)
                self.backoff.pop(m.market_id, None)
                self.settled[m.market_id] = int(st.settlement_price)
                continue
            feed = SettlementFeed(*f)
            ok, why = finalizable(m, feed, head.timestamp)
            if not ok:
                kv(log, logging.DEBUG, "not finalizable", market_id=m.market_id, reason=why)
                self.next_look[m.market_id] = self._next_look(m, feed, head.timestamp)
                continue
            r = self.sender.send(
                f"final:{m.market_id}",
                self.ch.functions.finalize_settlement(m.market_id),
                head.number,
                kind="finalize",
                meta={"kind": "finalize", "market_id": m.market_id},
                describe={"market_id": m.market_id, "price": f[0]},
            )
            if r.status in ("sent", "dry"):
                sent += 1
                self.m_final.inc()
        return sent

    def _next_look(self, m: MarketInfo, f: SettlementFeed, now: int) -> int:
        """When to read a not-yet-finalizable market again: when its dispute window closes if a
        valid value stands, else after a backoff doubling from RECHECK_MIN to RECHECK_MAX s."""
        if not f.disputed and f.observed_at >= m.delivery_end and f.updated_at >= m.delivery_end:
            return f.updated_at + m.dispute_window
        b = min(RECHECK_MAX, 2 * self.backoff.get(m.market_id, RECHECK_MIN // 2))
        self.backoff[m.market_id] = b
        return now + b

    def _settle(self, head: Head) -> tuple[int, int, int, int]:
        holders = {mid: self.book.holders(mid) for mid in self.settled}
        for mid in [mid for mid, h in holders.items() if not h]:
            # nobody left to settle: this market leaves every scan for good
            del self.settled[mid]
            self.hold_since.pop(mid, None)
            self.reported = {r for r in self.reported if r[0] != mid}
            self.done += 1
        if not self.settled:
            return 0, 0, 0, 0
        accounts = sorted({a for mid in self.settled for a in holders[mid]})
        res = self._batch(
            [self.ch.functions.collateral(a) for a in accounts]
            + [self.ch.functions.open_markets(a) for a in accounts]
            + [self.ch.functions.insurance_fund()]
        )
        n = len(accounts)
        coll = {a: int(c) for a, c in zip(accounts, res[:n], strict=True)}
        n_open = {a: len(o) for a, o in zip(accounts, res[n : 2 * n], strict=True)}
        fund = int(res[-1])
        sent = waiting = n_adl = n_held = 0
        for mid, price in self.settled.items():
            rows = [(a, *self.book.position(a, mid), coll[a], n_open[a]) for a in holders[mid]]
            waiting += len(rows)
            plan = self._plan(mid, rows, price, fund, head.number)
            n_adl += len(plan.waiting)
            n_held += len(plan.held)
            for k, chunk in enumerate(batches(plan.settle, self.s.batch_size)):
                r = self.sender.send(
                    f"settle:{mid}:{k}",
                    self.ch.functions.settle_many(chunk, mid),
                    head.number,
                    kind="settle",
                    meta={"kind": "settle", "market_id": mid},
                    describe={"market_id": mid, "accounts": len(chunk), "batch": k},
                )
                if r.status in ("sent", "dry"):
                    sent += 1
                    self.m_settled.inc()
        return sent, waiting, n_adl, n_held

    def _plan(self, mid: int, rows: list[tuple[str, int, int, int, int]], price: int, fund: int, block: int):
        """rows: (account, quantity, open_notional, collateral, open markets) of the holders."""
        first = self.hold_since.get(mid)
        hold = first is None or block - first < self.s.adl_hold_blocks
        plan = plan_settlement(rows, price, fund, hold)
        if plan.waiting:
            self.hold_since.setdefault(mid, block)
        else:
            self.hold_since.pop(mid, None)
        for a in plan.waiting:
            if (mid, a) not in self.reported:
                self.reported.add((mid, a))
                kv(
                    log,
                    logging.WARNING,
                    "left to the liquidator: loss exceeds the insurance fund, needs deleverage",
                    market_id=mid,
                    account=a,
                    insurance_fund=fund,
                    holding_opposite=len(plan.held),
                    hold_blocks=self.s.adl_hold_blocks,
                )
        return plan


def build(settings: SettlerSettings, chain: Chain, metrics: Metrics) -> Settler:
    return Settler(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cspread-settler", description="Compute Spread settler")
    add_keeper_args(p)
    p.add_argument("--batch-size", type=int)
    a = p.parse_args(argv)
    s = load_settings(SettlerSettings, keeper_overrides(a, batch_size=a.batch_size))
    return main_loop("settler", s, build, once=a.once)


if __name__ == "__main__":
    raise SystemExit(main())
