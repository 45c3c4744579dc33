"""Liquidator: a vectorised health scan of every account, on-chain confirmation, one tx per
target per block, largest shortfall first.

Plain classes (no chain): :func:`scan` (numpy health of all accounts at once),
:class:`Planner` (which accounts to liquidate, in which market, for how much, and whether it
pays). :class:`Liquidator` wires them to the chain: events -> :class:`~keepers.book.PositionBook`,
marks -> :class:`MarketVector`, candidates -> one batched ``account_summary`` read ->
``Clearinghouse.liquidate`` txs through the nonce-managed :class:`~keepers.chain.TxSender`.

The liquidator *takes over* the positions it liquidates and must stay above initial margin
afterwards (the contract checks), so its account needs collateral deposited in the
Clearinghouse (see docs/keepers.md, "Funding the liquidator").

    python -m keepers.liquidator --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field

import numpy as np

from keepers.book import EventSync, PositionBook
from keepers.chain import (ANVIL_CHAIN_ID, Chain, Head, KeeperSettings, Metrics, add_common_args, batch_call,
                           build_sender, kv, load_settings, main_loop)

QUANTITY_SCALE = 1000
BPS = 10_000
log = logging.getLogger("keepers.liquidator")


# --------------------------------------------------------------------------- pure maths


@dataclass
class MarketVector:
    """Per-market vectors aligned with a PositionBook's columns."""

    market_ids: list[int]
    mark: np.ndarray  # base units per unit
    fresh: np.ndarray  # bool: mark age <= max_price_age, not disputed
    mm_fixed: np.ndarray  # base units per unit
    mm_rate_bps: np.ndarray
    halted: np.ndarray  # bool
    settled: np.ndarray  # bool

    @classmethod
    def empty(cls, market_ids: list[int]) -> "MarketVector":
        n = len(market_ids)
        return cls(list(market_ids), np.zeros(n), np.zeros(n, bool), np.zeros(n), np.zeros(n), np.zeros(n, bool),
                   np.zeros(n, bool))


@dataclass
class ScanResult:
    equity: np.ndarray  # base units, per account
    maintenance: np.ndarray  # base units, per account
    fresh: np.ndarray  # bool: every market the account holds has a fresh mark
    liquidatable: np.ndarray  # bool: fresh and equity < MM (with the screening tolerance)
    shortfall: np.ndarray  # MM - equity


def scan(qty: np.ndarray, open_notional: np.ndarray, collateral: np.ndarray, mv: MarketVector,
         tolerance: float = 1.0) -> ScanResult:
    """Healths of all accounts at once (the contract's ``_summary`` vectorised).

    equity = collateral + sum_j floor(q_ij * mark_j / 1000) - open_notional_ij
    MM     = sum_j ceil(|q_ij| * (fixed_j * 1e4 + rate_j * |mark_j|) / 1e7)   (not for settled markets)

    Screening only: float64 and a ``tolerance`` (base units per held market) that makes the
    screen inclusive; every candidate is confirmed on chain before anything is sent.
    """
    held = qty != 0
    equity = collateral + (np.floor(qty * mv.mark / QUANTITY_SCALE) - open_notional).sum(axis=1)
    per_unit = mv.mm_fixed * BPS + mv.mm_rate_bps * np.abs(mv.mark)  # x 1e4
    per_unit = np.where(mv.settled, 0.0, per_unit)
    mm = np.ceil(np.abs(qty) * per_unit / (QUANTITY_SCALE * BPS)).sum(axis=1)
    stale_cols = ~mv.fresh
    fresh = ~(held & stale_cols).any(axis=1) if stale_cols.any() else np.ones(len(collateral), bool)
    n_held = held.sum(axis=1)
    liq = fresh & (mm > 0) & (equity < mm + tolerance * n_held)
    return ScanResult(equity, mm, fresh, liq, mm - equity)


@dataclass(frozen=True)
class Target:
    account: str
    market_id: int
    quantity: int  # thousandths: the whole position (the contract takes only what restores health)
    shortfall: int  # base units (confirmed on chain)
    insolvent: bool
    expected_penalty: int  # base units to the liquidator (0 for a close-out)


@dataclass
class Planner:
    """Turns confirmed account summaries into liquidation targets, largest shortfall first."""

    penalty_bps: int = 5_000
    insurance_share_bps: int = 2_000
    check_profit: bool = False
    gas_cost_units: int = 0  # gas cost of one liquidation, in collateral base units
    min_profit_units: int = 0
    allow_unprofitable_closeouts: bool = True  # insolvent accounts are closed out even at a loss

    def expected_penalty(self, equity: int, maintenance: int, size: int, mark: int, mm_fixed: int,
                         mm_rate_bps: int) -> int:
        """Penalty the liquidator keeps for taking `size`, as the contract computes it (nominal,
        capped at the account's equity and by the health-ratio cap, here approximated by equity)."""
        u = mm_fixed + mm_rate_bps * abs(mark) // BPS
        pen = self.penalty_bps
        if u > 0 and pen * maintenance <= equity * BPS:
            needed = -(-(maintenance - equity) * QUANTITY_SCALE * BPS // (u * (BPS - pen)))
            size = min(size, needed)
        nominal = size * u // QUANTITY_SCALE * pen // BPS
        p = max(0, min(nominal, equity))
        return p - p * self.insurance_share_bps // BPS

    def choose_market(self, positions: dict[int, int], mv: MarketVector) -> tuple[int, int] | None:
        """The market with the largest maintenance contribution that can be liquidated now."""
        best, best_mm = None, -1.0
        col = {m: j for j, m in enumerate(mv.market_ids)}
        for mid, q in positions.items():
            j = col.get(mid)
            if q == 0 or j is None or mv.halted[j] or mv.settled[j]:
                continue
            mm = abs(q) * (mv.mm_fixed[j] + mv.mm_rate_bps[j] * abs(mv.mark[j]) / BPS)
            if mm > best_mm:
                best, best_mm = (mid, abs(q)), mm
        return best

    def plan(self, confirmed: list[tuple[str, dict, dict[int, int]]], mv: MarketVector) -> tuple[list[Target], list[dict]]:
        """confirmed: (account, summary{equity, maintenance, fresh}, positions{market: qty}).
        Returns (targets sorted by shortfall desc, skipped with reasons)."""
        targets, skipped = [], []
        col = {m: j for j, m in enumerate(mv.market_ids)}
        for account, s, positions in confirmed:
            eq, mm = int(s["equity"]), int(s["maintenance"])
            if not s["fresh"]:
                skipped.append({"account": account, "reason": "stale mark"})
                continue
            if not (mm > 0 and eq < mm):
                skipped.append({"account": account, "reason": "healthy on chain"})
                continue
            choice = self.choose_market(positions, mv)
            if choice is None:
                skipped.append({"account": account, "reason": "only halted/settled markets"})
                continue
            mid, size = choice
            j = col[mid]
            insolvent = eq <= 0
            penalty = 0 if insolvent else self.expected_penalty(eq, mm, size, int(mv.mark[j]), int(mv.mm_fixed[j]),
                                                                int(mv.mm_rate_bps[j]))
            if self.check_profit and penalty < self.gas_cost_units + self.min_profit_units \
                    and not (insolvent and self.allow_unprofitable_closeouts):
                skipped.append({"account": account, "reason": "unprofitable", "penalty": penalty,
                                "gas_cost": self.gas_cost_units})
                continue
            targets.append(Target(account, mid, size, mm - eq, insolvent, penalty))
        targets.sort(key=lambda t: t.shortfall, reverse=True)
        return targets, skipped


@dataclass
class SendGuard:
    """Each target at most once per block and never while its tx is in flight; after a
    revert (lost race) the account rests ``cooldown_blocks`` before it is considered again."""

    cooldown_blocks: int = 2
    sent_block: dict[str, int] = field(default_factory=dict)
    resting_until: dict[str, int] = field(default_factory=dict)

    def allowed(self, account: str, block: int) -> bool:
        if self.sent_block.get(account) == block:
            return False
        return self.resting_until.get(account, -1) < block

    def sent(self, account: str, block: int) -> None:
        self.sent_block[account] = block

    def lost(self, account: str, block: int) -> None:
        self.resting_until[account] = block + self.cooldown_blocks


# --------------------------------------------------------------------------- chain wiring


class LiquidatorSettings(KeeperSettings):
    metrics_port: int = 0
    poll_interval: float = 0.5
    check_profit: bool | None = None  # default: on off-devnet, off on anvil (chain 31337)
    eth_price_usd: float = 3_000.0  # gas cost conversion for the profitability check
    gas_per_liquidation: int = 400_000  # used for the profit check before estimating
    min_profit_usd: float = 0.0
    max_targets_per_block: int = 200
    confirm_batch: int = 500  # account_summary calls per JSON-RPC batch


class Liquidator:
    name = "liquidator"

    def __init__(self, settings: LiquidatorSettings, chain: Chain, metrics: Metrics, sender=None):
        self.s, self.chain, self.metrics = settings, chain, metrics
        self.manifest = settings.load_manifest()
        w3 = chain.w3
        self.ch = self.manifest.contract(w3, "Clearinghouse")
        self.sender = sender or build_sender(settings, w3, metrics, log)
        self.book = PositionBook()
        self.sync = EventSync(w3, self.ch.address, int(self.manifest.data.get("block", 0)), self.book,
                              settings.log_chunk)
        self.guard = SendGuard()
        self.planner = Planner()
        self.market_ids: list[int] = []
        self.m_liq = metrics.counter("liquidations_sent_total", "Liquidation txs sent")
        self.m_liq_ok = metrics.counter("liquidations_mined_total", "Liquidation txs mined successfully")
        self.m_lost = metrics.counter("liquidations_lost_total", "Liquidations reverted or rejected (race, healthy)")
        self.m_cand = metrics.gauge("candidates", "Accounts below maintenance in the last scan")
        self.m_accounts = metrics.gauge("accounts", "Accounts tracked")
        self.m_scan = metrics.gauge("scan_seconds", "Duration of the last health scan")
        self.m_resync = metrics.counter("resyncs_total", "Full event resyncs")

    # ------------------------------------------------------------ lifecycle
    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        pen = int(self.ch.functions.liquidation_penalty_bps().call())
        ins = int(self.ch.functions.insurance_share_bps().call())
        check = self.s.check_profit if self.s.check_profit is not None else self.chain.w3.eth.chain_id != ANVIL_CHAIN_ID
        self.planner = Planner(pen, ins, check, 0, int(self.s.min_profit_usd * 1e6))
        self._markets()
        r = self.sync.sync(head.number, head.hash, head.parent_hash)
        self.m_resync.inc()
        return {"accounts": len(self.book), "markets": len(self.market_ids), "penalty_bps": pen,
                "check_profit": check, "signer": self.sender.address, "dry_run": self.sender.dry, **r}

    def on_reconnect(self, head: Head) -> None:
        kv(log, logging.WARNING, "reconnected: full resync", block=head.number)
        self.sync.request_resync()
        self.sender.reset()
        self.guard = SendGuard()

    def _markets(self) -> None:
        n = int(self.ch.functions.market_count().call())
        self.market_ids = list(range(1, n + 1))
        self.params = {}
        for mid, m in zip(self.market_ids, batch_call(self.chain.w3, [self.ch.functions.market(i) for i in self.market_ids])):
            self.params[mid] = (int(m[11]), int(m[12]))  # mm_fixed, mm_rate_bps

    def market_vector(self) -> MarketVector:
        """Marks, freshness and parameters for the book's columns (one batched read)."""
        ids = self.book.market_ids
        if any(m not in self.params for m in ids):
            self._markets()
        calls = [self.ch.functions.mark(m) for m in ids] + [self.ch.functions.market_state(m) for m in ids]
        res = batch_call(self.chain.w3, calls)
        marks, states = res[: len(ids)], res[len(ids):]
        mv = MarketVector.empty(ids)
        for j, m in enumerate(ids):
            mv.mark[j], mv.fresh[j] = marks[j][0], bool(marks[j][2])
            mv.mm_fixed[j], mv.mm_rate_bps[j] = self.params[m]
            mv.halted[j], mv.settled[j] = bool(states[j][0]), bool(states[j][1])
        return mv

    # ------------------------------------------------------------ per block
    def on_block(self, head: Head) -> dict:
        import time

        out: dict = {}
        sync = self.sync.sync(head.number, head.hash, head.parent_hash)
        if sync["resync"]:
            self.m_resync.inc()
            self.sender.reset()
        for o in self.sender.poll(head.number):
            acct = o.meta.get("account")
            if o.status == "mined":
                self.m_liq_ok.inc()
                kv(log, logging.INFO, "liquidation mined", account=acct, tx=o.tx_hash, block=o.block)
            else:
                self.m_lost.inc()
                self.guard.lost(acct, head.number)
                kv(log, logging.WARNING, "liquidation not applied (lost race or state changed); not retrying now",
                   account=acct, status=o.status, tx=o.tx_hash, block=o.block)
        self.m_accounts.set(len(self.book))
        if not len(self.book):
            return {"accounts": 0}
        mv = self.market_vector()
        t0 = time.perf_counter()
        q, on, coll = self.book.view()
        res = scan(q, on, coll, mv)
        self.m_scan.set(time.perf_counter() - t0)
        idx = np.flatnonzero(res.liquidatable)
        self.m_cand.set(len(idx))
        out.update(accounts=len(self.book), candidates=int(len(idx)), stale_accounts=int((~res.fresh).sum()))
        if not len(idx):
            return out
        idx = idx[np.argsort(-res.shortfall[idx])][: self.s.max_targets_per_block]
        accounts = [self.book.accounts[i] for i in idx if self.guard.allowed(self.book.accounts[i], head.number)
                    and not self.sender.in_flight(f"liq:{self.book.accounts[i]}")]
        confirmed = self._confirm(accounts)
        if self.planner.check_profit:
            self.planner.gas_cost_units = self._gas_cost_units()
        targets, skipped = self.planner.plan(confirmed, mv)
        for sk in skipped:
            kv(log, logging.INFO, "skip", block=head.number, **sk)
        sent = 0
        for t in targets:
            r = self.sender.send(f"liq:{t.account}", self.ch.functions.liquidate(t.account, t.market_id, t.quantity),
                                 head.number, kind="liquidation", meta={"account": t.account, "kind": "liquidation"},
                                 describe={"account": t.account, "market_id": t.market_id, "quantity": t.quantity,
                                           "shortfall": t.shortfall, "insolvent": t.insolvent,
                                           "expected_penalty": t.expected_penalty})
            self.guard.sent(t.account, head.number)
            if r.status in ("sent", "dry"):
                sent += 1
                self.m_liq.inc()
            elif r.status == "rejected":
                self.m_lost.inc()
                self.guard.lost(t.account, head.number)
        out.update(targets=len(targets), sent=sent, skipped=len(skipped))
        return out

    def _confirm(self, accounts: list[str]) -> list[tuple[str, dict, dict[int, int]]]:
        """One batched on-chain read of account_summary per candidate (the contract's own maths)."""
        out = []
        for k in range(0, len(accounts), self.s.confirm_batch):
            chunk = accounts[k: k + self.s.confirm_batch]
            res = batch_call(self.chain.w3, [self.ch.functions.account_summary(a) for a in chunk])
            for a, s in zip(chunk, res):
                summary = {"collateral": s[0], "equity": s[1], "initial": s[2], "maintenance": s[3], "fresh": s[4]}
                i = self.book.index[a]
                positions = {m: int(self.book.qty[i, j]) for m, j in self.book.col.items() if self.book.qty[i, j] != 0}
                out.append((a, summary, positions))
        return out

    def _gas_cost_units(self) -> int:
        wei = self.s.gas_per_liquidation * int(self.chain.w3.eth.gas_price)
        return int(wei / 1e18 * self.s.eth_price_usd * 1e6)


def build(settings: LiquidatorSettings, chain: Chain, metrics: Metrics) -> Liquidator:
    return Liquidator(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m keepers.liquidator", description="Compute Spread liquidator")
    add_common_args(p)
    p.add_argument("--check-profit", choices=["on", "off"])
    a = p.parse_args(argv)
    s = load_settings(LiquidatorSettings, {
        "rpc_url": a.rpc_url, "manifest": a.manifest, "metrics_port": a.metrics_port, "poll_interval": a.poll_interval,
        "key_env": a.key_env, "dry_run": a.dry_run, "log_level": a.log_level,
        "check_profit": None if a.check_profit is None else a.check_profit == "on"})
    return main_loop("liquidator", s, build)


if __name__ == "__main__":
    raise SystemExit(main())
