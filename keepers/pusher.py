"""Oracle pusher: collect signed reports from the reporters, submit a quorum bundle when a
feed moved more than its deviation threshold or its heartbeat expired (Chainlink's rule).

Plain classes: :func:`bundle` (which rows can be submitted together: identical feed ids and
observed_at, distinct registered signers, valid signatures), :class:`PushPolicy` (should
this bundle go on chain now, given the on-chain feeds). :class:`Pusher` wires them to HTTP
(``GET <reporter>/reports/latest``) and to ``Oracle.submit``.

Every valid row of the chosen group is sent, not just a quorum: the Oracle stores a move
beyond a feed's jump limit only when every registered reporter's row agrees, so with all
reporters up marks follow a real spike at once (with one down they are clamped to the
limit per hour).

Never submitted: fewer than quorum valid rows, an observed_at older than the Oracle's
``max_report_age`` (or the pusher's own ``max_report_lag``), one not newer than a feed's
stored observation, a bundle containing a disputed or final feed, or a settlement feed
before its delivery_end or already written (``submit`` would revert for the whole bundle;
the pusher asks reporters to leave such feeds out with ``?exclude=``, see docs/keepers.md).

    cspread-pusher --manifest deployments/31337.json --reporters http://127.0.0.1:8601,http://127.0.0.1:8602
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import logging
from dataclasses import dataclass, field
from typing import Annotated, Literal

import httpx
from pydantic import field_validator
from pydantic_settings import NoDecode

from chain.rpc import Chain, Head, batch_call
from core import abi, eip712
from core.options import add_shared
from keepers.chain import KeeperSettings, Metrics, build_sender, kv, load_settings, main_loop
from keepers.cli import add_keeper_args, keeper_overrides

log = logging.getLogger("keepers.pusher")


# --------------------------------------------------------------------------- pure logic


@dataclass(frozen=True)
class Row:
    """One reporter's signed report (GET /reports/latest)."""

    source: str
    feed_ids: tuple[str, ...]  # 0x-hex, lower case
    prices: tuple[int, ...]
    observed_at: int
    signer: str
    signature: str

    @classmethod
    def from_json(cls, source: str, d: dict) -> Row:
        return cls(
            source,
            tuple(f.lower() for f in d["feed_ids"]),
            tuple(int(p) for p in d["prices"]),
            int(d["observed_at"]),
            d["signer"],
            d["signature"],
        )


@dataclass(frozen=True)
class Bundle:
    feed_ids: tuple[str, ...]
    observed_at: int
    rows: tuple[Row, ...]

    def medians(self) -> dict[str, int]:
        """The on-chain median per feed (even count: mean of the middle two, truncated to zero)."""
        out = {}
        for j, f in enumerate(self.feed_ids):
            col = sorted(r.prices[j] for r in self.rows)
            n = len(col)
            if n % 2:
                out[f] = col[n // 2]
            else:
                s = col[n // 2 - 1] + col[n // 2]
                out[f] = abs(s) // 2 * (1 if s >= 0 else -1)
        return out


def bundle(rows: list[Row], quorum: int, reporters: set[str], verify=None) -> tuple[Bundle | None, list[str]]:
    """Pick the submittable bundle: rows with identical (feed_ids, observed_at) from distinct
    registered reporters whose signature verifies; the newest such group with >= quorum rows.
    Returns (bundle or None, reasons rows were dropped)."""
    notes: list[str] = []
    reporters = {r.lower() for r in reporters}
    groups: dict[tuple, dict[str, Row]] = {}
    for r in rows:
        if r.signer.lower() not in reporters:
            notes.append(f"{r.source}: signer {r.signer} is not a registered reporter")
            continue
        if verify is not None and not verify(r):
            notes.append(f"{r.source}: signature does not verify")
            continue
        g = groups.setdefault((r.feed_ids, r.observed_at), {})
        g.setdefault(r.signer.lower(), r)  # one row per reporter
    ok = [(k, g) for k, g in groups.items() if len(g) >= quorum]
    if not ok:
        if groups:
            notes.append(
                f"no group of identical feed ids + observed_at reaches quorum {quorum} "
                f"(group sizes {sorted(len(g) for g in groups.values())})"
            )
        return None, notes
    (feeds, obs), g = max(ok, key=lambda kg: (kg[0][1], len(kg[1])))
    chosen = sorted(g.values(), key=lambda r: r.signer.lower())
    return Bundle(feeds, obs, tuple(chosen)), notes


@dataclass(frozen=True)
class FeedState:
    """On-chain feed (Oracle.feed) plus what the pusher knows about its role."""

    price: int
    observed_at: int
    updated_at: int
    disputed: bool
    final: bool
    role: str = "mark"  # mark | settlement
    delivery_end: int = 0  # settlement feeds: a value observed at/after this is the final one
    deviation_bps: int = 50
    heartbeat: int = 1800


@dataclass(frozen=True)
class Decision:
    submit: bool
    reason: str
    triggers: tuple[str, ...] = ()


@dataclass
class PushPolicy:
    max_report_age: int = 3600  # Oracle.max_report_age
    max_report_lag: int = 600  # the pusher's own staleness limit (<= max_report_age is what counts)
    max_future_drift: int = 60

    def decide(self, b: Bundle, feeds: dict[str, FeedState], now: int, require_trigger: bool = True) -> Decision:
        """Whether ``b`` may go on chain now. ``require_trigger=False``: the caller chose the feeds
        by its own rule (:func:`mark_trigger`, piggyback) and only the safety checks apply."""
        lag = now - b.observed_at
        if lag > min(self.max_report_age, self.max_report_lag):
            return Decision(False, f"stale report: observed {lag} s ago")
        if b.observed_at > now + self.max_future_drift:
            return Decision(False, "report from the future")
        med = b.medians()
        triggers = []
        for f in b.feed_ids:
            st = feeds.get(f)
            if st is None:
                return Decision(False, f"feed {f} unknown to this deployment")
            if st.disputed or st.final:
                return Decision(False, f"feed {f} is {'disputed' if st.disputed else 'final'}: submit would revert")
            if b.observed_at <= st.observed_at:
                return Decision(False, f"feed {f} already has observation {st.observed_at} >= {b.observed_at}")
            if st.role == "settlement":
                # the Oracle takes one settlement value, observed and written at or after
                # delivery_end; a written value changes only through dispute / resolve
                if st.observed_at != 0:
                    return Decision(False, f"settlement feed {f} already written: submit would revert")
                if b.observed_at < st.delivery_end or now < st.delivery_end:
                    return Decision(False, f"settlement feed {f} before delivery end: submit would revert")
                triggers.append(f"{f}:first")  # its one value
                continue
            if st.observed_at == 0:
                triggers.append(f"{f}:first")
                continue
            new, old = med[f], st.price
            moved = abs(new - old) * 10_000 > st.deviation_bps * abs(old) if old != 0 else new != 0
            if moved:
                triggers.append(f"{f}:deviation")
            elif now - st.updated_at >= st.heartbeat:
                triggers.append(f"{f}:heartbeat")
        if not triggers and require_trigger:
            return Decision(False, "no feed moved beyond its threshold and no heartbeat expired")
        return Decision(True, "submit", tuple(triggers) or ("selected",))


# --------------------------------------------------------------------------- which marks are needed

#: Oracle.submit takes at most this many feeds (contracts/constants.vy MAX_FEEDS)
MAX_FEEDS_PER_SUBMIT = 32
#: feeds per phase-1 valuation request (66 characters each in the query string)
PHASE1_PAGE = 128

NEED_OI, NEED_CROSSING, NEED_ORDERS, NEED_REQUESTED, NEED_ALL = "oi", "crossing", "orders", "requested", "all"


@dataclass(frozen=True)
class MarketMeta:
    """What the pusher needs of a listed market (``Clearinghouse.market``); feeds 0x hex, lower case."""

    id: int
    mark_feed: str
    settlement_feed: str
    delivery_end: int  # unix s
    last_trade_time: int  # unix s; no new risk after it, but marks stay needed while OI is open
    max_price_age: int  # s; a mark older than this halts the market


@dataclass(frozen=True)
class Resting:
    """A market's open orders at the relay: how many, and the best price per side (None: empty)."""

    orders: int = 0
    best_bid: int | None = None
    best_ask: int | None = None

    @property
    def crossing(self) -> bool:
        """A bid at or above an ask: the matcher is about to send a fill that needs a fresh mark."""
        return self.best_bid is not None and self.best_ask is not None and self.best_bid >= self.best_ask


def resting_from_orders(rows, now: int) -> dict[int, Resting]:
    """Per market, the relay's open, unexpired orders (rows of ``GET /orders?status=open``)."""
    acc: dict[int, list] = {}
    for r in rows:
        o = r["order"]
        if r.get("status", "open") != "open" or int(o["expiry"]) <= now or int(r.get("remaining", 1)) <= 0:
            continue
        mid, price = int(o["market_id"]), int(o["price"])
        n, bid, ask = acc.setdefault(mid, [0, None, None])
        if o["is_buy"]:
            bid = price if bid is None else max(bid, price)
        else:
            ask = price if ask is None else min(ask, price)
        acc[mid] = [n + 1, bid, ask]
    return {m: Resting(n, b, a) for m, (n, b, a) in acc.items()}


def needed_markets(
    markets,
    long_oi: dict[int, int],
    resting: dict[int, Resting],
    requested: set[int],
    now: int,
    mode: str = "needed",
) -> dict[int, str]:
    """Markets whose mark must be kept on chain, with the first reason that applies.

    * open interest (``long_oi > 0``): margin, withdrawals and liquidation read the mark until
      the market settles, trading or not;
    * a crossing pair of relay orders (a fill is about to be sent) or any resting order (it can
      be taken at any block), while the market still trades;
    * a request for a first mark (``POST /marks/requests`` at a reporter), while the market
      still trades and its mark is not fresh: the relay refuses orders on a market without a
      fresh mark, so a market's first order needs one push before it can rest. The caller
      passes only requests for markets whose mark is missing or stale (see :class:`Pusher`).

    Everything else gets no mark. ``mode="all"`` keeps every live market marked (the old rule).
    """
    out: dict[int, str] = {}
    for m in markets:
        trades = now < m.last_trade_time
        r = resting.get(m.id)
        if mode == "all":
            out[m.id] = NEED_ALL
        elif long_oi.get(m.id, 0) > 0:
            out[m.id] = NEED_OI
        elif trades and r is not None and r.crossing:
            out[m.id] = NEED_CROSSING
        elif trades and r is not None and r.orders > 0:
            out[m.id] = NEED_ORDERS
        elif trades and m.id in requested:
            out[m.id] = NEED_REQUESTED
    return out


def honoured_requests(asked, feeds: dict[str, FeedState], now: int, cap: int) -> list[int]:
    """Of the markets someone asked a first mark for (in request order), those whose mark is
    missing, stale or about to be (past its heartbeat) and not disputed/final, at most ``cap``.
    A request for a market whose mark is fresh is ignored, so spamming requests costs the venue
    at most one push per market per heartbeat, and ``cap`` feeds per block."""
    out = []
    for m in asked:
        st = feeds[m.mark_feed]
        if st.disputed or st.final or now >= m.last_trade_time:
            continue
        if st.observed_at == 0 or now - st.observed_at >= st.heartbeat:
            out.append(m.id)
    return out[:cap]


def default_select(manifest_data) -> str:
    """The pusher's market selection when none is configured: "needed" on a deployment that lists
    from series templates (a standing curve of hundreds of markets: pushing every mark every
    heartbeat costs ~20x the needed ones, docs/keepers.md), "all" on one with a fixed market list."""
    from keepers.lister import registry_name

    return "needed" if registry_name(manifest_data) is not None else "all"


def heartbeat_of(max_price_age: int, margin: int, cap: int) -> int:
    """Seconds after an observation at which a mark is re-pushed although it did not move: the
    market's ``max_price_age`` minus a safety margin (time to land a tx through congestion),
    at most ``cap``, at least a tenth of the age (a margin larger than the age is a misconfiguration
    that must not turn into a push every block)."""
    return max(max_price_age // 10, min(cap, max_price_age - margin))


def mark_trigger(st: FeedState, new_price: int, now: int) -> str | None:
    """Chainlink's rule for one mark feed: ``first`` (never written), ``deviation`` (moved more
    than ``st.deviation_bps`` from the stored value), ``heartbeat`` (the stored observation is
    ``st.heartbeat`` s old), else None. Disputed / final feeds are never pushed."""
    if st.disputed or st.final:
        return None
    if st.observed_at == 0:
        return "first"
    old = st.price
    moved = abs(new_price - old) * 10_000 > st.deviation_bps * abs(old) if old != 0 else new_price != 0
    if moved:
        return "deviation"
    # freshness on chain is observed_at + max_price_age >= block time: count from the observation
    if now - st.observed_at >= st.heartbeat:
        return "heartbeat"
    return None


def piggyback(triggered: list[str], due_soon: dict[str, int], size: int = MAX_FEEDS_PER_SUBMIT) -> list[str]:
    """Feeds to add to submits that go out anyway: a submit costs ~61k gas plus ~12k per feed
    (BENCHMARKS.md), so once one is sent, filling its free room with marks that are past half
    their heartbeat (``due_soon``: feed -> age in s) is cheaper than a submit of their own later,
    and it keeps heartbeats aligned (per-feed rules otherwise drift apart and fragment batches).
    Oldest first, never more than the last submit's free room."""
    if not triggered:
        return []
    room = -len(triggered) % size
    extra = sorted((f for f in due_soon if f not in set(triggered)), key=lambda f: -due_soon[f])
    return extra[:room]


def settlement_due(st: FeedState, now: int) -> bool:
    """A settlement feed takes one value, observed and written at or after delivery_end."""
    return st.role == "settlement" and not (st.disputed or st.final) and st.observed_at == 0 and now >= st.delivery_end


def medians_of(rows: list[Row], quorum: int) -> dict[str, int]:
    """Per feed, the median over the rows that carry it, for feeds at least ``quorum`` rows carry
    (rows may cover different feeds: a reporter leaves out what it cannot value)."""
    cols: dict[str, list[int]] = {}
    for r in rows:
        for f, p in zip(r.feed_ids, r.prices, strict=True):
            cols.setdefault(f, []).append(p)
    out = {}
    for f, col in cols.items():
        if len(col) >= quorum:
            b = Bundle((f,), 0, tuple(Row("", (f,), (p,), 0, "", "") for p in col))
            out[f] = b.medians()[f]
    return out


def chunks(feeds: list[str], size: int = MAX_FEEDS_PER_SUBMIT) -> list[list[str]]:
    return [feeds[i : i + size] for i in range(0, len(feeds), size)]


# --------------------------------------------------------------------------- chain wiring


class PusherSettings(KeeperSettings):
    reporters: Annotated[list[str], NoDecode] = []  # reporter service base URLs (comma-separated in env)
    poll_interval: float = 0.5
    deviation_bps: int = 50  # default per feed; 0.5 %
    heartbeat: int = 1800  # seconds; at most the market's max_price_age minus heartbeat_margin
    heartbeat_margin: int = 600  # seconds before a mark would go stale by which it is re-pushed
    max_report_lag: int = 600
    http_timeout: float = 3.0
    verify_signatures: bool = True
    # which markets get marks: "needed" (open interest, relay orders, first-mark requests) or
    # "all" (every live market, the rule before issue 10); unset: "needed" on a deployment that
    # lists from series templates (hundreds of live markets), else "all"; see docs/keepers.md
    select: Literal["needed", "all"] | None = None
    relay_url: str | None = None  # order relay whose open orders make a market's mark needed
    relay_orders_limit: int = 10_000  # GET /orders page size (the relay's maximum)
    max_requested: int = MAX_FEEDS_PER_SUBMIT  # first-mark requests honoured per block (spam bound)
    max_submits: int = 8  # Oracle.submit txs (of <= 32 feeds each) sent per block

    @field_validator("reporters", mode="before")
    @classmethod
    def _split(cls, v):
        if isinstance(v, str):
            v = [u.strip() for u in v.split(",") if u.strip()]
        for u in v:
            if not str(u).startswith(("http://", "https://")):
                raise ValueError(f"reporter URL must be http(s)://, got {u!r}")
        if not v:
            raise ValueError("set at least one reporter URL (CSPREAD_REPORTERS=http://host:port,...)")
        return v

    @field_validator("relay_url")
    @classmethod
    def _relay(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"relay URL must be http(s)://, got {v!r}")
        return v

    @field_validator("deviation_bps", "heartbeat", "max_submits", "relay_orders_limit")
    @classmethod
    def _pos(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be > 0")
        return v

    @field_validator("heartbeat_margin", "max_requested")
    @classmethod
    def _nonneg(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0")
        return v


@dataclass
class Pusher:
    """Each block: which markets need a mark (:func:`needed_markets`), which of their feeds
    moved or near their heartbeat (:func:`mark_trigger`) plus settlement feeds now due, signed
    rows for exactly those feeds from every reporter at the block's time, and one
    ``Oracle.submit`` per <= 32 feeds."""

    s: PusherSettings
    chain: Chain
    metrics: Metrics
    sender: object = None
    http: httpx.Client = None
    name: str = "pusher"
    feeds_meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.manifest = self.s.load_manifest()
        self.oracle = self.manifest.contract(self.chain.w3, "Oracle")
        self.ch = self.manifest.contract(self.chain.w3, "Clearinghouse")
        self.sender = self.sender or build_sender(self.s, self.chain.w3, self.metrics, log)
        self.http = self.http or httpx.Client(timeout=self.s.http_timeout)
        self.pool = cf.ThreadPoolExecutor(max(1, len(self.s.reporters)) + 1)
        self.m_submits = self.metrics.counter("submits_total", "Oracle.submit txs sent")
        self.m_feeds = self.metrics.counter("feeds_pushed_total", "Feeds in Oracle.submit txs sent", ("trigger",))
        self.m_rows = self.metrics.gauge("reporters_answering", "Reporters that returned a report last poll")
        self.m_skip = self.metrics.counter("skipped_total", "Polls that did not submit", ("reason",))
        self.m_age = self.metrics.gauge("oracle_age_seconds", "Chain time minus the oldest needed mark observation")
        self.m_needed = self.metrics.gauge("markets_needing_marks", "Markets whose mark is kept on chain", ("reason",))
        self.m_live = self.metrics.gauge("markets_live", "Listed markets not yet settled")
        self.last_obs_sent = 0
        self.markets: dict[int, MarketMeta] = {}
        self.settled: set[int] = set()
        self.select = self.s.select or default_select(self.manifest.data)

    # ------------------------------------------------------------ lifecycle
    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        self._load_chain_config()
        return {
            "reporters": self.s.reporters,
            "quorum": self.quorum,
            "markets": len(self.markets),
            "feeds": len(self.feeds_meta),
            "select": self.select,
            "signer": self.sender.address,
            "dry_run": self.sender.dry,
        }

    def on_reconnect(self, head: Head) -> None:
        self.sender.reset()
        self.last_obs_sent = 0
        self._load_chain_config()

    def _load_chain_config(self) -> None:
        o = self.oracle.functions
        self.quorum = int(o.quorum().call())
        self.reporter_set = {o.reporters(i).call().lower() for i in range(int(o.reporter_count().call()))}
        self.policy = PushPolicy(
            int(o.max_report_age().call()), self.s.max_report_lag, int(o.max_future_drift().call())
        )
        self.markets, self.settled = {}, set()
        self._sync_markets()  # params may have changed while we were away: re-read every market

    def _sync_markets(self) -> None:
        """Read the Market struct of every id listed since the last call (ids are 1..market_count:
        markets listed from templates by anyone appear here without a manifest change)."""
        count = int(self.ch.functions.market_count().call())
        new = [i for i in range(1, count + 1) if i not in self.markets]
        for ids in (new[i : i + 500] for i in range(0, len(new), 500)):
            for mid, raw in zip(
                ids, batch_call(self.chain.w3, [self.ch.functions.market(i) for i in ids]), strict=True
            ):
                mk = abi.Market.decode(raw)
                self.markets[mid] = MarketMeta(
                    mid,
                    "0x" + bytes(mk.mark_feed).hex(),
                    "0x" + bytes(mk.settlement_feed).hex(),
                    int(mk.delivery_end),
                    int(mk.last_trade_time),
                    int(mk.max_price_age),
                )
        self.feeds_meta = {}
        for m in self.markets.values():
            hb = heartbeat_of(m.max_price_age, self.s.heartbeat_margin, self.s.heartbeat)
            self.feeds_meta[m.mark_feed] = ("mark", 0, hb)
            self.feeds_meta[m.settlement_feed] = ("settlement", m.delivery_end, hb)
        self.by_mark_feed = {m.mark_feed: m.id for m in self.markets.values()}

    # ------------------------------------------------------------ reads
    def _fetch(self, url: str, feed_ids: list[str], observed_at: int) -> Row | None:
        """One reporter's signed row for exactly ``feed_ids`` at ``observed_at`` (a feed the
        reporter cannot value is left out: ``partial``)."""
        try:
            params = {"feed_ids": ",".join(feed_ids), "observed_at": observed_at, "partial": "true"}
            r = self.http.get(url.rstrip("/") + "/reports/latest", params=params)
            if r.status_code != 200:
                kv(log, logging.INFO, "reporter has no report", reporter=url, status=r.status_code, body=r.text[:200])
                return None
            return Row.from_json(url, r.json())
        except (httpx.HTTPError, ValueError, KeyError) as e:
            kv(log, logging.WARNING, "reporter unreachable", reporter=url, error=f"{type(e).__name__}: {e}"[:200])
            return None

    def _requests(self, url: str) -> list[str]:
        """Feeds someone asked this reporter to get a first mark for (``GET /marks/requests``)."""
        try:
            r = self.http.get(url.rstrip("/") + "/marks/requests")
            return [f.lower() for f in r.json()["feed_ids"]] if r.status_code == 200 else []
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return []

    def relay_resting(self, now: int) -> dict[int, Resting]:
        """Open orders per market at the relay (its public ``GET /orders``); {} without a relay.
        An unreachable relay keeps the previous answer, so a relay restart does not let marks of
        markets with resting orders go stale."""
        if not self.s.relay_url:
            return {}
        try:
            r = self.http.get(
                self.s.relay_url.rstrip("/") + "/orders",
                params={"status": "open", "limit": self.s.relay_orders_limit},
            )
            r.raise_for_status()
            rows = r.json()
        except (httpx.HTTPError, ValueError) as e:
            kv(
                log,
                logging.WARNING,
                "relay unreachable",
                relay=self.s.relay_url,
                error=f"{type(e).__name__}: {e}"[:200],
            )
            return getattr(self, "_last_resting", {})
        if len(rows) >= self.s.relay_orders_limit:
            kv(log, logging.WARNING, "relay open orders hit the page limit", limit=self.s.relay_orders_limit)
        self._last_resting = resting_from_orders(rows, now)
        return self._last_resting

    def _verify(self, row: Row) -> bool:
        try:
            return (
                eip712.recover_report_signer(
                    list(row.feed_ids),
                    list(row.prices),
                    row.observed_at,
                    self.manifest.chain_id,
                    self.oracle.address,
                    row.signature,
                ).lower()
                == row.signer.lower()
            )
        except Exception:
            return False

    def onchain_feeds(self, feed_ids) -> dict[str, FeedState]:
        res = batch_call(self.chain.w3, [self.oracle.functions.feed(bytes.fromhex(f[2:])) for f in feed_ids])
        out = {}
        for f, (p, obs, upd, disp, fin) in zip(feed_ids, res, strict=False):
            role, dend, hb = self.feeds_meta.get(f, ("mark", 0, self.s.heartbeat))
            out[f] = FeedState(int(p), int(obs), int(upd), bool(disp), bool(fin), role, dend, self.s.deviation_bps, hb)
        return out

    def needed(self, now: int) -> tuple[dict[int, str], list[MarketMeta]]:
        """(market id -> reason its mark is needed, live markets), from chain and the relay."""
        self._sync_markets()
        live = [m for m in self.markets.values() if m.id not in self.settled]
        states = batch_call(self.chain.w3, [self.ch.functions.market_state(m.id) for m in live])
        long_oi = {}
        for m, raw in zip(live, states, strict=True):
            st = abi.MarketState.decode(raw)
            if st.settled:
                self.settled.add(m.id)  # settled markets leave the scan for good
            else:
                long_oi[m.id] = int(st.long_oi)
        live = [m for m in live if m.id not in self.settled]
        self.m_live.set(len(live))
        if self.select == "all":
            return needed_markets(live, long_oi, {}, set(), now, "all"), live
        resting = self.relay_resting(now)
        asked = []
        for url_feeds in self.pool.map(self._requests, self.s.reporters):
            asked += [self.by_mark_feed[f] for f in url_feeds if f in self.by_mark_feed]
        want = needed_markets(live, long_oi, resting, set(), now)
        # a request counts only for a market with no fresh mark and nothing else keeping it marked,
        # and at most max_requested per block: spamming requests can cost at most one push per
        # market per max_price_age, never a heartbeat stream for markets nobody trades
        asked = [i for i in dict.fromkeys(asked) if i not in self.settled and i not in want]
        if asked:
            fs = self.onchain_feeds([self.markets[i].mark_feed for i in asked])
            ok = honoured_requests([self.markets[i] for i in asked], fs, now, self.s.max_requested)
            want.update(needed_markets([self.markets[i] for i in ok], long_oi, resting, set(ok), now))
        return want, live

    # ------------------------------------------------------------ per block
    def on_block(self, head: Head) -> dict:
        for o in self.sender.poll(head.number):
            kv(
                log,
                logging.INFO if o.status == "mined" else logging.WARNING,
                f"submit {o.status}",
                tx=o.tx_hash,
                block=o.block,
                observed_at=o.meta.get("observed_at"),
            )
        now = head.timestamp
        want, live = self.needed(now)
        for reason in (NEED_OI, NEED_CROSSING, NEED_ORDERS, NEED_REQUESTED, NEED_ALL):
            self.m_needed.labels(reason).set(sum(1 for r in want.values() if r == reason))
        marks = [self.markets[i].mark_feed for i in want]
        # a settlement feed is pushed once, after delivery_end (every listed market settles, OI or
        # not: finalize_settlement returns the lister's bond); before that, or once written, the
        # Oracle would revert the whole bundle (corrections go through dispute / resolve)
        settles = [m.settlement_feed for m in live if now >= m.delivery_end]
        state = self.onchain_feeds(marks + settles)
        written = [state[f].observed_at for f in marks if state[f].observed_at]
        if written:
            self.m_age.set(now - min(written))
        if any(self.sender.in_flight(f"submit:{i}") for i in range(self.s.max_submits)):
            return {"in_flight": True}
        candidates = [f for f in marks if not (state[f].disputed or state[f].final)]
        candidates += [f for f in settles if settlement_due(state[f], now)]
        if not candidates:
            return {"submitted": False, "reason": "no market needs a mark", "needed": 0}
        if now <= self.last_obs_sent:
            return {"submitted": False, "reason": "already sent"}

        # phase 1: every reporter values every candidate at this block's time (in pages, to keep
        # the query string short)
        jobs = [(u, page) for page in chunks(candidates, PHASE1_PAGE) for u in self.s.reporters]
        rows = [r for r in self.pool.map(lambda j: self._fetch(j[0], j[1], now), jobs) if r]
        self.m_rows.set(len(rows))
        rows = [
            r
            for r in rows
            if r.signer.lower() in self.reporter_set
            and r.observed_at == now
            and (not self.s.verify_signatures or self._verify(r))
        ]
        med = medians_of(rows, self.quorum)
        if not med:
            self.m_skip.labels("no_quorum").inc()
            kv(
                log,
                logging.WARNING,
                "no quorum bundle: not submitting",
                rows=len(rows),
                quorum=self.quorum,
                block=head.number,
            )
            return {"rows": len(rows), "submitted": False, "reason": "no quorum", "needed": len(want)}
        triggers: dict[str, str] = {}
        for f in candidates:
            if f not in med:
                continue
            st = state[f]
            t = "settle" if st.role == "settlement" else mark_trigger(st, med[f], now)
            if t:
                triggers[f] = t
        if not triggers:
            reason = "no feed moved beyond its threshold and no heartbeat expired"
            self.m_skip.labels(reason[:40]).inc()
            kv(log, logging.DEBUG, "not submitting", reason=reason, observed_at=now, block=head.number)
            return {"rows": len(rows), "submitted": False, "reason": reason, "needed": len(want)}

        # piggyback: fill the last submit's free room with marks past half their heartbeat
        due_soon = {
            f: now - state[f].observed_at
            for f in candidates
            if f in med
            and f not in triggers
            and state[f].role == "mark"
            and state[f].observed_at
            and 2 * (now - state[f].observed_at) >= state[f].heartbeat
        }
        for f in piggyback(list(triggers), due_soon):
            triggers[f] = "piggyback"
        # phase 2: exactly these feeds, <= 32 per submit, most urgent first
        rank = {"settle": 0, "first": 1, "deviation": 2, "heartbeat": 3, "piggyback": 4}
        order = sorted(triggers, key=lambda f: (rank[triggers[f]], state[f].observed_at))
        sent, results = 0, []
        for i, chunk in enumerate(chunks(order)[: self.s.max_submits]):
            same = [r for r in rows if list(r.feed_ids) == chunk]
            crows = (
                same
                if len(same) >= self.quorum
                else [r for r in self.pool.map(lambda u, c=chunk: self._fetch(u, c, now), self.s.reporters) if r]
            )
            b, notes = bundle(crows, self.quorum, self.reporter_set, self._verify if self.s.verify_signatures else None)
            for n in notes:
                kv(log, logging.WARNING, "row dropped", note=n, block=head.number)
            if b is None:
                self.m_skip.labels("no_quorum").inc()
                kv(log, logging.WARNING, "no quorum bundle: not submitting", rows=len(crows), quorum=self.quorum)
                continue
            d = self.policy.decide(b, state, now, require_trigger=False)
            if not d.submit:
                self.m_skip.labels(d.reason.split(":")[0][:40]).inc()
                kv(log, logging.DEBUG, "not submitting", reason=d.reason, observed_at=b.observed_at, block=head.number)
                continue
            r = self._send(i, b, head.number, [triggers[f] for f in b.feed_ids])
            results.append(r.status)
            if r.status in ("sent", "dry"):
                sent += 1
        if sent:
            self.last_obs_sent = now
        return {
            "rows": len(rows),
            "submitted": results[0] if len(results) == 1 else (sent > 0 and sent),
            "triggers": len(triggers),
            "submits": sent,
            "needed": len(want),
        }

    def _send(self, i: int, b: Bundle, head_number: int, triggers: list[str]):
        fn = self.oracle.functions.submit(
            [bytes.fromhex(f[2:]) for f in b.feed_ids],
            b.observed_at,
            [list(r.prices) for r in b.rows],
            [bytes.fromhex(r.signature[2:]) for r in b.rows],
        )
        r = self.sender.send(
            f"submit:{i}",
            fn,
            head_number,
            kind="submit",
            meta={"observed_at": b.observed_at},
            describe={
                "observed_at": b.observed_at,
                "feeds": len(b.feed_ids),
                "rows": len(b.rows),
                "signers": [x.signer for x in b.rows],
                "triggers": triggers[:10],
            },
        )
        if r.status in ("sent", "dry"):
            self.m_submits.inc()
            for t in triggers:
                self.m_feeds.labels(t).inc()
        return r


def build(settings: PusherSettings, chain: Chain, metrics: Metrics) -> Pusher:
    return Pusher(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cspread-pusher", description="Compute Spread oracle pusher")
    add_keeper_args(p)
    p.add_argument("--reporters", help="comma-separated reporter service URLs")
    p.add_argument("--deviation-bps", type=int)
    p.add_argument("--heartbeat", type=int, help="s; at most each market's max_price_age minus --heartbeat-margin")
    p.add_argument("--heartbeat-margin", type=int, help="s before a mark goes stale by which it is re-pushed")
    p.add_argument(
        "--select",
        choices=["needed", "all"],
        help="needed: marks only for markets with open interest, relay orders or a first-mark request; "
        "all: every live market (default: needed when the deployment lists from series templates, else all)",
    )
    add_shared(p, "--relay-url", helps={"--relay-url": "order relay whose open orders make a market's mark needed"})
    a = p.parse_args(argv)
    s = load_settings(
        PusherSettings,
        keeper_overrides(
            a,
            reporters=a.reporters,
            deviation_bps=a.deviation_bps,
            heartbeat=a.heartbeat,
            heartbeat_margin=a.heartbeat_margin,
            select=a.select,
            relay_url=a.relay_url,
        ),
    )
    return main_loop("pusher", s, build, once=a.once)


if __name__ == "__main__":
    raise SystemExit(main())
