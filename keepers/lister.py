"""Lister: keeps every approved series template listed to its depth (issue 10).

A template (``Clearinghouse.template(id)``) is a series spec without its delivery window plus
its risk parameters, approved by the owner. Anyone may list one delivery window of it
(``list_from_template(template_id, delivery_start, delivery_end)``, paying the template's
bond, returned once the market settles). This keeper computes, at chain time, the windows each
series should have listed (:func:`core.series.windows`: hourly DA the next 48 hours, daily the
next 14 days, monthly the next 12 months, each window only while its last trade time is ahead)
and lists the ones ``market_of(template_id, delivery_start)`` says are missing and the deploy
did not list itself (the manifest's ``markets``: same series, same window; :func:`deployed_windows`).

Plain logic: :func:`plan_listings` (which windows are due, which are missing, which are
skipped and why) over :class:`Template` records and the series specs. :class:`Lister` reads
templates and ``market_of`` in JSON-RPC batches, and sends through :class:`chain.tx.TxSender`
at most ``batch_size`` listings per block, nearest window first.

Idempotent: the chain is the record. A window is sent only while ``market_of`` reads 0 and
no listing of it is in flight from this process; a restart re-reads ``market_of``, so nothing
is listed twice. Another lister winning the race shows up as a simulation that reverts
``"Clearinghouse: already listed"`` (nothing sent) or, in the same block, a mined revert:
both are counted as ``lost_race`` and the window is read again, never retried blindly. The
contract refuses a second listing of a window in any case.

Which spec a template stands for is not on chain (only its ``spec_hash``): the series come
from the manifest's ``templates`` (written by the deploy) or a markets file
(``--markets``/``CSPREAD_MARKETS``); a chain template whose ``spec_hash`` matches none is
skipped with the reason ``"spec unknown"`` (listing it blind would be safe for the protocol,
but its DST-correct windows need the series' time zone).

    cspread-lister --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545 --key-env LISTER_KEY
    cspread-lister ... --once        # list everything due, wait for the receipts, exit
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import field_validator

from chain.rpc import Chain, Head, batch_call
from chain.tx import call_of
from keepers.chain import (
    ConfigError,
    KeeperSettings,
    Metrics,
    build_sender,
    kv,
    load_settings,
    main_loop,
)
from keepers.cli import add_keeper_args, keeper_overrides

log = logging.getLogger("keepers.lister")

HOURLY, DAILY, MONTHLY = 1, 2, 3
CADENCE_NAMES = {HOURLY: "hourly", DAILY: "daily", MONTHLY: "monthly"}
#: windows listed ahead per cadence (issue 10: 48 hourly contracts a node, 14 days, 12 months)
DEFAULT_DEPTH = {HOURLY: 48, DAILY: 14, MONTHLY: 12}
#: at most this many listing transactions per block (each <= 150,000 gas: ~15 M gas a block)
DEFAULT_BATCH = 100
READ_BATCH = 500  # market_of calls per JSON-RPC batch request
BOND_RECHECK_MIN, BOND_RECHECK_MAX = 60, 3600  # s: backoff while a listed market is not settled yet
ALREADY_LISTED = "already listed"
#: ``last_trade_offset`` meaning "trading runs through delivery, stops at delivery_end"
#: (core.series.LAST_TRADE_AT_END; test_lister_series checks they agree)
LAST_TRADE_AT_END = 2**256 - 1

Window = tuple[int, int]  # [delivery_start, delivery_end) unix seconds


@dataclass(frozen=True)
class Template:
    """A series template as stored on chain (``Clearinghouse.template(id)``), by field name."""

    template_id: int
    spec_hash: bytes
    cadence: int
    utc_offset: int
    last_trade_offset: int
    max_horizon: int
    bond: int
    active: bool

    @classmethod
    def from_fields(cls, template_id: int, f: Mapping[str, Any]) -> Template:
        return cls(
            int(template_id),
            bytes(f["spec_hash"]),
            int(f["cadence"]),
            int(f["utc_offset"]),
            int(f["last_trade_offset"]),
            int(f["max_horizon"]),
            int(f["bond"]),
            bool(f["active"]),
        )

    def last_trade(self, start: int, end: int) -> int:
        """The contract's last trade time of the window [start, end)."""
        return end if self.last_trade_offset == LAST_TRADE_AT_END else start - self.last_trade_offset

    @property
    def key(self) -> tuple[bytes, int]:
        """What a series is known by: one windowless spec may have several cadences (ATC daily
        and monthly share a spec), so (spec_hash, cadence)."""
        return (self.spec_hash, self.cadence)


@dataclass(frozen=True)
class Listing:
    template_id: int
    delivery_start: int
    delivery_end: int

    @property
    def key(self) -> str:
        return f"list:{self.template_id}:{self.delivery_start}"


@dataclass(frozen=True)
class Skip:
    """A template or window the lister did not list, and why (reported, never silently dropped)."""

    template_id: int
    reason: str
    delivery_start: int | None = None
    delivery_end: int | None = None


@dataclass
class Plan:
    due: list[Listing] = field(default_factory=list)  # every window that should be listed now
    missing: list[Listing] = field(default_factory=list)  # due and not listed, nearest window first
    skipped: list[Skip] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))


def _default_windows(series: Any, template: Template, now: int, depth: int) -> list[Window]:
    """core.series.windows (the one depth rule: DST, 23/25 h days, the last-trade rule) for the
    series with the chain's terms: the template on chain is what the contract enforces."""
    import dataclasses

    from core.series import windows

    s = dataclasses.replace(series, last_trade_offset=template.last_trade_offset, max_horizon=template.max_horizon)
    return [(int(a), int(b)) for a, b in windows(s, now, depth)]


def plan_listings(
    templates: Iterable[Template],
    series: Mapping[tuple[bytes, int], Any],
    now: int,
    listed: Callable[[Listing], bool],
    *,
    depth: Mapping[int, int] | None = None,
    min_lead: int = 0,
    windows: Callable[[Any, Template, int, int], list[Window]] | None = None,
) -> Plan:
    """What to list at chain time ``now``.

    ``series``: (spec_hash, cadence) -> Series. ``listed(l)``: whether window ``l`` is already
    listed (or being listed). A window is due when ``windows(series, template, now, depth)`` returns it; of those, one the contract would refuse is skipped
    with its reason instead of sent: beyond the template's horizon, or a last trade time less than
    ``min_lead`` seconds ahead (the transaction lands a block or more after ``now``)."""
    depth = {**DEFAULT_DEPTH, **(depth or {})}
    windows = windows or _default_windows
    plan = Plan()
    for t in templates:
        if not t.active:
            plan.skipped.append(Skip(t.template_id, "template retired"))
            continue
        if t.cadence not in depth:
            plan.skipped.append(Skip(t.template_id, f"unknown cadence {t.cadence}"))
            continue
        s = series.get(t.key)
        if s is None:
            plan.skipped.append(Skip(t.template_id, "spec unknown"))
            continue
        off = getattr(s, "utc_offset", t.utc_offset)
        if off != t.utc_offset:  # the file's zone is not the template's: its windows would not align
            plan.skipped.append(Skip(t.template_id, "time zone differs from the template's"))
            continue
        for start, end in windows(s, t, now, depth[t.cadence]):
            item = Listing(t.template_id, start, end)
            if start > now + t.max_horizon:
                plan.skipped.append(Skip(t.template_id, "beyond horizon", start, end))
                continue
            if t.last_trade(start, end) <= now + min_lead:
                plan.skipped.append(Skip(t.template_id, "last trade too close", start, end))
                continue
            plan.due.append(item)
            if not listed(item):
                plan.missing.append(item)
    plan.missing.sort(key=lambda x: (x.delivery_start, x.template_id))
    return plan


# --------------------------------------------------------------------------- series source


def deployed_windows(manifest: Any) -> dict[tuple[bytes, int, int], int]:
    """(windowless series spec_hash, delivery_start, delivery_end) -> market id of every market the
    deploy listed itself (``Clearinghouse.list_market``: the manifest's ``markets``). The deploy
    approves a template for each of those series too, and the registry's ``market_of`` knows only
    template listings: without this the lister would list the deploy's window a second time (same
    spec, same window, two markets splitting one contract's liquidity)."""
    from core.series import series_spec_hash

    out: dict[tuple[bytes, int, int], int] = {}
    for e in manifest.data.get("markets") or []:
        spec = e.get("spec") or {}
        leg = spec.get("power", spec) if spec.get("kind") == "SPREAD" else spec
        if "delivery_start" not in leg or "delivery_end" not in leg:
            continue
        out[(series_spec_hash(spec), int(leg["delivery_start"]), int(leg["delivery_end"]))] = int(e["id"])
    return out


def series_from_manifest(manifest: Any, markets: Path | None = None) -> dict[tuple[bytes, int], Any]:
    """(spec_hash, cadence) -> Series of every series the deployment describes (the manifest's
    templates, a markets file when given): :func:`sdk.reader.known_series`."""
    from sdk.reader import known_series

    return known_series(manifest, markets)


# --------------------------------------------------------------------------- keeper


class ListerSettings(KeeperSettings):
    poll_interval: float = 2.0
    batch_size: int = DEFAULT_BATCH  # listing txs sent per block at most
    min_lead: int = 60  # s: a window whose last trade is nearer than this is not worth a tx
    template_refresh_blocks: int = 50  # re-read every template (a retirement) this often
    markets: Path | None = None  # a markets file with the series specs, besides the manifest's templates
    depth_hourly: int = DEFAULT_DEPTH[HOURLY]
    depth_daily: int = DEFAULT_DEPTH[DAILY]
    depth_monthly: int = DEFAULT_DEPTH[MONTHLY]
    once_timeout: float = 300.0  # s: --once gives up waiting for receipts after this

    @field_validator("batch_size", "template_refresh_blocks")
    @classmethod
    def _pos(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    @field_validator("min_lead", "depth_hourly", "depth_daily", "depth_monthly")
    @classmethod
    def _nonneg(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0")
        return v

    def depth(self) -> dict[int, int]:
        return {HOURLY: self.depth_hourly, DAILY: self.depth_daily, MONTHLY: self.depth_monthly}


class Lister:
    name = "lister"

    def __init__(
        self,
        settings: ListerSettings,
        chain: Chain,
        metrics: Metrics,
        sender=None,
        series: Mapping[tuple[bytes, int], Any] | None = None,
        windows: Callable[[Any, Template, int, int], list[Window]] | None = None,
    ):
        self.s, self.chain, self.metrics = settings, chain, metrics
        self.manifest = settings.load_manifest()
        self.registry_name = require_templates(self.manifest)
        self.ch = self.manifest.contract(chain.w3, self.registry_name)  # templates, market_of, listing
        self.clearinghouse = self.manifest.contract(chain.w3, "Clearinghouse")
        reg_abi = self.manifest.abi(self.registry_name)
        self.can_claim = any(e.get("name") == "claim_listing_bond" for e in reg_abi)
        self._listed_topic = _event_topic(reg_abi, "MarketListedFromTemplate")
        self.sender = sender or build_sender(settings, chain.w3, metrics, log)
        self.series = dict(series) if series is not None else series_from_manifest(self.manifest, settings.markets)
        self.windows = windows
        self.deployed = deployed_windows(self.manifest)  # windows the deploy listed: never listed again
        self._fields = _template_fields(self.manifest.abi(self.registry_name))
        self.templates: dict[int, Template] = {}
        self.templates_read_at: int | None = None
        # (template, start) -> market id of windows known listed; a listed window stays listed,
        # so each is read once, and entries past their window are dropped
        self.known: dict[tuple[int, int], int] = {}
        self.listed_here: list[tuple[Listing, str | None, int | None]] = []  # (window, tx, block) mined
        self.lost: list[Listing] = []
        self.failed: dict[str, int] = Counter()
        self.last_plan = Plan()
        # bonds this key posted and may claim back once the market settles: market id -> delivery_end
        self.bonds: dict[int, int] = {}
        self.bond_cursor = self.manifest.block  # next block to scan for own listings
        self.bond_next: dict[int, int] = {}  # market id -> chain time of the next settled check
        self.bond_backoff: dict[int, int] = {}
        self.claimed = 0
        self.dry_logged: set[str] = set()  # dry run: each window simulated and logged once, not every block
        self._reasons: set[str] = set()
        self._last_reasons: dict[str, int] = {}
        self.m_listed = metrics.counter("listed_total", "Markets this lister listed (mined)")
        self.m_lost = metrics.counter("lost_race_total", "Windows another lister listed first")
        self.m_missing = metrics.gauge("missing", "Due windows not listed yet")
        self.m_due = metrics.gauge("due", "Windows that should be listed now")
        self.m_skipped = metrics.gauge("skipped", "Windows or templates skipped, by reason", ("reason",))
        self.m_bonds = metrics.gauge("bonds_outstanding", "Listing bonds posted and not claimed back yet")
        self.m_claimed = metrics.counter("bonds_claimed_total", "Listing bonds claimed back (mined)")

    # ------------------------------------------------------------ chain access (one place)
    def _template_count(self) -> int:
        return int(self.ch.functions.template_count().call())

    def _read_templates(self, ids: list[int]) -> list[Template]:
        raw = batch_call(self.chain.w3, [self.ch.functions.template(i) for i in ids])
        return [Template.from_fields(i, _as_fields(r, self._fields)) for i, r in zip(ids, raw, strict=True)]

    def _market_of(self, items: list[Listing]) -> list[int]:
        calls = [self.ch.functions.market_of(x.template_id, x.delivery_start) for x in items]
        out: list[int] = []
        for i in range(0, len(calls), READ_BATCH):
            out += [int(v) for v in batch_call(self.chain.w3, calls[i : i + READ_BATCH])]
        return out

    def _listing_call(self, x: Listing, bond: int):
        return call_of(self.ch.functions.list_from_template(x.template_id, x.delivery_start, x.delivery_end), bond)

    def _own_listings(self, start: int, end: int) -> list[tuple[int, int]]:
        """(market id, delivery_end) of MarketListedFromTemplate logs whose lister is this key."""
        from chain.logs import get_logs

        me = "0x" + "0" * 24 + self.sender.address[2:].lower()
        logs = get_logs(
            self.chain.w3, self.ch.address, [self._listed_topic, None, None, me], start, end, self.s.log_chunk
        )
        out = []
        for lg in logs:
            data = bytes(lg["data"]) if not isinstance(lg["data"], str) else bytes.fromhex(lg["data"][2:])
            out.append((int.from_bytes(bytes(lg["topics"][1]), "big"), int.from_bytes(data[32:64], "big")))
        return out

    def _settled(self, mids: list[int]) -> list[bool]:
        states = batch_call(self.chain.w3, [self.clearinghouse.functions.market_state(m) for m in mids])
        return [bool(st[1]) for st in states]

    def _claim_call(self, mid: int):
        return self.ch.functions.claim_listing_bond(mid)

    def _balance(self) -> int | None:
        return None if self.sender.address is None else int(self.chain.w3.eth.get_balance(self.sender.address))

    # ------------------------------------------------------------ chain reads
    def read_templates(self, block: int, force: bool = False) -> dict[int, Template]:
        n = self._template_count()
        stale = (
            force or self.templates_read_at is None or block - self.templates_read_at >= self.s.template_refresh_blocks
        )
        ids = list(range(1, n + 1)) if stale else [i for i in range(1, n + 1) if i not in self.templates]
        if ids:
            for t in self._read_templates(ids):
                self.templates[t.template_id] = t
            if stale:
                self.templates_read_at = block
        return self.templates

    def read_listed(self, items: list[Listing]) -> None:
        """Fill ``known`` with the market id of each of ``items`` the chain has listed, from a
        template or by the deploy."""
        todo = []
        for x in items:
            if (x.template_id, x.delivery_start) in self.known:
                continue
            t = self.templates.get(x.template_id)
            mid = t and self.deployed.get((t.spec_hash, x.delivery_start, x.delivery_end))
            if mid:
                self.known[(x.template_id, x.delivery_start)] = mid
            else:
                todo.append(x)
        if not todo:
            return
        for x, mid in zip(todo, self._market_of(todo), strict=True):
            if mid:
                self.known[(x.template_id, x.delivery_start)] = mid

    # ------------------------------------------------------------ keeper protocol
    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        t = self.read_templates(head.number, force=True)
        return {
            "templates": len(t),
            "series_known": sum(1 for x in t.values() if x.key in self.series),
            "signer": self.sender.address,
            "dry_run": self.sender.dry,
        }

    def on_reconnect(self, head: Head) -> None:
        self.sender.reset()

    def plan(self, now: int) -> Plan:
        templates = sorted(self.templates.values(), key=lambda t: t.template_id)
        first = plan_listings(
            templates,
            self.series,
            now,
            lambda x: False,
            depth=self.s.depth(),
            min_lead=self.s.min_lead,
            windows=self.windows,
        )
        self.read_listed(first.due)
        return plan_listings(
            templates,
            self.series,
            now,
            lambda x: (
                (x.template_id, x.delivery_start) in self.known
                or self.sender.in_flight(x.key)
                or x.key in self.dry_logged
            ),
            depth=self.s.depth(),
            min_lead=self.s.min_lead,
            windows=self.windows,
        )

    def on_block(self, head: Head) -> dict:
        self._poll(head.number)
        self.read_templates(head.number)
        plan = self.plan(head.timestamp)
        self._forget_past(head.timestamp)
        sent, skipped_now = self._send(plan, head)
        plan.skipped.extend(skipped_now)
        claims = self._claim_bonds(head)
        self.last_plan = plan
        self.m_due.set(len(plan.due))
        self.m_missing.set(len(plan.missing))
        reasons = plan.reasons()
        for r in self._reasons | set(reasons):
            self.m_skipped.labels(r).set(reasons.get(r, 0))
        if reasons != self._last_reasons:  # logged when it changes, not every block
            kv(log, logging.INFO, "skipping", **reasons)
        self._reasons |= set(reasons)
        self._last_reasons = reasons
        for s in skipped_now:
            kv(log, logging.WARNING, "not listed", template_id=s.template_id, start=s.delivery_start, reason=s.reason)
        return {
            "templates": len(self.templates),
            "due": len(plan.due),
            "missing": len(plan.missing),
            "sent": sent,
            "in_flight": len(self.sender.pending),
            "listed_total": len(self.listed_here),
            "lost_race_total": len(self.lost),
            "bonds_outstanding": len(self.bonds),
            "claims_sent": claims,
            "skipped": len(plan.skipped),  # scalars only (silverback datapoints); reasons: last_plan
        }

    # ------------------------------------------------------------ sending
    def _send(self, plan: Plan, head: Head) -> tuple[int, list[Skip]]:
        todo = [x for x in plan.missing if not self.sender.in_flight(x.key)][: self.s.batch_size]
        if not todo:
            return 0, []
        balance = self._balance()
        sent, skipped = 0, []
        for x in todo:
            t = self.templates[x.template_id]
            if balance is not None and balance < t.bond:
                skipped.append(Skip(x.template_id, "lister balance below the bond", x.delivery_start, x.delivery_end))
                continue
            r = self.sender.send(
                x.key,
                self._listing_call(x, t.bond),
                head.number,
                kind="list",
                meta={"kind": "list", "listing": x},
                describe={"template_id": x.template_id, "start": x.delivery_start, "end": x.delivery_end},
            )
            if r.status in ("sent", "dry"):
                sent += 1
                if r.status == "dry":
                    self.dry_logged.add(x.key)
                if balance is not None:
                    balance -= t.bond
            elif r.status == "rejected" and ALREADY_LISTED in (r.reason or ""):
                self._lost(x)
            else:
                self.failed[r.reason or r.status] += 1
                skipped.append(
                    Skip(x.template_id, f"not sent: {r.reason or r.status}", x.delivery_start, x.delivery_end)
                )
        return sent, skipped

    def _claim_bonds(self, head: Head) -> int:
        """Claim back the bond of each own listing whose market has settled (claim_listing_bond:
        only the lister, once). A market not settled yet is looked at again with a doubling
        backoff; own listings are found from MarketListedFromTemplate logs (a block cursor), so
        a restart finds every bond still outstanding."""
        if not self.can_claim or self.sender.address is None or self.sender.dry:
            return 0
        if head.number >= self.bond_cursor:
            for mid, end in self._own_listings(self.bond_cursor, head.number):
                self.bonds.setdefault(mid, end)
            self.bond_cursor = head.number + 1
        now = head.timestamp
        due = [
            m
            for m, end in self.bonds.items()
            if end <= now and self.bond_next.get(m, 0) <= now and not self.sender.in_flight(f"claim:{m}")
        ][: self.s.batch_size]
        sent = 0
        for mid, settled in zip(due, self._settled(due) if due else [], strict=True):
            if not settled:
                b = min(BOND_RECHECK_MAX, 2 * self.bond_backoff.get(mid, BOND_RECHECK_MIN // 2))
                self.bond_backoff[mid], self.bond_next[mid] = b, now + b
                continue
            r = self.sender.send(
                f"claim:{mid}",
                self._claim_call(mid),
                head.number,
                kind="claim_bond",
                meta={"kind": "claim_bond", "market_id": mid},
                describe={"market_id": mid},
            )
            if r.status == "sent":
                sent += 1
            elif r.status == "rejected":  # claimed already (another process with this key) or no bond
                kv(log, logging.INFO, "bond not claimable", market_id=mid, reason=r.reason)
                self.bonds.pop(mid, None)
                self.bond_next.pop(mid, None)
                self.bond_backoff.pop(mid, None)
        self.m_bonds.set(len(self.bonds))
        return sent

    def _lost(self, x: Listing) -> None:
        self.lost.append(x)
        self.m_lost.inc()
        kv(log, logging.INFO, "already listed by another lister", template_id=x.template_id, start=x.delivery_start)

    def _poll(self, block: int) -> None:
        for o in self.sender.poll(block):
            if o.meta.get("kind") == "claim_bond":
                mid = o.meta["market_id"]
                if o.status == "mined":
                    self.bonds.pop(mid, None)
                    self.bond_next.pop(mid, None)
                    self.bond_backoff.pop(mid, None)
                    self.claimed += 1
                    self.m_claimed.inc()
                    kv(log, logging.INFO, "bond claimed", market_id=mid, tx=o.tx_hash)
                continue
            x: Listing | None = o.meta.get("listing")
            if x is None:
                continue
            if o.status == "mined":
                self.listed_here.append((x, o.tx_hash, o.block))
                self.m_listed.inc()
                kv(
                    log,
                    logging.INFO,
                    "listed",
                    template_id=x.template_id,
                    start=x.delivery_start,
                    end=x.delivery_end,
                    tx=o.tx_hash,
                    block=o.block,
                )
            else:
                # reverted (another lister's listing landed first in the same block, or the last
                # trade passed meanwhile) or dropped: market_of is read again next block
                kv(log, logging.WARNING, f"listing {o.status}", template_id=x.template_id, start=x.delivery_start)
                if o.status == "reverted":
                    self.lost.append(x)
                    self.m_lost.inc()

    def _forget_past(self, now: int) -> None:
        # a window that has started is never due again: drop it (memory stays ~ the curve's depth)
        for k in [k for k in self.known if k[1] <= now]:
            del self.known[k]
        self.dry_logged = {k for k in self.dry_logged if int(k.rsplit(":", 1)[1]) > now}

    # ------------------------------------------------------------ --once
    def list_all(self, timeout: float, poll: float = 0.5) -> dict:
        """List everything due, wait for every receipt, re-plan until nothing is missing (or only
        what cannot be listed is). Returns the report; ``complete`` tells whether all due windows
        are listed."""
        deadline = time.monotonic() + timeout
        self.start(self.chain.head())
        rounds = 0
        while True:
            r = self.on_block(self.chain.head())
            rounds += 1
            if self.sender.pending:
                if time.monotonic() >= deadline:
                    break
                time.sleep(poll)
                continue
            # nothing in flight: done when nothing is missing, or when this round could send
            # nothing (every missing window refused: its reason is in the report)
            if r["missing"] == 0 or r["sent"] == 0 or self.sender.dry or time.monotonic() >= deadline:
                break
        plan = self.plan(self.chain.head().timestamp)  # re-read: a lost race shows as listed now
        return {
            "complete": not plan.missing and not self.sender.pending,
            "rounds": rounds,
            "due": len(plan.due),
            "listed": len(self.listed_here),
            "lost_race": len(self.lost),
            "missing": len(plan.missing),
            "skipped": plan.reasons(),
            "not_sent": dict(self.failed),
        }


def require_templates(manifest: Any) -> str:
    """The name of the manifest contract that lists from series templates (``SeriesRegistry``,
    else a ``Clearinghouse`` that does it itself); ConfigError when none does."""
    name = registry_name(manifest.data)
    if name is None:
        raise ConfigError(
            f"CSPREAD_MANIFEST: {manifest.path} has no contract that lists from series templates "
            "(list_from_template, issue 10): redeploy with a current checkout"
        )
    return name


def registry_name(manifest_data: Mapping[str, Any]) -> str | None:
    """Which contract of a manifest holds the templates (``list_from_template``), or None."""
    contracts = manifest_data.get("contracts", {})
    for name in ("SeriesRegistry", "Clearinghouse"):
        abi_ = (contracts.get(name) or {}).get("abi") or []
        if any(e.get("type") == "function" and e.get("name") == "list_from_template" for e in abi_):
            return name
    return None


def _event_topic(abi_: list[dict], name: str) -> str | None:
    from eth_utils import keccak

    for e in abi_:
        if e.get("type") == "event" and e.get("name") == name:
            sig = f"{name}({','.join(i['type'] for i in e['inputs'])})"
            return "0x" + keccak(text=sig).hex()
    return None


def _template_fields(ch_abi: list[dict]) -> list[str]:
    for e in ch_abi:
        if e.get("type") == "function" and e.get("name") == "template":
            (out,) = e["outputs"]
            return [c["name"] for c in out.get("components", [])]
    return []


def _as_fields(raw: Any, names: list[str]) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    return dict(zip(names, raw, strict=True))


def build(settings: ListerSettings, chain: Chain, metrics: Metrics) -> Lister:
    return Lister(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="cspread-lister",
        description="Compute Spread lister: keeps every approved series template listed to its depth",
    )
    add_keeper_args(p)
    p.add_argument("--batch-size", type=int, help="listing txs per block at most [env CSPREAD_BATCH_SIZE]")
    p.add_argument("--markets", help="markets file with series specs, besides the manifest's [env CSPREAD_MARKETS]")
    p.add_argument("--min-lead", type=int, help="s: skip windows whose last trade is nearer [env CSPREAD_MIN_LEAD]")
    a = p.parse_args(argv)
    s = load_settings(
        ListerSettings, keeper_overrides(a, batch_size=a.batch_size, markets=a.markets, min_lead=a.min_lead)
    )
    try:
        require_templates(s.load_manifest())
    except ConfigError as e:
        print(json.dumps({"level": "CRITICAL", "msg": f"invalid keeper configuration: {e}"}), file=sys.stderr)
        return 2
    return main_loop("lister", s, build, once=a.once, run_once=_list_once)


def _list_once(lister: Lister) -> int:
    report = lister.list_all(lister.s.once_timeout)
    kv(log, logging.INFO, "once", **report)
    return 0 if report["complete"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
