"""Settler: finalise the settlement of expired markets once their settlement value has
stood undisputed for the dispute window, then settle every open position in batches of
at most 100 accounts (``Clearinghouse.settle_many``).

Plain logic: :func:`finalizable` (may ``finalize_settlement`` succeed at time ``now``?) and
:func:`batches` (holders -> batches). :class:`Settler` reads markets, the oracle's settlement
feeds and the holders (from PositionUpdated events via :class:`~keepers.book.PositionBook`).

    python -m keepers.settler --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from pydantic import field_validator

from keepers.book import EventSync, PositionBook
from keepers.chain import (Chain, Head, KeeperSettings, Metrics, add_common_args, batch_call, build_sender, kv,
                           load_settings, main_loop)

MAX_SETTLE_BATCH = 100
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
    if f.disputed:
        return False, "settlement disputed"
    if not f.final and f.updated_at + m.dispute_window > now:
        return False, f"dispute window open for {f.updated_at + m.dispute_window - now} s"
    return True, "ok"


def batches(accounts: list[str], size: int = MAX_SETTLE_BATCH) -> list[list[str]]:
    if not 1 <= size <= MAX_SETTLE_BATCH:
        raise ValueError(f"batch size must be 1..{MAX_SETTLE_BATCH}")
    return [accounts[i: i + size] for i in range(0, len(accounts), size)]


class SettlerSettings(KeeperSettings):
    poll_interval: float = 1.0
    batch_size: int = MAX_SETTLE_BATCH

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v: int) -> int:
        if not 1 <= v <= MAX_SETTLE_BATCH:
            raise ValueError(f"must be 1..{MAX_SETTLE_BATCH} (settle_many's limit)")
        return v


class Settler:
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
        self.sync = EventSync(chain.w3, self.ch.address, int(self.manifest.data.get("block", 0)), self.book,
                              settings.log_chunk)
        self.m_final = metrics.counter("finalized_total", "finalize_settlement txs sent")
        self.m_settled = metrics.counter("settle_batches_total", "settle_many txs sent")
        self.m_open = metrics.gauge("open_positions_in_settled_markets", "Positions waiting to be settled")

    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        r = self.sync.sync(head.number, head.hash, head.parent_hash)
        return {"markets": int(self.ch.functions.market_count().call()), "signer": self.sender.address,
                "dry_run": self.sender.dry, **r}

    def on_reconnect(self, head: Head) -> None:
        self.sync.request_resync()
        self.sender.reset()

    def markets(self) -> list[MarketInfo]:
        n = int(self.ch.functions.market_count().call())
        ids = list(range(1, n + 1))
        res = batch_call(self.chain.w3, [self.ch.functions.market(i) for i in ids] +
                         [self.ch.functions.market_state(i) for i in ids])
        return [MarketInfo(i, bytes(m[2]), int(m[4]), int(m[14]), bool(st[1]))
                for i, m, st in zip(ids, res[:n], res[n:])]

    def on_block(self, head: Head) -> dict:
        sync = self.sync.sync(head.number, head.hash, head.parent_hash)
        if sync["resync"]:
            self.sender.reset()
        for o in self.sender.poll(head.number):
            kv(log, logging.INFO if o.status == "mined" else logging.WARNING, f"{o.meta.get('kind')} {o.status}",
               tx=o.tx_hash, block=o.block, market_id=o.meta.get("market_id"))
        markets = self.markets()
        expired = [m for m in markets if not m.settled and head.timestamp >= m.delivery_end]
        feeds = batch_call(self.chain.w3, [self.oracle.functions.feed(m.settlement_feed) for m in expired])
        finalized = settled = waiting = 0
        for m, f in zip(expired, feeds):
            ok, why = finalizable(m, SettlementFeed(*f), head.timestamp)
            if not ok:
                kv(log, logging.DEBUG, "not finalizable", market_id=m.market_id, reason=why)
                continue
            r = self.sender.send(f"final:{m.market_id}", self.ch.functions.finalize_settlement(m.market_id),
                                 head.number, kind="finalize", meta={"kind": "finalize", "market_id": m.market_id},
                                 describe={"market_id": m.market_id, "price": f[0]})
            if r.status in ("sent", "dry"):
                finalized += 1
                self.m_final.inc()
        for m in markets:
            if not m.settled:
                continue
            holders = self.book.holders(m.market_id)
            waiting += len(holders)
            for k, chunk in enumerate(batches(holders, self.s.batch_size)):
                r = self.sender.send(f"settle:{m.market_id}:{k}", self.ch.functions.settle_many(chunk, m.market_id),
                                     head.number, kind="settle", meta={"kind": "settle", "market_id": m.market_id},
                                     describe={"market_id": m.market_id, "accounts": len(chunk), "batch": k})
                if r.status in ("sent", "dry"):
                    settled += 1
                    self.m_settled.inc()
        self.m_open.set(waiting)
        return {"expired": len(expired), "finalize_sent": finalized, "settle_batches": settled,
                "open_in_settled": waiting}


def build(settings: SettlerSettings, chain: Chain, metrics: Metrics) -> Settler:
    return Settler(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m keepers.settler", description="Compute Spread settler")
    add_common_args(p)
    p.add_argument("--batch-size", type=int)
    a = p.parse_args(argv)
    s = load_settings(SettlerSettings, {
        "rpc_url": a.rpc_url, "manifest": a.manifest, "metrics_port": a.metrics_port, "poll_interval": a.poll_interval,
        "key_env": a.key_env, "dry_run": a.dry_run, "log_level": a.log_level, "batch_size": a.batch_size})
    return main_loop("settler", s, build)


if __name__ == "__main__":
    raise SystemExit(main())
