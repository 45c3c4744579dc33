"""Liquidator: a vectorised health scan of every account, on-chain confirmation, one market per
liquidation, close-out market by market, and auto-deleveraging (ADL) when the insurance fund
cannot carry an insolvent account.

The rules are core's: :func:`core.margin.screen` (numpy health of all accounts at once, a
conservative screen), :mod:`core.liquidation` (the contract's size, penalty and reward maths,
and :func:`~core.liquidation.rank_counterparties`, the order ``Clearinghouse.deleverage``
requires). Here: :class:`Planner` (which accounts to liquidate, in which market, for how much,
whether it pays, and which need ADL).
:class:`Liquidator` wires them to the chain: events -> :class:`~keepers.positions.PositionBook`,
marks -> :class:`MarketVector`, candidates -> one batched read of ``ClearinghouseView.account_summary`` /
``is_liquidatable`` / ``adl_pending`` -> ``liquidate`` or ``deleverage`` txs through the
nonce-managed :class:`~chain.tx.TxSender`; mined receipts -> rewards earned and who was
deleveraged (logs and metrics).

The liquidator *takes over* the positions it liquidates and must stay above initial margin
afterwards (the contract checks), so its account needs collateral deposited in the
Clearinghouse (see docs/keepers.md, "Funding the liquidator"). Its pay is the reward the
contract sends it from the insurance fund (``liquidation_params()``); the penalty goes to the
fund, not to the liquidator.

    cspread-liquidator --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from eth_abi import decode as abi_decode
from eth_utils import keccak
from pydantic import field_validator
from web3.logs import DISCARD

from chain.rpc import ANVIL_CHAIN_ID, Chain, Head, batch_call
from core import abi
from core.liquidation import (  # noqa: F401 - re-exported: the liquidator's public names
    MAX_ADL_BATCH,
    Counterparty,
    LiquidationParams,
    adl_score,
    liquidation_price,
    mm_per_unit,
    partial_size,
    rank_counterparties,
)
from core.margin import BPS, QUANTITY_SCALE, Cells, MarketVector, ScanResult, screen, screen_cells, value  # noqa: F401
from core.units import USD_SCALE, float_usd_to_base, wei_to_eth  # noqa: F401
from keepers.chain import KeeperSettings, Metrics, build_sender, kv, load_settings, main_loop, raw_call_batch
from keepers.cli import add_keeper_args, keeper_overrides
from keepers.positions import DEFAULT_REORG_DEPTH, EventSync, PositionBook

log = logging.getLogger("keepers.liquidator")

# the rules live in core; these names stay importable from here for the bots, benches and docs
scan = screen

_SEL_MARK = keccak(text="mark(uint256)")[:4]
_SEL_STATE = keccak(text="market_state(uint256)")[:4]


@dataclass(frozen=True)
class Target:
    account: str
    market_id: int
    quantity: int  # thousandths: the whole position (the contract takes only what restores health)
    shortfall: int  # base units (MM + stale MM - equity, confirmed on chain)
    insolvent: bool
    expected_reward: int  # base units the contract should pay the liquidator (from the fund)
    expected_penalty: int = 0  # base units the account pays into the fund


@dataclass(frozen=True)
class AdlTarget:
    """An insolvent account whose loss the insurance fund cannot carry: ``deleverage`` it."""

    account: str
    deficit: int  # base units: -equity
    markets: tuple[int, ...]  # its markets, largest unrealised loss first (deleverage candidates)
    flagged: bool  # adl_pending on chain (a DeleverageNeeded was emitted)


class _Columns:
    """``mv``'s market -> column lookup with the dict interface the planner uses."""

    def __init__(self, mv: MarketVector):
        self.mv = mv

    def __getitem__(self, m: int) -> int:
        j = self.mv.column(m)
        if j is None:
            raise KeyError(m)
        return j

    def __contains__(self, m: int) -> bool:
        return self.mv.column(m) is not None


@dataclass
class Planner:
    """Turns confirmed account summaries into liquidation and ADL targets, largest shortfall first."""

    params: LiquidationParams = field(default_factory=LiquidationParams)
    check_profit: bool = False
    gas_cost_units: int = 0  # gas cost of one liquidation, in collateral base units
    min_profit_units: int = 0
    allow_unprofitable_closeouts: bool = True  # insolvent accounts are closed out even at a loss

    def expected_partial(
        self,
        equity: int,
        stale_margin: int,
        maintenance: int,
        size: int,
        mark: int,
        price: int,
        mm_fixed: int,
        mm_rate_bps: int,
        min_quantity: int = 0,
        step: int = 1,
    ) -> tuple[int, int]:
        """(size taken, penalty) for a solvent account offered its whole position of ``size``, as
        ``_liquidate_partial`` computes them (core.liquidation); the health-ratio cap on the
        penalty needs the account's legs, so it is approximated here by the equity."""
        u = mm_per_unit(mm_fixed, mm_rate_bps, mark)
        pu = self.params.penalty_per_unit(u, price)
        take = partial_size(size, size, maintenance, equity - stale_margin, u, pu, step, min_quantity)
        return take, max(0, min(take * pu // QUANTITY_SCALE, equity))

    def choose_market(self, positions: dict[int, int], mv: MarketVector) -> tuple[int, int] | None:
        """The market with the largest maintenance contribution that can be liquidated now
        (fresh, or halted: the contract takes a halted leg at its last mark)."""
        best, best_mm = None, -1.0
        for mid, q in positions.items():
            j = mv.column(mid)
            if q == 0 or j is None or not mv.actionable(j):
                continue
            mm = abs(q) * (mv.mm_fixed[j] + mv.mm_rate_bps[j] * abs(mv.mark[j]) / BPS)
            if mm > best_mm:
                best, best_mm = (mid, abs(q)), mm
        return best

    @staticmethod
    def loss_order(positions: dict[int, int], open_notional: dict[int, int], mv: MarketVector) -> tuple[int, ...]:
        """The account's markets, largest unrealised loss first: the counterparties in profit are
        on the other side of its losing legs, so that is where ADL can assign the loss."""
        pnl = {}
        for mid, q in positions.items():
            j = mv.column(mid)
            if q == 0 or j is None or not (mv.fresh[j] or mv.halted[j] or mv.settled[j]):
                continue
            pnl[mid] = value(q, int(mv.mark[j])) - open_notional.get(mid, 0)
        return tuple(sorted(pnl, key=lambda m: pnl[m]))

    def plan(
        self,
        confirmed: list[tuple[str, dict, dict[int, int]]],
        mv: MarketVector,
        fund: int,
        open_notional: dict[str, dict[int, int]] | None = None,
    ) -> tuple[list[Target], list[AdlTarget], list[dict]]:
        """confirmed: (account, summary{equity, maintenance, open_markets, liquidatable, adl_pending,
        stale_margin?}, positions{market: qty}); fund: the insurance fund (base units).

        Returns (liquidation targets in the order to send them, ADL targets, skipped with
        reasons). Solvent accounts come first, largest shortfall first: their penalties flow
        into the fund before the close-outs of this block run (same sender, nonce order), so
        the fund they leave is what decides the insolvent accounts. An insolvent account the
        fund can carry (deficit + one minimum reward per leg) gets one close-out per actionable
        market; one it cannot carry becomes an ADL target (``deleverage``)."""
        targets, closeouts, adl, skipped = [], [], [], []
        col = _Columns(mv)
        p = self.params
        rows = sorted(confirmed, key=lambda r: int(r[1]["maintenance"]) - int(r[1]["equity"]), reverse=True)
        solvent = [r for r in rows if int(r[1]["equity"]) > 0]
        insolvent = [r for r in rows if int(r[1]["equity"]) <= 0]
        fund_est = fund
        for account, s, positions in solvent:
            eq, mm = int(s["equity"]), int(s["maintenance"])
            if not s.get("liquidatable", mm > 0 and eq < mm):
                skipped.append({"account": account, "reason": "healthy on chain"})
                continue
            choice = self.choose_market(positions, mv)
            if choice is None:
                skipped.append({"account": account, "reason": "no fresh or halted market"})
                continue
            mid, size = choice
            j = col[mid]
            price = liquidation_price(int(mv.mark[j]), positions[mid], mv.tick(j))
            step, min_q = mv.lot(j)
            take, penalty = self.expected_partial(
                eq,
                int(s.get("stale_margin", 0)),
                mm,
                size,
                int(mv.mark[j]),
                price,
                int(mv.mm_fixed[j]),
                int(mv.mm_rate_bps[j]),
                min_q,
                step,
            )
            reward = min(p.reward(take, price), fund_est + penalty)
            if self.check_profit and reward < self.gas_cost_units + self.min_profit_units:
                skipped.append(
                    {"account": account, "reason": "unprofitable", "reward": reward, "gas_cost": self.gas_cost_units}
                )
                continue
            fund_est += penalty - reward
            targets.append(Target(account, mid, size, mm - eq, False, reward, penalty))
        for account, s, positions in insolvent:
            eq, mm = int(s["equity"]), int(s["maintenance"])
            n_open = int(s.get("open_markets", len(positions)))
            if not positions:
                skipped.append({"account": account, "reason": "no position in the book"})
                continue
            if not p.fund_carries(eq, n_open, fund_est):
                order = self.loss_order(positions, (open_notional or {}).get(account, {}), mv)
                if not order:
                    skipped.append({"account": account, "reason": "needs ADL but every mark is stale"})
                    continue
                adl.append(AdlTarget(account, -eq, order, bool(s.get("adl_pending"))))
                continue
            if not s.get("liquidatable", mm > 0 and eq < mm):
                skipped.append({"account": account, "reason": "insolvent in settled markets only: left to the settler"})
                continue
            # close-out, one market per tx: each leg pays its own reward, the fund keeps the
            # deficit and one minimum reward per leg still open
            legs = [
                (mid, abs(q)) for mid, q in sorted(positions.items()) if q and mid in col and mv.actionable(col[mid])
            ]
            if not legs:
                skipped.append({"account": account, "reason": "no fresh or halted market to close out"})
                continue
            left = n_open
            for mid, size in legs:
                j = col[mid]
                price = liquidation_price(int(mv.mark[j]), positions[mid], mv.tick(j))
                r = max(min(p.reward(size, price), fund_est - (-eq) - (left - 1) * p.min_reward), 0)
                fund_est, left = fund_est - r, left - 1
                closeouts.append(Target(account, mid, size, mm - eq, True, r))
            if left == 0:
                fund_est += eq  # flat: the fund absorbs the deficit
        return targets + closeouts, adl, skipped


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
    confirm_batch: int = 500  # account reads per JSON-RPC batch
    adl_rank_depth: int = 64  # opposite holders re-read on chain (exactly) per ADL ranking
    reorg_depth: int = DEFAULT_REORG_DEPTH  # blocks of hashes + rollback journal kept
    checkpoint: Path | None = None  # .npz of the book + journal + hashes: a restart replays from it
    checkpoint_every: int = 100  # blocks between checkpoint writes

    @field_validator("checkpoint_every")
    @classmethod
    def _every(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1 block")
        return v

    @field_validator("reorg_depth")
    @classmethod
    def _depth(cls, v: int) -> int:
        if not 1 <= v <= 100_000:
            raise ValueError("must be 1..100000 blocks")
        return v


class Liquidator:
    name = "liquidator"

    def __init__(self, settings: LiquidatorSettings, chain: Chain, metrics: Metrics, sender=None):
        self.s, self.chain, self.metrics = settings, chain, metrics
        self.manifest = settings.load_manifest()
        w3 = chain.w3
        self.ch = self.manifest.contract(w3, "Clearinghouse")
        self.view = self.manifest.contract(w3, "ClearinghouseView")  # account_summary
        self.sender = sender or build_sender(settings, w3, metrics, log)
        self.book = PositionBook()
        self.sync = EventSync(
            w3,
            self.ch.address,
            int(self.manifest.data.get("block", 0)),
            self.book,
            settings.log_chunk,
            reorg_depth=settings.reorg_depth,
        )
        self.guard = SendGuard()
        self.planner = Planner()
        self.market_ids: list[int] = []  # markets whose parameters have been read (held at some point)
        self.params: dict[int, tuple[int, int, int, int, int]] = {}
        # per book column: the last MarketVector values; a settled market's are final and never re-read
        self._mv = MarketVector.empty([])
        self.final: set[int] = set()  # settled markets (their mark is the settlement price)
        self.reads_last_block = 0  # markets read in the last block (the scan's RPC cost)
        self._ckpt_block = -1
        self.m_liq = metrics.counter("liquidations_sent_total", "Liquidation txs sent")
        self.m_liq_ok = metrics.counter("liquidations_mined_total", "Liquidation txs mined successfully")
        self.m_lost = metrics.counter("liquidations_lost_total", "Liquidations reverted or rejected (race, healthy)")
        self.m_reward = metrics.counter("rewards_earned_units_total", "Liquidation/ADL rewards paid to us, base units")
        self.m_penalty = metrics.counter(
            "penalties_to_fund_units_total", "Penalties our liquidations paid into the fund"
        )
        self.m_adl_sent = metrics.counter("deleverage_sent_total", "deleverage txs sent")
        self.m_adl_pos = metrics.counter("deleveraged_positions_total", "Counterparty positions deleveraged by our txs")
        self.m_adl_loss = metrics.counter("deleveraged_loss_units_total", "Loss assigned to counterparties, base units")
        self.m_flagged = metrics.counter("deleverage_needed_total", "DeleverageNeeded events from our liquidate txs")
        self.m_adl_wait = metrics.gauge("adl_pending_accounts", "Insolvent accounts the fund cannot carry (last scan)")
        self.m_fund = metrics.gauge("insurance_fund_units", "Insurance fund, base units")
        self.m_cand = metrics.gauge("candidates", "Accounts below maintenance in the last scan")
        self.m_accounts = metrics.gauge("accounts", "Accounts tracked")
        self.m_scan = metrics.gauge("scan_seconds", "Duration of the last health scan")
        self.m_resync = metrics.counter("resyncs_total", "Full event resyncs")
        self.m_reorg = metrics.counter("reorgs_total", "Reorgs rolled back (book rewound to the fork point)")
        self.m_live = metrics.gauge("markets_scanned", "Held, unsettled markets read in the last block")
        self.earned = 0  # base units of reward earned since start (also in the logs)

    # ------------------------------------------------------------ lifecycle
    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        lp = self._liquidation_params()
        check = self.s.check_profit if self.s.check_profit is not None else self.chain.w3.eth.chain_id != ANVIL_CHAIN_ID
        self.planner = Planner(lp, check, 0, float_usd_to_base(self.s.min_profit_usd))
        restored = bool(self.s.checkpoint) and self.sync.load(self.s.checkpoint)
        r = self.sync.sync(head.number, head.hash, head.parent_hash)
        if r["resync"]:
            self.m_resync.inc()
        self._checkpoint(head.number, force=True)
        self._markets()
        return {
            "accounts": len(self.book),
            "markets": int(self.ch.functions.market_count().call()),  # listed (one call, not a read of each)
            "markets_held": len(self.market_ids),
            "penalty_bps": lp.penalty_bps,
            "reward_bps": lp.reward_bps,
            "min_reward": lp.min_reward,
            "max_reward": lp.max_reward,
            "check_profit": check,
            "signer": self.sender.address,
            "dry_run": self.sender.dry,
            "checkpoint_restored": restored,
            **r,
        }

    def _checkpoint(self, block: int, force: bool = False) -> None:
        """Write the sync checkpoint every ``checkpoint_every`` blocks (if configured)."""
        if not self.s.checkpoint or (not force and block - self._ckpt_block < self.s.checkpoint_every):
            return
        try:
            self.sync.save(self.s.checkpoint)
            self._ckpt_block = block
        except OSError as e:
            kv(log, logging.WARNING, "checkpoint not written", path=str(self.s.checkpoint), error=str(e))

    def _liquidation_params(self) -> LiquidationParams:
        return LiquidationParams(*(int(x) for x in self.ch.functions.liquidation_params().call()))

    def on_reconnect(self, head: Head) -> None:
        # the node may have reorged or been replaced while we were away: verify the recorded
        # block hashes and replay from the fork point (a rebuild only if it is below the window)
        kv(log, logging.WARNING, "reconnected: checking recorded block hashes", block=head.number)
        self.sync.request_check()
        self.sender.reset()
        self.guard = SendGuard()

    def _markets(self) -> None:
        """Read the parameters of the markets the book holds and we have not read yet (listing
        more markets costs nothing here until someone trades them)."""
        new = [m for m in self.book.held_markets() if m not in self.params]
        if not new:
            return
        for mid, raw in zip(new, batch_call(self.chain.w3, [self.ch.functions.market(i) for i in new]), strict=True):
            m = abi.Market.decode(raw)
            self.params[mid] = (m.mm_fixed, m.mm_rate_bps, m.price_tick, m.quantity_step, m.min_quantity)
            self.market_ids.append(mid)

    def _grow_mv(self) -> MarketVector:
        """The per-column vectors, grown to the book's columns (new columns get their parameters)."""
        ids, mv = self.book.market_ids, self._mv
        n0, n = len(mv.market_ids), len(ids)
        if n > n0:
            grown = MarketVector.empty(ids)
            for f in ("mark", "fresh", "mm_fixed", "mm_rate_bps", "halted", "settled"):
                getattr(grown, f)[:n0] = getattr(mv, f)
            for f in ("price_tick", "quantity_step", "min_quantity"):
                getattr(grown, f)[:n0] = getattr(mv, f)
            self._mv = mv = grown
        return mv

    def market_vector(self) -> MarketVector:
        """Marks, freshness and parameters for the book's columns. Only markets someone holds and
        that are not settled yet are read (one raw JSON-RPC batch of ``mark`` + ``market_state``);
        a settled market's mark is final and kept; a market nobody holds is not looked at."""
        self._markets()
        mv = self._grow_mv()
        col = self.book.col
        live = [m for m in self.book.held_markets() if m not in self.final]
        self.reads_last_block = len(live)
        self.m_live.set(len(live))
        if not live:
            return mv
        addr = self.ch.address
        calls = [(addr, _SEL_MARK + m.to_bytes(32, "big")) for m in live]
        calls += [(addr, _SEL_STATE + m.to_bytes(32, "big")) for m in live]
        res = raw_call_batch(self.sync.rpc, calls)
        k = len(live)
        for x, m in enumerate(live):
            j = col[m]
            mark, _, fresh = abi_decode(["int256", "uint256", "bool"], res[x])
            st = abi.MarketState.from_returndata(res[k + x])
            mv.mark[j], mv.fresh[j] = mark, fresh
            (mv.mm_fixed[j], mv.mm_rate_bps[j], mv.price_tick[j], mv.quantity_step[j], mv.min_quantity[j]) = (
                self.params[m]
            )
            mv.halted[j], mv.settled[j] = st.halted, st.settled
            if st.settled:
                self.final.add(m)  # its settlement price stands: never read again
        return mv

    # ------------------------------------------------------------ per block
    def on_block(self, head: Head) -> dict:
        out: dict = {}
        sync = self.sync.sync(head.number, head.hash, head.parent_hash)
        if sync["resync"] or sync["rolled_back"]:
            # what we derived from the dropped blocks goes too: settled flags, txs in flight
            self.m_resync.inc() if sync["resync"] else self.m_reorg.inc()
            self.final.clear()
            self.sender.reset()
            self.guard = SendGuard()
            if sync["rolled_back"]:
                kv(
                    log,
                    logging.WARNING,
                    "reorg: book rolled back",
                    block=head.number,
                    fork_block=sync["fork_block"],
                    writes_undone=sync["rolled_back"],
                    logs_replayed=sync["logs_applied"],
                )
        for o in self.sender.poll(head.number):
            self._outcome(o, head)
        self._checkpoint(head.number)
        self.m_accounts.set(len(self.book))
        if not len(self.book):
            return {"accounts": 0}
        if self.book._n > 2 * int(self.book.holding.sum()) + 4096:
            self.book.compact()  # settled markets' and closed positions' cells leave the scan
        mv = self.market_vector()
        t0 = time.perf_counter()
        res = screen_cells(self.book.cells(), self.book.collateral, mv)
        self.m_scan.set(time.perf_counter() - t0)
        cand = res.liquidatable | res.insolvent
        idx = np.flatnonzero(cand)
        self.m_cand.set(int(res.liquidatable.sum()))
        out.update(accounts=len(self.book), candidates=int(len(idx)), stale_accounts=int((~res.fresh).sum()))
        if not len(idx):
            self.m_adl_wait.set(0)
            return out
        idx = idx[np.argsort(-res.shortfall[idx])][: self.s.max_targets_per_block]
        accounts = [
            self.book.accounts[i]
            for i in idx
            if self.guard.allowed(self.book.accounts[i], head.number) and not self._busy(self.book.accounts[i])
        ]
        confirmed, fund = self._confirm(accounts)
        self.m_fund.set(fund)
        self.planner.params = self._liquidation_params()
        if self.planner.check_profit:
            self.planner.gas_cost_units = self._gas_cost_units()
        held = self.book.positions_of_many([a for a, _, _ in confirmed])
        ons = {a: {m: on for m, (_, on) in held[a].items()} for a, _, _ in confirmed}
        targets, adl, skipped = self.planner.plan(confirmed, mv, fund, ons)
        self.m_adl_wait.set(len(adl))
        for sk in skipped:
            # the healthy and the settler's accounts are re-screened every block: not worth a line each
            quiet = sk["reason"] == "healthy on chain" or "settler" in sk["reason"]
            kv(log, logging.DEBUG if quiet else logging.INFO, "skip", block=head.number, **sk)
        sent = 0
        for t in targets:
            key = f"liq:{t.account}:{t.market_id}" if t.insolvent else f"liq:{t.account}"
            r = self.sender.send(
                key,
                self.ch.functions.liquidate(t.account, t.market_id, t.quantity),
                head.number,
                kind="liquidation",
                meta={"account": t.account, "kind": "liquidation", "market_id": t.market_id},
                describe={
                    "account": t.account,
                    "market_id": t.market_id,
                    "quantity": t.quantity,
                    "shortfall": t.shortfall,
                    "insolvent": t.insolvent,
                    "expected_reward": t.expected_reward,
                    "expected_penalty": t.expected_penalty,
                },
                # a close-out simulated before this block's penalties reach the fund
                # takes the cheap flag-only path: give it the full close-out's gas
                min_gas=self.s.gas_per_liquidation if t.insolvent else 0,
            )
            self.guard.sent(t.account, head.number)
            if r.status in ("sent", "dry"):
                sent += 1
                self.m_liq.inc()
            elif r.status == "rejected":
                self.m_lost.inc()
                self.guard.lost(t.account, head.number)
        adl_sent = 0
        summaries = {a: s for a, s, _ in confirmed}
        for a in adl:
            if self._deleverage(a, summaries[a.account], mv, fund, head):
                adl_sent += 1
        out.update(
            targets=len(targets), sent=sent, adl=len(adl), adl_sent=adl_sent, skipped=len(skipped), insurance_fund=fund
        )
        return out

    def _busy(self, account: str) -> bool:
        """A liquidation (any market) or deleverage of `account` is still in flight."""
        keys = getattr(self.sender, "by_key", {})
        return any(k == f"liq:{account}" or k.startswith(f"liq:{account}:") or k == f"adl:{account}" for k in keys)

    def _confirm(self, accounts: list[str]) -> tuple[list[tuple[str, dict, dict[int, int]]], int]:
        """One batched on-chain read per candidate: account_summary, is_liquidatable (the
        contract's stale-leg rule) and adl_pending, plus the insurance fund."""
        out = []
        fund = int(self.ch.functions.insurance_fund().call())
        held = self.book.positions_of_many(accounts)
        for k in range(0, len(accounts), self.s.confirm_batch):
            chunk = accounts[k : k + self.s.confirm_batch]
            f, v = self.ch.functions, self.view.functions
            res = batch_call(
                self.chain.w3,
                [v.account_summary(a) for a in chunk]
                + [f.is_liquidatable(a) for a in chunk]
                + [f.adl_pending(a) for a in chunk],
            )
            n = len(chunk)
            for i, a in enumerate(chunk):
                s = res[i]
                summary = {
                    "collateral": int(s[0]),
                    "equity": int(s[1]),
                    "initial": int(s[2]),
                    "maintenance": int(s[3]),
                    "fresh": bool(s[4]),
                    "open_markets": int(s[5]),
                    "liquidatable": bool(res[n + i]),
                    "adl_pending": bool(res[2 * n + i]),
                }
                positions = {m: q for m, (q, _) in held[a].items()}
                out.append((a, summary, positions))
        return out, fund

    def _deleverage(self, t: AdlTarget, s: dict, mv: MarketVector, fund: int, head: Head) -> bool:
        """Rank every opposite position in the account's losing markets by profit x leverage
        (book screen, then exact on-chain re-read of the top ``adl_rank_depth``) and send
        ``deleverage`` in the first market that has counterparties in profit."""
        key = f"adl:{t.account}"
        if self.sender.in_flight(key):
            return False
        col = _Columns(mv)
        me = self.sender.address
        for mid in t.markets:
            j = col[mid]
            mark = int(mv.mark[j])
            q_acct, _ = self.book.position(t.account, mid)
            if q_acct == 0:
                continue
            price = liquidation_price(mark, q_acct, mv.tick(j))
            shortfall = self.planner.params.adl_shortfall(
                int(s["equity"]), int(s["open_markets"]), fund, abs(q_acct), price
            )
            if shortfall <= 0:
                return False  # the fund covers it now: liquidate will close it out
            holders = self._screen_holders(mid, q_acct, mark)
            if not holders:
                continue
            exact = self._exact_holders(holders, mid)
            reward = self.planner.params.reward(abs(q_acct), price)
            # the caller's reward is credited before the contract ranks, so rank ourselves with it
            exact = [(a, q, on, eq + reward if me and a == me else eq) for a, q, on, eq in exact if a != t.account]
            cps = rank_counterparties(q_acct, exact, mark, shortfall)
            if not cps:
                continue
            r = self.sender.send(
                key,
                self.ch.functions.deleverage(t.account, mid, [c.account for c in cps]),
                head.number,
                kind="deleverage",
                meta={"account": t.account, "kind": "deleverage", "market_id": mid},
                describe={
                    "account": t.account,
                    "market_id": mid,
                    "deficit": t.deficit,
                    "shortfall": shortfall,
                    "flagged": t.flagged,
                    "counterparties": [c.account for c in cps],
                    "scores": [c.score for c in cps],
                },
            )
            self.guard.sent(t.account, head.number)
            if r.status in ("sent", "dry"):
                self.m_adl_sent.inc()
                return True
            if r.status == "rejected":
                self.guard.lost(t.account, head.number)
            return False
        kv(
            log,
            logging.WARNING,
            "ADL needed but no counterparty in profit in any market",
            account=t.account,
            deficit=t.deficit,
            markets=list(t.markets),
        )
        return False

    def _screen_holders(self, mid: int, q_acct: int, mark: int) -> list[str]:
        """Opposite holders in profit, ranked from the book (float screen), top adl_rank_depth."""
        slots = self.book.holder_slots(mid)
        c = self.book.cells()
        side = np.sign(q_acct)
        opp = slots[np.sign(c.qty[slots]) == -side]
        if not len(opp):
            return []
        q, on, rows = c.qty[opp], c.open_notional[opp], c.row[opp]
        profit = np.floor(q * mark / QUANTITY_SCALE) - on
        # equity at the book's marks is not known for other markets here: collateral + this
        # market's pnl is enough to pre-rank; the exact on-chain read decides
        eq = np.maximum(self.book.collateral[rows] + profit, 1.0)
        score = np.where(profit > 0, profit * np.abs(q) * abs(mark) / QUANTITY_SCALE / eq, -1.0)
        order = np.argsort(-score)[: self.s.adl_rank_depth]
        return [self.book.accounts[rows[k]] for k in order if score[k] > 0]

    def _exact_holders(self, accounts: list[str], mid: int) -> list[tuple[str, int, int, int]]:
        f = self.ch.functions
        res = batch_call(self.chain.w3, [f.position(a, mid) for a in accounts] + [f.equity(a) for a in accounts])
        n = len(accounts)
        return [(a, int(res[i][0]), int(res[i][1]), int(res[n + i])) for i, a in enumerate(accounts)]

    def _outcome(self, o, head: Head) -> None:
        """Log what a finished tx did, from its receipt's events: reward earned, penalty to the
        fund, accounts flagged for ADL, and who was deleveraged."""
        acct, kind = o.meta.get("account"), o.meta.get("kind", "liquidation")
        if o.status != "mined":
            self.m_lost.inc()
            self.guard.lost(acct, head.number)
            kv(
                log,
                logging.WARNING,
                f"{kind} not applied (lost race or state changed); not retrying now",
                account=acct,
                status=o.status,
                tx=o.tx_hash,
                block=o.block,
            )
            return
        if kind == "liquidation":
            self.m_liq_ok.inc()
        receipt = o.receipt  # the sender's copy: no second read
        if receipt is None:
            kv(log, logging.WARNING, f"{kind} mined; no receipt to report from", account=acct, tx=o.tx_hash)
            return
        ev = self.ch.events
        for e in ev.Liquidation().process_receipt(receipt, errors=DISCARD):
            a = e.args
            self.earned += int(a.reward)
            self.m_reward.inc(int(a.reward))
            self.m_penalty.inc(int(a.penalty))
            kv(
                log,
                logging.INFO,
                "liquidation mined",
                account=a.account,
                market_id=a.market_id,
                quantity=a.quantity,
                price=a.price,
                penalty=a.penalty,
                reward=a.reward,
                earned_total=self.earned,
                tx=o.tx_hash,
                block=o.block,
            )
        for e in ev.DeleverageNeeded().process_receipt(receipt, errors=DISCARD):
            self.m_flagged.inc()
            kv(
                log,
                logging.WARNING,
                "deleverage needed: insurance fund cannot carry the account",
                account=e.args.account,
                shortfall=e.args.shortfall,
                tx=o.tx_hash,
                block=o.block,
            )
        for e in ev.Deleveraged().process_receipt(receipt, errors=DISCARD):
            a = e.args
            self.m_adl_pos.inc()
            self.m_adl_loss.inc(int(a.loss))
            kv(
                log,
                logging.INFO,
                "deleveraged",
                account=a.account,
                counterparty=a.counterparty,
                market_id=a.market_id,
                quantity=a.quantity,
                price=a.price,
                loss=a.loss,
                tx=o.tx_hash,
                block=o.block,
            )
        if kind == "deleverage":
            # deleverage emits no reward event: the reward is the caller's collateral change
            reward = self._adl_reward(o)
            if reward:
                self.earned += reward
                self.m_reward.inc(reward)
            kv(
                log,
                logging.INFO,
                "deleverage mined",
                account=acct,
                market_id=o.meta.get("market_id"),
                reward=reward,
                earned_total=self.earned,
                tx=o.tx_hash,
                block=o.block,
            )

    def _adl_reward(self, o) -> int:
        """The reward a mined ``deleverage`` paid us. No event carries it (and the contract logs
        no CollateralUpdated for the caller there), so recompute it with the contract's formula
        from the state just before the tx's block: the account's whole position at the rounded mark."""
        acct, mid, blk = o.meta.get("account"), o.meta.get("market_id"), (o.block or 1) - 1
        try:
            q, _ = self.ch.functions.position(acct, mid).call(block_identifier=blk)
            mark = int(self.ch.functions.mark(mid).call(block_identifier=blk)[0])
        except Exception:
            return 0
        tick = self.params.get(mid, (0, 0, 1, 1, 0))[2] or 1
        return self.planner.params.reward(abs(int(q)), liquidation_price(mark, int(q), tick)) if q else 0

    def _gas_cost_units(self) -> int:
        wei = self.s.gas_per_liquidation * int(self.chain.w3.eth.gas_price)
        return float_usd_to_base(float(wei_to_eth(wei)) * self.s.eth_price_usd)


def build(settings: LiquidatorSettings, chain: Chain, metrics: Metrics) -> Liquidator:
    return Liquidator(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cspread-liquidator", description="Compute Spread liquidator")
    add_keeper_args(p)
    p.add_argument("--check-profit", choices=["on", "off"])
    a = p.parse_args(argv)
    s = load_settings(
        LiquidatorSettings, keeper_overrides(a, check_profit=None if a.check_profit is None else a.check_profit == "on")
    )
    return main_loop("liquidator", s, build, once=a.once)


if __name__ == "__main__":
    raise SystemExit(main())
